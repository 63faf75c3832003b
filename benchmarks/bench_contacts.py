"""Contacts module benchmarks (issue 4).

1. Search as you type at 1M contacts (ranked, first 50) vs ``LIKE '%term%'`` on the same
   table, for a rare and a common term.
2. First page of the contact list sorted by last name: 1k vs 1M contacts.
3. Opening a contact record page (model + Panel render) with 500 activities vs the bare
   SQL fetch of those activities.

The 1M workspace is the shared cached demo DB, copied once (the FTS migration then
indexes it with FTS5 'rebuild') to benchmarks/.data/contacts-fts-*.db.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, fmt_seconds, large_workspace_path, report, timeit


def prepared(contacts: int, **sizes: int) -> Path:
    """A private, migrated copy of the cached demo DB (the FTS index built once)."""
    source = large_workspace_path(contacts, **sizes)
    target = DATA / f"contacts-fts-c{contacts}.db"
    if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
        from crm_workspace import Workspace

        partial = target.with_suffix(".partial")
        shutil.copy(source, partial)
        start = time.perf_counter()
        ws = Workspace.open(partial, user="bench", builtins_only=True)
        ws.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ws.close()
        print(f"  (migrated a copy of {source.name}, FTS rebuild included: {fmt_seconds(time.perf_counter() - start)})")
        partial.replace(target)
    return target


def bench_search() -> None:
    from crm_workspace_contacts.search import search_contacts

    from crm_workspace import Workspace

    ws = Workspace.open(prepared(1_000_000, deals=1000, activities=100000, relationships=1000), user="bench")
    like = (
        "SELECT c.id FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
        " WHERE c.first_name LIKE :t OR c.last_name LIKE :t OR c.email LIKE :t OR c.phone LIKE :t"
        " OR c.title LIKE :t OR c.notes LIKE :t OR o.name LIKE :t LIMIT 50"
    )
    for label, term in (("rare", "987654"), ("common", "jose")):
        hits = len(search_contacts(ws.store, term, 50))
        matches = ws.store.scalar("SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH ?", [f'"{term}"*'])
        ours = timeit(lambda t=term: search_contacts(ws.store, t, 50), repeat=15)
        base = timeit(lambda t=term: ws.store.query(like, {"t": f"%{t}%"}), repeat=2, warmup=0)
        print(f"  search '{term}': {matches:,} matching rows, {hits} returned; p95 {fmt_seconds(ours['p95'])}")
        report(
            f"contacts search 1M {label} term (p50)",
            ours["p50"],
            base["p50"],
            "LIKE '%term%'",
            goal="p50 < 20 ms; rare term >= 50x",
        )
    ws.close()


def bench_first_page() -> None:
    from crm_workspace_contacts import model

    from crm_workspace import Workspace

    small = Workspace.open(prepared(1000), user="bench")
    large = Workspace.open(prepared(1_000_000, deals=1000, activities=100000, relationships=1000), user="bench")

    def page(ws):
        return model.list_contacts(ws, sort="last_name"), model.count_contacts(ws)

    a = timeit(lambda: page(small), repeat=15)
    b = timeit(lambda: page(large), repeat=15)
    report("contacts first page by last name, 1M", b["p50"], a["p50"], "1k contacts", goal="within 2x (ratio >= 0.5)")
    small.close()
    large.close()


def bench_record_page() -> None:
    import panel as pn
    from crm_workspace_contacts.views import ContactRecord

    from crm_workspace import Workspace

    path = DATA / "contacts-record-500.db"
    shutil.copy(prepared(1000), path)
    ws = Workspace.open(path, user="bench")
    cid = 1
    ws.store.insert_many(
        "activities",
        (
            {
                "kind": ("call", "email", "meeting", "note")[i % 4],
                "subject": f"Touchpoint {i}",
                "body": "<b>notes</b>",
                "channel": "phone",
                "contact_id": cid,
                "occurred_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
                "owner": "ana",
            }
            for i in range(500 - ws.store.scalar("SELECT count(*) FROM activities WHERE contact_id = ?", [cid]))
        ),
        audit=False,
        events=False,
    )

    few = ws.store.scalar(
        "SELECT c.id FROM contacts c LEFT JOIN activities a ON a.contact_id = c.id"
        " GROUP BY c.id HAVING count(a.id) BETWEEN 1 AND 5 LIMIT 1"
    )

    def open_record(record_id):
        pn.panel(ContactRecord(workspace=ws, record_id=record_id)).get_root()

    ours = timeit(lambda: open_record(cid), repeat=5)
    base = timeit(lambda: open_record(few), repeat=5)
    report(
        "contacts record page (model + Panel render), 500 activities",
        ours["p50"],
        base["p50"],
        "same page, <= 5 activities",
        goal="cost independent of history length",
    )
    ws.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    bench_search()
    bench_first_page()
    bench_record_page()
