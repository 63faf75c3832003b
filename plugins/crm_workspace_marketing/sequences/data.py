"""The sequence data views (``ws.df("sequences.…")``) and the numbers the page shows."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from crm_workspace.data.store import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from crm_workspace import Workspace

ENROLLMENT_SQL = """
SELECT e.id, s.name AS sequence, e.contact_id,
  trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS contact,
  e.current_step, e.status, e.next_run_at, e.exit_reason, e.attempts, e.last_error, e.enrolled_at, e.updated_at
FROM sequence_enrollments e JOIN sequences s ON s.id = e.sequence_id LEFT JOIN contacts c ON c.id = e.contact_id
"""
RUN_SQL = """
SELECT r.id, r.at, s.name AS sequence, r.enrollment_id, r.contact_id, r.step, r.action, r.outcome, r.detail,
  r.outbox_id, o.status AS mail_status
FROM sequence_runs r LEFT JOIN sequences s ON s.id = r.sequence_id LEFT JOIN mail_outbox o ON o.id = r.outbox_id
"""


def enrollments(workspace: Workspace, sequence: str | None = None, status: str | None = None) -> list[dict]:
    where, params = [], []
    if sequence:
        where.append("s.name = ? COLLATE NOCASE")
        params.append(sequence)
    if status:
        where.append("e.status = ?")
        params.append(status)
    sql = ENROLLMENT_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.id"
    return workspace.query(sql, params)


def runs(workspace: Workspace, *, failures_only: bool = False, limit: int = 200) -> list[dict]:
    sql = RUN_SQL + (" WHERE r.outcome = 'failed'" if failures_only else "") + " ORDER BY r.id DESC LIMIT ?"
    return workspace.query(sql, [int(limit)])


def health(workspace: Workspace, now: str | None = None) -> dict[str, Any]:
    """Backlog (due now), steps done in the last hour, the last run, failures, the e-mail still queued."""
    from .runner import PLUGIN, iso, parse

    now = now or utcnow()
    hour_ago = iso(parse(now) - timedelta(hours=1))
    q = workspace.store.scalar
    return {
        "due_now": q("SELECT count(*) FROM sequence_enrollments WHERE status = 'active' AND next_run_at <= ?", [now]),
        "active": q("SELECT count(*) FROM sequence_enrollments WHERE status = 'active'"),
        "steps_last_hour": q("SELECT count(*) FROM sequence_runs WHERE at >= ? AND outcome = 'ok'", [hour_ago]),
        "last_run": q("SELECT max(at) FROM sequence_runs"),
        "failures": q("SELECT count(*) FROM sequence_runs WHERE outcome = 'failed'"),
        "mail_queued": q("SELECT count(*) FROM mail_outbox WHERE plugin = ? AND status = 'queued'", [PLUGIN]),
        "mail_failed": q("SELECT count(*) FROM mail_outbox WHERE plugin = ? AND status = 'failed'", [PLUGIN]),
    }


def data_views(workspace: Workspace) -> dict:
    import pandas as pd

    from .model import LIST_COLUMNS, get_sequence, list_sequences, step_counts

    def sequence_list() -> pd.DataFrame:
        """Every sequence: trigger, steps, people active / completed / exited / failed, next due."""
        return pd.DataFrame(list_sequences(workspace), columns=LIST_COLUMNS)

    def enrollment_frame(sequence: str | None = None, status: str | None = None) -> pd.DataFrame:
        """Who is in which sequence, at which step, due when, and why they left."""
        frame = pd.DataFrame(enrollments(workspace, sequence, status))
        frame.attrs["sql"] = ENROLLMENT_SQL
        return frame

    def run_frame(failures_only: bool = False, limit: int = 1000) -> pd.DataFrame:
        """The ledger, newest first: every step, e-mail, retry and exit with its outcome and reason."""
        frame = pd.DataFrame(runs(workspace, failures_only=failures_only, limit=limit))
        frame.attrs["sql"] = RUN_SQL
        return frame

    def steps(name: str) -> pd.DataFrame:
        """One sequence's steps: who is waiting at each, due now, next due, done and failed runs."""
        return pd.DataFrame(step_counts(workspace, get_sequence(workspace, name)["id"]))

    return {
        "sequences.list": sequence_list,
        "sequences.enrollments": enrollment_frame,
        "sequences.runs": run_frame,
        "sequences.steps": steps,
    }
