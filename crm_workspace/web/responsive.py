"""Phones and tablets: the shell's menu behind the header's button, every component fitted to the width.

Three parts, none of them per page, so a page a plugin adds later fits too:

- ``SHELL_CSS`` (static/shell.css), document level: below 760 px the template's
  sidebar slides over the page instead of taking half of the screen;
- ``FIT_CSS_PATH`` (static/fit.css), loaded by the app's design into every
  component: nothing wider than its container, rows and flex boxes wrap;
- ``card_labels_css(table)``, added by the app's design to each table: on a phone, where
  a table's rows are cards without a header, each cell says its column's title first
  ("Sent 114 · Opens 40"), from Tabulator's ``tabulator-field`` attribute;
- ``ShellMenu``, a tiny ESM component: on a narrow screen the menu starts closed,
  and picking a page closes it again. It also makes a checkbox's label toggle its
  box, as a person expects (Bokeh draws the label as a ``div`` beside the input,
  which ignores clicks), on every page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from panel.custom import JSComponent

from crm_workspace.web.display import label

STATIC = Path(__file__).with_name("static")
#: the width below which the menu hides behind its button (as in static/shell.css and fit.css)
NARROW_PX = 760
#: every component's stylesheet on narrow screens, relative to this package (served by Panel)
FIT_CSS_PATH = "static/fit.css"


def shell_css() -> str:
    """The document-level stylesheet of the shell on narrow screens."""
    return (STATIC / "shell.css").read_text(encoding="utf-8")


def css_string(text: str) -> str:
    """``text`` as a quoted CSS string that nothing in it can end: every character but letters, digits
    and spaces as a six-digit escape (``"`` -> ``\\000022``)."""
    return '"' + "".join(c if c.isascii() and (c.isalnum() or c == " ") else f"\\{ord(c):06x}" for c in text) + '"'


def card_labels_css(table: Any) -> str:
    """A table's (Tabulator's) stylesheet on narrow screens: each cell of a card shows its column's title
    before its value; hidden and internal columns stay unlabelled (their cells are hidden). The columns are
    those of the table's value when its model is made, and those its ``titles`` name."""
    frame = table.value
    titles = table.titles if isinstance(table.titles, dict) else {}
    columns = [str(c) for c in frame.columns] if frame is not None else []
    if frame is not None and table.show_index:
        columns.insert(0, str(frame.index.name or "index"))
    columns += [str(c) for c in titles if str(c) not in columns]  # a table filled later: its titles name its columns
    hidden = {str(c) for c in table.hidden_columns or ()}
    rules = []
    for field in columns:
        if field in hidden or field.startswith("_"):
            continue
        title = str(titles.get(field) or label(field)).strip()
        if title:
            selector = f".tabulator-row .tabulator-cell[tabulator-field={css_string(field)}]::before"
            rules.append(f"  {selector} {{content: {css_string(title)};}}")
    if not rules:
        return ""
    return f"@media (max-width: {NARROW_PX}px) {{\n" + "\n".join(rules) + "\n}"


class ShellMenu(JSComponent):
    """Closes the template's sidebar on a narrow screen at load and after a page is picked in it;
    a click on a checkbox's label toggles the box."""

    _esm = f"""
    export function render({{ model }}) {{
      if (!window.crmLabelClicks) {{
        window.crmLabelClicks = true
        document.addEventListener("click", (event) => {{
          const target = event.composedPath()[0]
          if (!(target instanceof HTMLElement) || !target.classList.contains("bk-label")) return
          const input = target.previousElementSibling
          const host = target.getRootNode().host
          if (input && input.type === "checkbox" && host && host.tagName !== "LABEL" && !input.disabled) input.click()
        }})
      }}
      const narrow = () => window.matchMedia("(max-width: {NARROW_PX}px)").matches
      const sidebar = document.getElementById("sidebar")
      if (!sidebar) return
      const close = () => {{ if (typeof window.closeNav === "function") window.closeNav() }}
      if (narrow()) close()
      sidebar.addEventListener("click", (event) => {{
        if (!narrow()) return
        const picked = event.composedPath().some((el) => el.classList && el.classList.contains("bk-btn"))
        if (picked) setTimeout(close, 150)
      }})
    }}
    """
