"""The mailer and the templates: real SMTP (aiosmtpd on localhost), refusals, a server that is down,
templates that cannot build huge values."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

from crm_workspace.errors import ValidationError
from crm_workspace.services import templates
from crm_workspace.services.mailer import Mailer, MailError, make_message
from crm_workspace.testing import configure_smtp, free_port, smtp_server


def test_a_message_reaches_the_server_with_its_headers(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    workspace.set_setting("mail_from", "ACME CRM <crm@acme.example>")
    mailer = Mailer.from_workspace(workspace)
    message = make_message(
        to="ana@example.com",
        subject="Grüße aus Köln",
        text="Hallo Ana,\nschön.",
        html="<p>Hallo <b>Ana</b></p>",
        sender=mailer.sender,
        reply_to="sales@acme.example",
        headers={"List-Unsubscribe": "<https://acme.example/u/1>"},
    )
    mailer.send(message)
    (got,) = smtpd.messages
    assert got["Subject"] == "Grüße aus Köln"
    assert got["From"] == "ACME CRM <crm@acme.example>"
    assert got["Message-ID"].endswith("@acme.example>")
    assert got["Date"] and got["Reply-To"] == "sales@acme.example"
    assert got["List-Unsubscribe"] == "<https://acme.example/u/1>"
    assert got.get_content_type() == "multipart/alternative"
    assert "schön" in got.get_body(("plain",)).get_content()
    assert "<b>Ana</b>" in got.get_body(("html",)).get_content()
    assert smtpd.envelopes == [("crm@acme.example", ["ana@example.com"])]


def test_one_connection_sends_many_and_fills_the_sender(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    mailer = Mailer.from_workspace(workspace)
    with mailer.connection() as conn:
        for n in range(5):
            conn.send(make_message(to=f"p{n}@example.com", subject=f"#{n}", text="hi"))
    assert [m["To"] for m in smtpd.messages] == [f"p{n}@example.com" for n in range(5)]
    assert all(m["From"] == "crm@localhost" for m in smtpd.messages)


def test_threading_headers(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    message = make_message(
        to=["a@example.com", "b@example.com"],
        subject="Re: x",
        text="ok",
        in_reply_to="<1@x>",
        references=["<0@x>", "<1@x>"],
    )
    Mailer.from_workspace(workspace).send(message)
    assert smtpd.messages[0]["In-Reply-To"] == "<1@x>"
    assert smtpd.messages[0]["References"] == "<0@x> <1@x>"
    assert smtpd.envelopes[0][1] == ["a@example.com", "b@example.com"]


@pytest.mark.parametrize(("code", "permanent"), [(550, True), (451, False)])
def test_a_refusal_says_whether_it_is_permanent(workspace, code, permanent):
    with smtp_server(refuse={"gone@example.com": code}) as server:
        configure_smtp(workspace, server.port)
        with pytest.raises(MailError) as caught:
            Mailer.from_workspace(workspace).send(make_message(to="gone@example.com", subject="s", text="t"))
    assert caught.value.permanent is permanent
    assert caught.value.recipient == "gone@example.com"
    assert str(code) in str(caught.value)
    assert server.messages == []


def test_a_server_that_is_down_is_one_clear_error(workspace):
    configure_smtp(workspace, free_port())
    with pytest.raises(MailError, match=r"cannot reach the SMTP server 127\.0\.0\.1:\d+ .*smtp_host") as caught:
        Mailer.from_workspace(workspace).send(make_message(to="a@example.com", subject="s", text="t"))
    assert caught.value.permanent is False


def test_a_login_without_password_env_is_refused_clearly(workspace, smtpd, monkeypatch):
    configure_smtp(workspace, smtpd.port)
    workspace.set_setting("smtp_user", "crm")
    monkeypatch.delenv("CRM_SMTP_PASSWORD", raising=False)
    with pytest.raises(MailError, match="CRM_SMTP_PASSWORD"):
        Mailer.from_workspace(workspace).send(make_message(to="a@example.com", subject="s", text="t"))


def test_the_password_comes_from_the_environment_only(workspace, monkeypatch):
    monkeypatch.setenv("CRM_SMTP_PASSWORD", "s3cret")
    assert Mailer.from_workspace(workspace).password == "s3cret"
    with pytest.raises(ValidationError):
        workspace.set_setting("smtp_password", "s3cret")


@pytest.mark.parametrize(
    ("key", "value"),
    [("smtp_port", 70000), ("smtp_port", "x"), ("smtp_security", "tls13"), ("mail_from", "nobody"), ("smtp_host", "")],
)
def test_bad_mail_settings_are_refused(workspace, key, value):
    with pytest.raises(ValidationError, match=key):
        workspace.set_setting(key, value)


def test_mail_settings_have_defaults(workspace):
    mailer = Mailer.from_workspace(workspace)
    assert (mailer.host, mailer.port, mailer.security, mailer.sender) == ("localhost", 25, "none", "crm@localhost")


# ----------------------------------------------------------------- templates
def test_templates_fall_back_and_escape_html():
    assert templates.render('Hi {{ first_name | default("there") }}!', {}, html=False) == "Hi there!"
    assert templates.render("Hi {{ first_name }}!", {"first_name": "Ana"}, html=False) == "Hi Ana!"
    html = templates.render("<p>{{ name }}</p>", {"name": "<script>x</script>"}, html=True)
    assert html == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert templates.render("{{ name }}", {"name": "<b>"}, html=False) == "<b>"


@pytest.mark.parametrize(
    "source", ["{{ ''.__class__ }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ x.__globals__ }}"]
)
def test_the_sandbox_refuses_internals(source):
    with pytest.raises(templates.TemplateProblem, match="not allowed"):
        templates.render(source, {"x": test_the_sandbox_refuses_internals}, html=False)


def test_a_broken_template_names_its_line():
    with pytest.raises(templates.TemplateProblem, match="line 3") as caught:
        templates.check("Hello\n{{ name }}\n{% if x %}no end")
    assert caught.value.line == 3
    with pytest.raises(templates.TemplateProblem, match="line 2"):
        templates.render("ok\n{{ 1 / 0 }}", {}, html=False)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"subject": "Hi\nBcc: evil@example.com"}, "bad Subject header"),
        ({"headers": {"X-Campaign": "1\r\nBcc: evil@example.com"}}, "bad X-Campaign header"),
        ({"to": "not an address"}, "not an email address"),
        ({"to": []}, "not an email address"),
    ],
)
def test_bad_headers_and_addresses_are_refused(fields, problem):
    with pytest.raises(MailError, match=problem) as caught:
        make_message(**{"to": "a@example.com", "subject": "s", "text": "t", **fields})
    assert caught.value.permanent


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_with_the_password_from_the_environment(workspace, monkeypatch):
    with smtp_server(login=("crm", "s3cret")) as server:
        configure_smtp(workspace, server.port)
        workspace.set_setting("smtp_user", "crm")
        monkeypatch.setenv("CRM_SMTP_PASSWORD", "wrong")
        with pytest.raises(MailError, match="refused the login of 'crm'") as caught:
            Mailer.from_workspace(workspace).send(make_message(to="a@example.com", subject="s", text="t"))
        assert caught.value.permanent
        monkeypatch.setenv("CRM_SMTP_PASSWORD", "s3cret")
        Mailer.from_workspace(workspace).send(make_message(to="a@example.com", subject="s", text="t"))
        assert server.recipients() == ["a@example.com"]
    assert "s3cret" not in str(workspace.store.query("SELECT * FROM settings"))


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted through SSL_CERT_FILE: (server context, cert path)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.mark.parametrize(("security", "implicit"), [("starttls", False), ("ssl", True)])
def test_tls_is_used_and_verified(workspace, certificate, monkeypatch, security, implicit):
    context, cert = certificate
    with smtp_server(tls=context, implicit_tls=implicit) as server:
        configure_smtp(workspace, server.port)
        workspace.set_setting("smtp_security", security)
        message = make_message(to="a@example.com", subject="s", text="t")
        with pytest.raises(MailError, match="certificate this machine does not trust"):
            Mailer.from_workspace(workspace).send(message)  # not trusted yet: refused, never sent in clear
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        Mailer.from_workspace(workspace).send(message)
        assert server.recipients() == ["a@example.com"]


def test_a_server_that_requires_starttls_refuses_plain_smtp(workspace, certificate):
    with smtp_server(tls=certificate[0]) as server:
        configure_smtp(workspace, server.port)
        with pytest.raises(MailError, match="STARTTLS"):
            Mailer.from_workspace(workspace).send(make_message(to="a@example.com", subject="s", text="t"))
        assert server.messages == []


# --------------------------------------------------------- template limits
@pytest.mark.parametrize(
    "source", ["{{ 'a' * 10**9 }}", "{{ 10**9 * 'ab' }}", "{{ 2 ** 100000000 }}", "{{ [1] * 10**9 }}"]
)
def test_a_template_cannot_build_huge_values(source):
    with pytest.raises(templates.TemplateProblem, match="too large"):
        templates.render(source, {}, html=False)


def test_ordinary_arithmetic_still_works():
    assert templates.render("{{ '-' * 3 }} {{ 2 ** 10 }} {{ price * 2 }}", {"price": 5}, html=True) == "--- 1024 10"
