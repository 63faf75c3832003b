"""Signed tokens (crm_workspace.services.signing): round trip, tampering, expiry, purpose, the secret file."""

from __future__ import annotations

import os
import stat

import pytest

from crm_workspace.errors import CrmError, PermissionDenied, ValidationError
from crm_workspace.services import signing
from crm_workspace.services.signing import BadSignature, public_url, sign, unsign
from crm_workspace.testing import make_workspace
from crm_workspace.web import auth


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path / "crm.db", builtins=False)
    yield workspace
    workspace.close()


def test_a_token_carries_its_data_back_and_is_url_safe(ws):
    data = {"contact": 12, "campaign": "Spring ✿", "list": [1, 2]}
    token = sign(ws, "unsubscribe", data)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert unsign(ws, "unsubscribe", token) == data


@pytest.mark.parametrize("change", ["body", "mac", "swap"])
def test_a_tampered_token_is_refused(ws, change):
    token = sign(ws, "unsubscribe", {"contact": 12})
    other = sign(ws, "unsubscribe", {"contact": 13})
    body, mac = token.split(".")
    forged = {
        "body": signing._b64(b'[{"contact":13},1,null]') + "." + mac,
        "mac": body + "." + ("A" if mac[0] != "A" else "B") + mac[1:],
        "swap": other.split(".")[0] + "." + mac,
    }[change]
    with pytest.raises(BadSignature) as error:
        unsign(ws, "unsubscribe", forged)
    assert isinstance(error.value, CrmError) and error.value.reason == "invalid"


@pytest.mark.parametrize("token", ["", "nodot", "a.b.c", "%%%.%%%", "x" * 9000 + ".y", "é.é"])
def test_garbage_is_refused_without_an_unexpected_error(ws, token):
    with pytest.raises(BadSignature):
        unsign(ws, "unsubscribe", token)


def test_a_token_for_another_purpose_is_refused(ws):
    token = sign(ws, "unsubscribe", {"contact": 12})
    with pytest.raises(BadSignature, match="changed, or made for something else"):
        unsign(ws, "confirm-subscription", token)


def test_a_token_expires_after_its_max_age(ws):
    token = sign(ws, "confirm", {"id": 1}, max_age=60, now=1_000_000)
    assert unsign(ws, "confirm", token, now=1_000_059) == {"id": 1}
    with pytest.raises(BadSignature, match="expired") as error:
        unsign(ws, "confirm", token, now=1_000_061)
    assert error.value.reason == "expired"
    lasting = sign(ws, "confirm", {"id": 1}, now=1_000_000)
    assert unsign(ws, "confirm", lasting, now=9_000_000) == {"id": 1}
    with pytest.raises(BadSignature, match="expired"):  # the reader's own limit
        unsign(ws, "confirm", lasting, max_age=3600, now=1_003_601)


def test_another_workspaces_token_is_refused(ws, tmp_path):
    other = make_workspace(tmp_path / "other.db", builtins=False)
    try:
        with pytest.raises(BadSignature):
            unsign(other, "unsubscribe", sign(ws, "unsubscribe", {"contact": 1}))
    finally:
        other.close()


def test_bad_arguments_are_clear_errors(ws):
    with pytest.raises(CrmError, match="purpose"):
        sign(ws, "", {})
    with pytest.raises(CrmError, match="dict"):
        sign(ws, "x", [1])  # type: ignore[arg-type]
    with pytest.raises(CrmError, match="JSON"):
        sign(ws, "x", {"when": object()})
    with pytest.raises(CrmError, match="max_age"):
        sign(ws, "x", {}, max_age=0)


def test_the_secret_lives_beside_the_database_not_in_it(ws, tmp_path):
    sign(ws, "x", {})
    secret_file = tmp_path / "crm.db.signing-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text()
    assert len(secret) >= 32
    assert not ws.store.query("SELECT 1 FROM settings WHERE value LIKE ?", [f"%{secret}%"])
    # the served app's cookie secret is kept the same way, in its own file, unchanged across calls
    cookie = auth.cookie_secret(ws.path)
    assert cookie == auth.cookie_secret(ws.path) != secret
    assert stat.S_IMODE((tmp_path / "crm.db.cookie-secret").stat().st_mode) == 0o600
    # a file too short to be a secret is replaced
    short = tmp_path / "short.db.cookie-secret"
    short.write_text("abc")
    assert len(auth.cookie_secret(tmp_path / "short.db")) >= 32 and len(short.read_text()) >= 32
    # deleting the file revokes every token
    token = sign(ws, "x", {"a": 1})
    os.remove(secret_file)
    signing.forget_keys()  # a running server notices within a second
    with pytest.raises(BadSignature):
        unsign(ws, "x", token)


def test_public_url_joins_the_setting_and_is_admin_only(ws):
    assert public_url(ws, "/t/abc") == "http://localhost:5006/t/abc"
    ws.set_setting("public_url", "https://crm.example.com/app/")
    assert ws.setting("public_url") == "https://crm.example.com/app"
    assert public_url(ws, "t/abc?x=1") == "https://crm.example.com/app/t/abc?x=1"
    assert public_url(ws) == "https://crm.example.com/app"
    for bad in ("ftp://x", "crm.example.com", "https://", "https://x/?q=1", "https://a b", 5):
        with pytest.raises(ValidationError):
            ws.set_setting("public_url", bad)
    ws.store.insert("users", {"username": "tester", "role": "admin"})
    ws.store.insert("users", {"username": "mia", "role": "member"})
    with pytest.raises(PermissionDenied):
        ws.as_user("mia").set_setting("public_url", "https://evil.example.com")
