"""Personalised mail from templates: merge fields, tracked links, the open pixel, the unsubscribe footer.

Reusable by anything in this package that mails contacts (campaigns now, sequences later):
``contexts`` loads the merge fields of many contacts at once, ``render_parts`` fills a
subject, HTML and text (the core's sandboxed Jinja2, HTML autoescaped: a name like
``<b>Ana</b>`` arrives as text), and ``track`` rewrites the campaign's links to signed
redirects and adds the pixel.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .core import TemplateProblem, render

if TYPE_CHECKING:
    from crm_workspace import Workspace

#: Contact columns never offered as merge fields.
HIDDEN = {"version", "updated_by", "notes", "marketing_consent", "consent_at", "consent_source"}
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def contexts(workspace: Workspace, contact_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Merge fields by contact: every contact column (but internals), ``organization``, ``custom`` fields."""
    ids = sorted({int(i) for i in contact_ids})
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 5000):
        chunk = json.dumps(ids[start : start + 5000])
        rows = workspace.query(
            "SELECT c.*, o.name AS organization FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
            " WHERE c.id IN (SELECT value FROM json_each(:ids))",
            {"ids": chunk},
        )
        for row in rows:
            out[row["id"]] = {k: v for k, v in row.items() if k not in HIDDEN} | {"custom": {}}
        if workspace.store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'excel_custom_fields'"):
            for row in workspace.query(
                "SELECT row_id, name, value FROM excel_custom_fields WHERE table_name = 'contacts'"
                " AND row_id IN (SELECT value FROM json_each(:ids))",
                {"ids": chunk},
            ):
                if row["row_id"] in out:
                    out[row["row_id"]]["custom"][row["name"]] = row["value"]
    return out


def sample_context() -> dict[str, Any]:
    """Merge fields of nobody in particular (a preview without a contact, a template check)."""
    return {
        "first_name": "Ana",
        "last_name": "Example",
        "email": "ana@example.com",
        "organization": "Example Ltd",
        "custom": {},
        "unsubscribe_url": "#unsubscribe",
    }


def render_parts(subject: str, html: str | None, text: str | None, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, html, text) filled with ``context``; ``TemplateProblem`` naming the part that failed."""
    out = []
    for part, source, as_html in (("subject", subject, False), ("HTML", html, True), ("text", text, False)):
        try:
            out.append(render(source or "", context, html=as_html))
        except TemplateProblem as problem:
            raise TemplateProblem(f"{part}: {problem.reason}", problem.line) from None
    subject_line = " ".join(out[0].split())
    return subject_line, out[1], out[2]


def links_of(html: str | None) -> list[str]:
    """The literal http(s) links of an HTML template, in order, each once (links with merge fields are not tracked)."""
    found = []
    for _start, _quote, href in _HREF.findall(html or ""):
        url = htmllib.unescape(href).strip()
        if url.lower().startswith(("http://", "https://")) and "{" not in url and url not in found:
            found.append(url)
    return found


def track(html: str, positions: dict[str, int], tracked: Callable[[int], str], pixel: str | None) -> str:
    """``html`` with each link in ``positions`` replaced by ``tracked(position)`` and the open ``pixel`` added."""

    def swap(match: re.Match) -> str:
        url = htmllib.unescape(match.group(3)).strip()
        if url not in positions:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{htmllib.escape(tracked(positions[url]))}{match.group(2)}"

    out = _HREF.sub(swap, html)
    if pixel:
        img = f'<img src="{htmllib.escape(pixel)}" width="1" height="1" alt="" style="display:none">'
        out, found = _BODY_END.subn(lambda m: img + m.group(0), out, count=1)
        if not found:
            out += img
    return out


def with_footer(html: str, text: str, unsubscribe_url: str, *, mentioned: bool) -> tuple[str, str]:
    """Add an unsubscribe line unless the template already offers ``unsubscribe_url`` itself."""
    if mentioned:
        return html, text
    line = f"You receive this because you subscribed. Unsubscribe: {unsubscribe_url}"
    link = (
        f'<p style="font-size:12px;color:#666">You receive this because you subscribed. '
        f'<a href="{htmllib.escape(unsubscribe_url)}">Unsubscribe</a></p>'
    )
    if html:
        html, found = _BODY_END.subn(lambda m: link + m.group(0), html, count=1)
        if not found:
            html += link
    return html, (text.rstrip("\n") + "\n\n-- \n" + line + "\n")


def html_to_text(html: str) -> str:
    """A plain-text part for a campaign written only in HTML (tags dropped, links kept in brackets)."""
    import nh3

    with_links = re.sub(
        r"<a\b[^>]*?href\s*=\s*([\"'])(.*?)\1[^>]*>(.*?)</a>", r"\3 [\2]", html or "", flags=re.I | re.S
    )
    with_links = re.sub(r"<(br|/p|/h[1-6]|/li|/tr|/div)\b[^>]*>", "\n", with_links, flags=re.I)
    text = htmllib.unescape(nh3.clean(with_links, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip() + "\n"
