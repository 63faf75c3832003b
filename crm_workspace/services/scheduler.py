"""The plugins' periodic work (``crm_tick``): run once by ``crm tick``, every few seconds by ``crm serve``.

``run_ticks(workspace)`` calls each enabled plugin's ``crm_tick`` with
``workspace.as_system(plugin)`` and the time to treat as now; one plugin's failure is
recorded (``workspace.plugin_errors()``, its ``TickResult``) and the others still run.
Two runs over one database never overlap, in one process or across several (``crm
serve`` and a cron job's ``crm tick``): a run holds an exclusive lock on
``<db>.tick-lock``, and a run that finds it held is skipped (``TickRun.skipped``).

After the plugins, a full run does the core's own periodic work as ``system:core`` (listed
as the plugin ``core``): the mail outbox's retention (``outbox.prune``), at most once an
hour of tick time per workspace file and process.

``Ticker`` is ``crm serve``'s background thread: its own Workspace (and so its own
SQLite connection), a run every ``tick_seconds`` (a setting, read before each wait).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_workspace import plugins as plugin_system
from crm_workspace.core_rules import DEFAULT_TICK_SECONDS, check_tick_seconds
from crm_workspace.errors import CrmError

try:
    import fcntl
except ImportError:  # Windows: ticks still never overlap within one process
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

HOOK = "crm_tick"
_process_lock = threading.Lock()

#: The name the core's own periodic work runs and is reported under.
CORE = "core"
#: Seconds of tick time between two runs of the core's housekeeping (a scan of the outbox).
HOUSEKEEPING_EVERY_S = 3600
_housekept: dict[str, datetime] = {}


@dataclass(frozen=True)
class TickResult:
    """One plugin's tick: ``ok`` or the ``error`` it raised, and how long it took."""

    plugin: str
    ok: bool
    seconds: float
    error: str = ""
    #: what the tick raised (for a log's traceback), or None
    exception: BaseException | None = field(default=None, compare=False, repr=False)


class TickRun(list):
    """The ``TickResult`` of every plugin that ran; ``skipped`` when another run held the lock."""

    skipped: bool = False
    now: str = ""


def tick_time(now: str | None = None) -> str:
    """``now`` (default ``$CRM_NOW``, else the clock) as the Store's ISO-8601 UTC text.

    A test moves time by passing ``now`` (``crm tick --now 2026-12-01T09:00``);
    text that is no ISO time is a ``CrmError``.
    """
    text = now if now is not None else os.environ.get("CRM_NOW") or ""
    if not str(text).strip():
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise CrmError(f"not an ISO time for now: {text!r} (e.g. 2026-12-01T09:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def exclusive(db_path: str) -> Iterator[bool]:
    """Yields True while this caller alone runs ticks on ``db_path`` (False: another run holds them)."""
    if not _process_lock.acquire(blocking=False):
        yield False
        return
    try:
        if fcntl is None:
            yield True
            return
        fd = os.open(f"{Path(db_path).resolve()}.tick-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing releases the lock
    finally:
        _process_lock.release()


def run_ticks(workspace: Any, now: str | None = None, *, plugins: list[str] | None = None) -> TickRun:
    """Run every enabled plugin's ``crm_tick`` once (or only ``plugins``), each as ``system:<plugin>``.

    Plugins an admin disabled since ``workspace`` opened are skipped. Returns one
    ``TickResult`` per plugin, in registration order; an empty, ``skipped`` run when
    another run (another thread, ``crm serve``, a cron job) is under way.
    """
    run = TickRun()
    run.now = tick_time(now)
    names = workspace.implementers(HOOK)
    if plugins is not None:
        unknown = sorted(set(plugins) - set(names) - {CORE})
        if unknown:
            raise CrmError(
                f"no enabled plugin named {', '.join(unknown)} has a tick (ticking: {', '.join([*names, CORE])})"
            )
        names = [name for name in names if name in plugins]
    disabled = plugin_system.disabled_plugins(workspace.store)
    with exclusive(workspace.path) as alone:
        if not alone:
            run.skipped = True
            return run
        for name in names:
            if name in disabled:
                continue
            started = time.perf_counter()
            system = workspace.as_system(name)
            try:
                system.call_plugin(name, HOOK, workspace=system, now=run.now)
            except Exception as error:
                cause = getattr(error, "error", error)
                message = f"{type(cause).__name__}: {cause}"
                run.append(TickResult(name, False, time.perf_counter() - started, message, cause))
            else:
                run.append(TickResult(name, True, time.perf_counter() - started))
        if plugins is None or CORE in plugins:
            _housekeeping(workspace, run, forced=plugins is not None)
    return run


def _housekeeping(workspace: Any, run: TickRun, *, forced: bool) -> None:
    """The core's periodic work: the outbox's retention (about hourly, or whenever asked by name)."""
    from crm_workspace.services import outbox

    moment = datetime.fromisoformat(run.now.replace("Z", "+00:00"))
    key = str(Path(workspace.path).resolve()) if workspace.path else str(id(workspace))
    last = _housekept.get(key)
    if not forced and last is not None and last <= moment and (moment - last).total_seconds() < HOUSEKEEPING_EVERY_S:
        return
    _housekept[key] = moment
    started = time.perf_counter()
    try:
        outbox.prune(workspace.as_system(CORE), now=run.now)
    except Exception as error:
        run.append(TickResult(CORE, False, time.perf_counter() - started, f"{type(error).__name__}: {error}", error))
    else:
        run.append(TickResult(CORE, True, time.perf_counter() - started))


def tick_seconds(workspace: Any) -> int:
    """The ``tick_seconds`` setting, or its default when unset or unreadable."""
    try:
        return check_tick_seconds(workspace.setting("tick_seconds", DEFAULT_TICK_SECONDS))
    except (ValueError, CrmError):
        return DEFAULT_TICK_SECONDS


class Ticker:
    """``crm serve``'s scheduler: a daemon thread running ``run_ticks`` every ``tick_seconds``.

    It opens its own Workspace on ``path`` (its own connection, acting as ``user``
    and as each plugin's system actor for the ticks), or the one ``opener()``
    returns (tests); ``stop()`` ends it.
    """

    def __init__(
        self,
        path: str,
        user: str | None = None,
        *,
        first_delay: float = 1.0,
        opener: Callable[[], Any] | None = None,
    ):
        self.path = path
        self.user = user
        self.first_delay = first_delay
        self.opener = opener
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crm-ticks", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 10) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        from crm_workspace.workspace import Workspace

        try:
            workspace = self.opener() if self.opener else Workspace.open(self.path, user=self.user, create=False)
        except Exception:
            log.exception("the scheduler could not open %s: no ticks", self.path)
            return
        delay = self.first_delay
        try:
            while not self._stop.wait(delay):
                try:
                    run = run_ticks(workspace)
                except Exception:
                    log.exception("a tick run failed")
                else:
                    self.runs += 1
                    for result in run:
                        if not result.ok:
                            log.warning("tick of %s failed: %s", result.plugin, result.error, exc_info=result.exception)
                delay = tick_seconds(workspace)
        finally:
            workspace.close()
