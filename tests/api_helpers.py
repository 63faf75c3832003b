"""Helpers of the API tests: the `crm` command line, tokens, a tiny HTTP client, the error shape."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

PY = sys.executable
RESOURCES = ("contacts", "organizations", "deals", "activities")


def crm(db: Path, *args: str, user: str = "ana") -> subprocess.CompletedProcess:
    env = {**os.environ, "CRM_USER": user}
    return subprocess.run(
        [PY, "-m", "crm_workspace", "--db", str(db), *args], capture_output=True, text=True, env=env, timeout=120
    )


def add_token(db: Path, name: str, role: str, *extra: str) -> str:
    done = crm(db, "tokens", "add", name, "--role", role, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]  # the contract: the token is the last line


class Api:
    """A tiny HTTP client: ``call(method, path, token, body)`` -> (status, headers, parsed JSON or text)."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method, path, token=None, body=None, *, raw=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return response.status, response.headers, parsed  # headers: case-insensitive


def error_of(answer) -> dict:
    status, _headers, body = answer
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    return body["error"]
