"""Large demo generation: `crm init --demo --contacts 1000000` wall time and peak memory.

Baseline: writing the same number of contact rows with a bare sqlite3
executemany (no generator, no other tables), measured in the same run.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

CONTACTS = int(os.environ.get("BENCH_DEMO_CONTACTS", "1000000"))
CRM = str(Path(sys.executable).with_name("crm"))


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "big.db"
        start = time.perf_counter()
        subprocess.run(
            [CRM, "--db", str(db), "init", "--demo", "--contacts", str(CONTACTS), "--deals", str(CONTACTS // 5)],
            check=True,
            capture_output=True,
        )
        ours = time.perf_counter() - start
        peak = children_peak_mb()
        with sqlite3.connect(db) as conn:
            counts = {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("contacts", "deals", "activities", "lifecycle_events")
            }
        raw = Path(tmp) / "raw.db"
        conn = sqlite3.connect(raw, isolation_level=None)
        conn.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT)")
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?, ?)",
            ((i, "Ana", "García", f"a{i}@x.example") for i in range(CONTACTS)),
        )
        conn.execute("COMMIT")
        baseline = time.perf_counter() - start
        conn.close()
    print(f"  rows: {counts}; peak memory of crm init: {peak:.0f} MB")
    report(f"demo_{CONTACTS // 1000}k", ours, baseline, "bare executemany of the contacts alone")


if __name__ == "__main__":
    main()
