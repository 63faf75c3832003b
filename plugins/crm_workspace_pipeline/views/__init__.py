"""The pipeline's Panel views: the page shell and its parts, one module each.

``page`` (the board page and its lazily built parts), ``deal_form``, ``close_dialog``
(won/lost), ``quick_add``, ``filters`` (more filters), ``forecast``, ``stage_settings``,
``record_section`` (deals on a contact's or an organization's page). No SQL here: every
query is a model's.
"""

from .page import PipelinePage
from .record_section import deals_section

__all__ = ["PipelinePage", "deals_section"]
