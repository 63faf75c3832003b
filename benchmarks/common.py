"""Shared benchmark helpers: cached large workspaces, timing, one report format.

Every benchmark prints ``bench NAME: OURS vs BASELINE = Rx`` where both sides
were measured in the same run (the machines are shared and noisy: ratios hold,
absolute times drift).
"""

from __future__ import annotations

import fcntl
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".data"
sys.path.insert(0, str(ROOT))


def large_workspace_path(contacts: int, **sizes: int) -> Path:
    """A demo workspace of the given size, built once and cached in benchmarks/.data.

    Built with the demo generator (``crm init --demo --contacts N ...``); safe when
    several benchmarks ask for the same size at once (a file lock).
    """
    from crm_workspace import Workspace
    from crm_workspace.services.demo import DemoSize, generate

    DATA.mkdir(parents=True, exist_ok=True)
    tag = "-".join([f"c{contacts}", *(f"{k[0]}{v}" for k, v in sorted(sizes.items()))])
    path = DATA / f"demo-{tag}.db"
    with (DATA / f"{tag}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = path.with_suffix(".partial")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{partial}{suffix}").unlink(missing_ok=True)
            ws = Workspace.open(partial, user="bench", builtins_only=True)
            generate(ws, DemoSize.for_contacts(contacts, **sizes), seed=7)
            with ws.store.transaction():  # maintenance writes go through the Store's write path too
                ws.store.conn.execute("ANALYZE")
            ws.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            ws.close()
            os.replace(partial, path)
    return path


def timeit(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> dict[str, float]:
    """Wall time of ``fn``: p50, p95, min over ``repeat`` runs (after ``warmup``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "min": times[0],
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fmt_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(name: str, ours: float, baseline: float, baseline_name: str, *, goal: str = "") -> float:
    """Print the one line every benchmark prints; returns baseline/ours (higher is better for us)."""
    ratio = baseline / ours if ours else float("inf")
    suffix = f"  [{goal}]" if goal else ""
    slower = f" ({1 / ratio:.1f}x slower)" if ratio < 1 else ""
    print(
        f"bench {name}: {fmt_seconds(ours)} vs {baseline_name} {fmt_seconds(baseline)} = {ratio:.2f}x{slower}{suffix}",
        flush=True,
    )
    return ratio
