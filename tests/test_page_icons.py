"""Every built-in page draws a shipped Tabler icon, and no two pages share one."""

from __future__ import annotations

from crm_workspace.testing import make_workspace
from crm_workspace.web.icons import SHAPES


def test_page_icons_are_shipped_and_distinct(tmp_path):
    ws = make_workspace(tmp_path / "crm.db", user="ana")
    try:
        icons = {page.name: page.icon for page in ws.pages()}
    finally:
        ws.close()
    assert {"service", "marketing", "maillog", "knowledge", "surveys", "calendar", "automation", "scoring"} <= set(
        icons
    )
    assert {name: icon for name, icon in icons.items() if icon not in SHAPES} == {}
    shared = {icon for icon in icons.values() if list(icons.values()).count(icon) > 1}
    assert shared == set(), {name: icon for name, icon in icons.items() if icon in shared}
    assert icons["service"] == "lifebuoy" and icons["marketing"] != icons["maillog"]
