"""Security review of the mail services: templates cannot exhaust the server."""

from __future__ import annotations

import pytest

from crm_workspace.services import templates


@pytest.mark.parametrize(
    "source", ["{{ 'a' * 10**9 }}", "{{ 10**9 * 'ab' }}", "{{ 2 ** 100000000 }}", "{{ [1] * 10**9 }}"]
)
def test_a_template_cannot_build_huge_values(source):
    with pytest.raises(templates.TemplateProblem, match="too large"):
        templates.render(source, {}, html=False)


def test_ordinary_arithmetic_still_works():
    assert templates.render("{{ '-' * 3 }} {{ 2 ** 10 }} {{ price * 2 }}", {"price": 5}, html=True) == "--- 1024 10"


def _nested(depth: int) -> bytes:
    head = "From: Zed <z@example.org>\nTo: ana@example.com\nSubject: nest\nMessage-ID: <n1@x>\nMIME-Version: 1.0\n"
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    return (head + opening + "Content-Type: text/plain\n\nhello\n" + closing).encode()


@pytest.mark.parametrize("depth", [200, 3000])
def test_a_deeply_nested_message_never_blocks_the_mailbox(tmp_path, depth):
    import mailbox

    from crm_workspace.services.mailbox import open_mailbox, text_of

    box = mailbox.Maildir(tmp_path / "mail", create=True)
    box.add(_nested(depth))
    box.add(b"From: y@example.org\nTo: ana@example.com\nSubject: fine\nMessage-ID: <n2@x>\n\nok\n")
    with open_mailbox(str(tmp_path / "mail")) as opened:
        items = list(opened.unread())
        texts = sorted(text_of(item.message) for item in items)
        subjects = sorted(item.message["Subject"] for item in items)
    assert subjects == ["fine", "nest"] and "ok" in texts[-1]
