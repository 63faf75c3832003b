"""A stand-in ticket page for the browser test: the knowledge base's record section beside a reply
composer, wired by the documented ``insert_text`` contract (docs/knowledge.md), exactly as the
service plugin's ticket page would. Served by `panel serve` with CRM_DB and TICKET set."""

import os

import panel as pn
import param

from crm_workspace import Workspace

ws = Workspace.open(os.environ["CRM_DB"], user="ana")
ticket = int(os.environ["TICKET"])
reply = pn.widgets.TextAreaInput(label="Reply", value="Hello,", css_classes=["reply"], height=120, width=600)
parts = []
for section in ws.record_sections("tickets", ticket):
    obj = section.view()
    if isinstance(obj, param.Parameterized) and "insert_text" in obj.param:
        obj.param.watch(lambda e: e.new and setattr(reply, "value", f"{reply.value}\n{e.new}"), "insert_text")
    parts += [pn.pane.HTML(f"<h3>{section.title}</h3>"), obj]
pn.Column(reply, *parts).servable()
