"""The Forms tab: the sign-up forms, their public address and sign-ups; a new form."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import CrmError
from crm_workspace.web.deferred import lazy_card

from ..model import MarketingModel
from .common import alert, button, say, table


class FormsTab(pn.viewable.Viewer):
    model = param.ClassSelector(class_=MarketingModel)

    def __init__(self, **params):
        super().__init__(**params)
        ro = self.model.workspace.read_only
        self.slug = pn.widgets.TextInput(label="Address /f/…", placeholder="newsletter", width=200, disabled=ro)
        self.title = pn.widgets.TextInput(label="Title", placeholder="Our newsletter", width=280, disabled=ro)
        self.intro = pn.widgets.TextInput(label="Introduction", width=420, disabled=ro)
        self.list = pn.widgets.Select(
            label="Sign-ups join the list", options=["", *self.model.segment_names("static")], width=240, disabled=ro
        )
        self.create = button("Create form", ro, width=140)
        self.create.on_click(self._create)
        self.message = pn.Column()

    def _create(self, _event=None) -> None:
        try:
            row = self.model.save_form(
                {
                    "slug": self.slug.value,
                    "title": self.title.value,
                    "intro": self.intro.value,
                    "segment_id": self.list.value or None,
                }
            )
        except CrmError as error:
            say(self.message, str(error), "danger")
            return
        say(self.message, f"The form is public at /f/{row['slug']}.")

    def _list(self, _revision=None):
        try:
            return table(self.model.forms(), height=220)
        except CrmError as error:
            return alert(str(error))

    def __panel__(self):
        return pn.Column(
            pn.bind(self._list, self.model.workspace.param.revision),
            lazy_card(
                lambda: [pn.Row(self.slug, self.title, self.list), self.intro, self.create, self.message],
                title="New sign-up form (double opt-in)",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
