"""Retention's hourly no-op: pruning ledgers whose rows are all to be kept, with and without its indexes.

The ledgers hold N kept rows each: the mail outbox half recent mail (with its text) and half
old campaign mail already emptied by an earlier prune (its row stays, what records count);
the webhook deliveries recent ones. Ours: ``outbox.prune`` and the automation plugin's
``prune`` (deliveries, events) with the retention indexes; baseline: the same wheres through
the primary-key walk on the same file after dropping those indexes (the prunes before them).
Also printed: ``prune_runs`` over N rule runs, half recent, half old but each the latest of
its rule on its record (kept, so read by every run: the cost that stays). Default N 20,000;
``--size 100000`` for the real figure.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import fmt_seconds, report, timeit

from crm_workspace.testing import make_workspace

NOW = "2026-11-30T09:00:00Z"
RECENT, OLD = "2026-11-20T09:00:00Z", "2026-05-01T09:00:00Z"
BODY = "Subject: news\r\n\r\n" + "A line of the newsletter, as sent to the person.\r\n" * 30
PAYLOAD = '{"event": "contacts.updated", "data": {"record": {"id": ID, ' + '"field": "a value", ' * 40 + '"x": 1}}}'
#: The indexes retention's scans use (the migrations that add them name them so).
INDEXES = ("idx_mail_outbox_removable", "idx_mail_outbox_emptiable", "idx_webhook_deliveries_finished")


def fill(ws, size: int) -> None:
    store = ws.store
    half = size // 2
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO mail_outbox (key, plugin, ref_table, ref_id, recipient, subject, message, status,"
            " attempts, queued_at, attempted_at, sent_at) VALUES (?, 'marketing', ?, ?, ?, 'news', ?, 'sent', 1,"
            " ?, ?, ?)",
            [
                (
                    f"k{i}",
                    "campaigns" if i % 2 else "",
                    str(i % 50),
                    f"p{i}@example.com",
                    BODY if i < half else None,
                    *((RECENT,) * 3 if i < half else (OLD,) * 3),
                )
                for i in range(size)
            ],
        )
        # only old campaign rows may lose their text: old rows without a record are gone already
        store.conn.execute("UPDATE mail_outbox SET ref_table = 'campaigns' WHERE message IS NULL")
        store.conn.executemany(
            "INSERT INTO webhook_deliveries (event_id, subscription_id, event, payload, status, attempts,"
            " created_at, delivered_at) VALUES (?, 1, 'contacts.updated', ?, 'delivered', 1, ?, ?)",
            [(f"e{i}", PAYLOAD.replace("ID", str(i)), RECENT, RECENT) for i in range(size)],
        )
        store.conn.executemany(
            "INSERT INTO workflow_rules (id, name, table_name, trigger) VALUES (?, ?, 'contacts', 'time')",
            [(rule, f"rule {rule}") for rule in range(1, 6)],
        )
        store.conn.executemany(
            "INSERT INTO rule_runs (rule_id, at, table_name, record_id, trigger, status, detail)"
            " VALUES (?, ?, 'contacts', ?, 'time', 'ok', 'create_task: done')",
            [(1 + i % 5, OLD if i < half else RECENT, str(i)) for i in range(size)],
        )
        store.conn.execute("ANALYZE")


def main(size: int) -> None:
    from crm_workspace_automation import retention as automation_retention

    from crm_workspace.data import retention
    from crm_workspace.services import outbox

    with tempfile.TemporaryDirectory() as folder:
        ws = make_workspace(Path(folder) / "crm.db")
        fill(ws, size)
        store = ws.store

        def ours() -> None:
            assert outbox.prune(ws, now=NOW) == {"removed": 0, "emptied": 0}
            assert automation_retention.prune(ws, now=NOW) == {"deliveries": 0, "events": 0}

        def before(cutoff: str = "2026-09-01T09:00:00Z") -> None:  # the same prunes as they ran before the indexes
            assert retention.prune(store, "mail_outbox", outbox.REMOVED, [cutoff]) == 0
            assert retention.blank(store, "mail_outbox", ["message"], outbox.EMPTIED, [cutoff]) == 0
            assert retention.prune(store, "webhook_deliveries", automation_retention.DELIVERIES_DONE, [cutoff]) == 0

        mail = timeit(lambda: outbox.prune(ws, now=NOW), repeat=5)["p50"]
        runs = timeit(lambda: automation_retention.prune_runs(ws, now=NOW), repeat=5)["p50"]
        indexed = timeit(ours, repeat=5)["p50"]
        with store.transaction():
            for name in INDEXES:
                store.conn.execute(f"DROP INDEX {name}")
        baseline = timeit(before, repeat=5)["p50"]
        ws.close()
    print(f"no-op prune, {size:,} kept rows per ledger: outbox alone {fmt_seconds(mail)}")
    print(f"rule runs ({size // 2:,} of them old, each its record's latest, read once): {fmt_seconds(runs)}")
    report(f"retention_noop_{size}", indexed, baseline, "the same prunes without the indexes (the scans before)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000)
    main(parser.parse_args().size)
