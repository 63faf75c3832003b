"""Mail templates people write: Jinja2 in a sandbox, autoescaped for HTML.

``render(source, context, html=True)`` fills a template such as
``Hello {{ first_name | default("there") }}``; a missing variable renders empty
(the ``default`` filter gives the fallback). The environment is Jinja2's
``SandboxedEnvironment``: a template cannot reach Python internals
(``{{ ''.__class__ }}`` is refused), call unsafe methods or build huge ranges.
Anything that stops a template from rendering is a ``TemplateProblem`` naming the
line, so an editor can show it next to the text. Compiled templates are cached by
their source, so 10,000 personalised messages compile each template once.
"""

from __future__ import annotations

import functools
import traceback
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from crm_workspace.errors import CrmError


class TemplateProblem(CrmError):
    """A template that does not compile or render; ``line`` is its line number when known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.reason = message
        super().__init__(f"template problem on line {line}: {message}" if line else f"template problem: {message}")


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, refusing an unsafe attribute at once (the stock one renders it as empty)."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")


@functools.cache
def _environment(html: bool) -> SandboxedEnvironment:
    return _Sandbox(autoescape=html, keep_trailing_newline=True, auto_reload=False)


@functools.lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> jinja2.Template:
    try:
        return _environment(html).from_string(source)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateProblem(error.message or str(error), error.lineno) from None


def _line_of(error: BaseException) -> int | None:
    """The template line a rendering error came from (Jinja rewrites tracebacks to template lines)."""
    line = getattr(error, "lineno", None)
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == "<template>":
            line = frame.lineno
    return line


def check(source: str) -> None:
    """Raise ``TemplateProblem`` (with the line) unless ``source`` compiles as a template."""
    _compiled(source, True)


def render(source: str, context: dict[str, Any], *, html: bool) -> str:
    """``source`` filled with ``context``; HTML-escaped values when ``html``. ``TemplateProblem`` when it fails."""
    template = _compiled(source, html)
    try:
        return template.render(context)
    except SecurityError as error:
        raise TemplateProblem(f"not allowed: {error}", _line_of(error)) from None
    except jinja2.TemplateError as error:
        raise TemplateProblem(error.message or str(error), _line_of(error)) from None
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError) as error:
        raise TemplateProblem(f"{type(error).__name__}: {error}", _line_of(error)) from None
