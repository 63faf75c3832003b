"""Cold start: `crm serve` to first HTTP 200, and Workspace.open() + first .df() in a fresh Python.

Baseline for both: `import panel` alone in a fresh Python, measured in the same run.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import report

PY = sys.executable
CRM = str(Path(PY).with_name("crm"))


def fresh_python(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([PY, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def serve_to_200(db: Path) -> float:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [CRM, "--db", str(db), "serve", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = start + 120
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("crm serve did not answer")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crm.db"
        subprocess.run([CRM, "--db", str(db), "init", "--demo"], check=True, capture_output=True)
        panel = statistics.median(fresh_python("import panel") for _ in range(3))
        open_df = statistics.median(
            fresh_python(f"from crm_workspace import Workspace; Workspace.open({str(db)!r}).df('contacts', limit=10)")
            for _ in range(3)
        )
        serve = statistics.median(serve_to_200(db) for _ in range(3))
        cli_help = statistics.median(
            fresh_python("from crm_workspace.cli import cli; cli(['--help'], standalone_mode=False)") for _ in range(3)
        )
    report("workspace_open_first_df", open_df, panel, "import panel")
    report("serve_first_200", serve, panel, "import panel")
    report("cli_help", cli_help, panel, "import panel")


if __name__ == "__main__":
    main()
