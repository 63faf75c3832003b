"""The plugin contract: every hook a crm-workspace plugin may implement.

Each hook's docstring is its reference documentation (the README's hook
reference is generated from it, and a test keeps the two in step). A plugin is
any object or module with functions decorated by ``crm_workspace.hookimpl``
whose names match these; it may accept any subset of a hook's arguments.

Collecting hooks (pages, metrics, migrations, commands, demo data, aliases,
views, record sections, search, settings, routes, ticks) are called one plugin at a time: a plugin that
raises is reported by name and the others carry on. Write-path hooks
(``crm_validate_record``, ``crm_record_changed``) run inside the write's
transaction: a plugin that raises there aborts that one write, which is rolled
back and reported as a ``PluginError`` naming the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # imported for annotations only: the core starts without them
    import click
    import pandas
    import sqlite_utils

    from crm_workspace.types import ApiResource, Change, Metric, Page, PersonalData, RecordSection, Route, Setting
    from crm_workspace.workspace import Workspace

hookspec = pluggy.HookspecMarker("crm_workspace")
hookimpl = pluggy.HookimplMarker("crm_workspace")


@hookspec
def crm_migrations() -> sqlite_utils.Migrations | None:
    """Return this plugin's named migration set.

    Use one ``sqlite_utils.Migrations("crm_workspace.<plugin>")`` per plugin; the
    workspace applies every set when it opens (core first), each migration once,
    each in its own transaction. Add tables with ``db[...].create()``, columns to
    core tables with ``table.add_column()``, change them with ``table.transform()``.
    """


@hookspec
def crm_dashboards(workspace: Workspace) -> list[Page] | None:
    """Return the dashboard pages this plugin contributes, as ``Page`` objects.

    A page's ``view`` is called with the (per-session) workspace and returns a
    Panel object; import Panel inside it, not at module level, so the CLI stays
    fast. Page names are unique across plugins: a duplicate is reported and
    skipped. If ``view`` raises, that page shows an error card naming the plugin
    and every other page keeps working.
    """


@hookspec
def crm_validate_record(
    workspace: Workspace, table: str, record: dict[str, Any], before: dict[str, Any] | None
) -> dict[str, str] | None:
    """Check, and normalize in place, a record about to be written to ``table``.

    ``record`` holds the fields being written (all of them on insert, only the
    changed ones on update); ``before`` is the stored row on update, ``None`` on
    insert. Normalize by assigning into ``record`` (lower-case an email, format a
    phone). Return a mapping of field name to a message a person can act on for
    every invalid field, or ``None``: any message refuses the write with a
    ``ValidationError`` and nothing is saved.

    Optional: an implementation that checks a few tables only may say which,
    ``crm_validate_record.tables = ("deals",)`` after its ``def``; the Store then
    leaves it out of the checks of other tables (a bulk write calls every
    implementation once per record). It must still return ``None`` for other
    tables when called: tracing or a hook wrapper calls every implementation.
    """


@hookspec
def crm_record_changed(workspace: Workspace, changes: list[Change]) -> None:
    """React to records that were inserted, updated or deleted.

    Called once per Store write with every ``Change`` it made (a bulk write
    passes many), inside the same transaction and after the audit rows: writes
    made here through ``workspace.store`` commit or roll back with the change
    that caused them (the lifecycle tracker appends its events this way).
    """


@hookspec
def crm_field_aliases() -> dict[str, dict[str, list[str]]] | None:
    """Return header synonyms for the importer: ``{entity: {field: [alias, ...]}}``.

    For example ``{"contacts": {"email": ["Email Address", "E-mail"]}}``. Aliases
    from every plugin are merged; matching ignores case, spaces and punctuation.
    """


@hookspec
def crm_metrics(workspace: Workspace) -> list[Metric] | None:
    """Return KPI cards for the home page, as ``Metric`` objects.

    Compute them in SQL (an aggregate, never a whole table) and put the query in
    ``Metric.sql`` so an analyst can reproduce the number.
    """


@hookspec
def crm_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``crm`` command line.

    Receives the root ``click`` group; decorate new commands with ``@cli.command()``
    or add groups with ``cli.add_command()``. Commands open the workspace with
    ``crm_workspace.cli.open_workspace(ctx)`` so they honour ``--db`` and ``--user``.
    """


@hookspec
def crm_demo_data(workspace: Workspace, seed: int, scale: float, size: dict[str, int], today: str) -> None:
    """Add this plugin's share of the demo data, after the core tables are filled.

    ``seed`` makes it deterministic (draw from your own ``random.Random``, e.g.
    seeded ``seed + n``); ``scale`` is the size relative to the standard demo
    (1.0 = 300 contacts); ``size`` holds the rows asked for by table (``contacts``,
    ``organizations``, ``activities``, and the modules' ``deals``,
    ``relationships``); ``today`` is the ISO time the demo treats as now. Write
    through ``workspace.store`` (``crm_workspace.services.demo.bulk(size)`` gives
    the ``insert_many`` options of generated rows).
    """


@hookspec
def crm_data_views(workspace: Workspace) -> dict[str, Callable[..., pandas.DataFrame]] | None:
    """Return named DataFrame views: ``{"pipeline.forecast": fn, ...}``.

    ``workspace.df(name, **filters)`` calls ``fn(**filters)``; each view must
    return exactly the rows and columns its dashboard shows for the same filters.
    Prefix names with the plugin's page name.
    """


@hookspec
def crm_search(workspace: Workspace, query: str, limit: int) -> pandas.DataFrame | None:
    """Return search hits for ``query`` as a DataFrame.

    Columns: ``type`` (table), ``id``, ``title``, ``subtitle``, ``rank`` (lower is
    better). ``workspace.search()`` merges every plugin's hits. Treat ``query`` as
    plain text: it may contain quotes, ``*``, ``-`` or ``NEAR``.
    """


@hookspec
def crm_record_sections(workspace: Workspace, table: str, record_id: int) -> list[RecordSection] | None:
    """Return extra sections for the record page of ``table`` row ``record_id``.

    Lets one module show its part of a record on another module's page (the
    relationship map adds "Relationships" to a contact, the pipeline its deals).
    Return ``None`` for tables you have nothing to say about.
    """


@hookspec
def crm_personal_data(workspace: Workspace) -> list[PersonalData] | None:
    """Declare the columns of this plugin's tables that hold a person's data.

    Return ``PersonalData(table, contact_column, fields)`` objects: the rows of
    ``table`` whose ``contact_column`` is a contact's id belong to that person.
    ``crm privacy export`` includes those rows; ``crm privacy erase`` anonymises
    their ``fields`` (text becomes ``[erased]``, anything else ``NULL``) and
    scrubs the same fields from the audit rows of those records (or deletes the
    rows, with ``remove=True``), then names the table in its receipt with the
    rows it really changed. Declare every table you add that holds personal data:
    what is not declared is not erased. A plugin that raises here stops the
    export or erasure (a receipt must not claim what was skipped). A disabled
    plugin is asked too (its tables stay): keep this hook free of side effects.

    ``where`` narrows the rows with an SQL condition and may name the contact's
    id as ``:contact``; with ``contact_column=""`` the rows are chosen by
    ``where`` alone, so rows reached through a join are declared too
    (``PersonalData("ticket_attachments", "", where="ticket_id IN (SELECT id
    FROM tickets WHERE requester_id = :contact)", remove=True)``). Erasure
    chooses every declaration's rows before it changes any, so a declaration
    reached through another declared table (content-addressed blobs through
    attachment rows, excluding those another person's rows still use) finds
    its rows whatever order the declarations come in. Bytes (BLOB columns) are
    exported as base64 in the JSON and named by size in the workbook.
    """


@hookspec
def crm_settings() -> list[Setting] | None:
    """Declare the workspace settings this plugin owns, as ``Setting`` objects.

    ``Setting(key, check, default, admin_only, doc)``: ``check(value)`` returns the
    value to store (normalized) or raises ``ValueError`` with one line a person can
    act on. Every write of a setting (``workspace.set_setting`` or a Store write to
    the ``settings`` table) is checked against its declaration: a bad value is
    refused with a ``ValidationError``, a key no plugin declares is refused, and an
    ``admin_only`` setting (the default: anything that changes behaviour for
    everyone) is refused to members with ``PermissionDenied``. Read a setting with
    ``workspace.setting(key, default)``; declare every key your plugin reads.
    """


@hookspec
def crm_routes(workspace: Workspace) -> list[Route] | None:
    """Return the HTTP routes this plugin serves beside the app, as ``Route`` objects.

    ``crm serve`` mounts them on its Tornado server (an API, webhooks, tracked
    links, public forms, calendar feeds). Panel's login does **not** guard them:
    each handler authenticates the request itself (an API token, a signed link,
    ``crm_workspace.services.signing``) or is public by design. Subclass
    ``crm_workspace.services.http.RouteHandler``: its ``initialize`` receives
    ``workspace=`` (the served workspace acting as ``system:<plugin>``, see
    ``Workspace.as_system``) and the route's ``kwargs``; it sets security headers,
    limits the body size and offers ``write_json``, ``write_page`` and a rate
    limiter. A pattern must start with a literal segment of its own (``/api/...``,
    ``/t/...``): one that would shadow the app (``/``, ``/login``, ``/logout``,
    ``/static``, ``/ws``...) or repeat another plugin's pattern is refused and
    reported as this plugin's error; its other routes are still mounted.
    """


@hookspec
def crm_tick(workspace: Workspace, now: str) -> None:
    """Do this plugin's periodic work: due sequence steps, retries, deliveries, mailbox polls.

    ``crm serve`` calls it every ``tick_seconds`` (a setting, default 30) in a
    background thread, and ``crm tick`` once (for cron). ``workspace`` acts as
    ``system:<plugin>`` (full rights, audited under that name); ``now`` is the
    ISO-8601 UTC time to treat as now (tests move it with ``crm tick --now`` or
    ``$CRM_NOW``): compare due times with it, not with the clock. A tick must be
    idempotent and short: do what is due, remember what was done in your tables,
    and leave the rest for the next tick (two ticks never overlap, even across
    processes). If it raises, the failure is recorded and reported for this
    plugin only; the other plugins' ticks still run.
    """


@hookspec
def crm_api_resources(workspace: Workspace) -> list[ApiResource] | None:
    """Return the tables this plugin serves through the JSON API, as ``ApiResource`` objects.

    ``ApiResource(name, table, fields=(), read_only=(...), writable=True)`` serves
    ``table`` at ``/api/<name>``: list (filters, sorting, keyset pagination), get,
    create, update and delete, each write through the Store as the token's user
    (validation, audit, ``crm_record_changed``), and a schema in
    ``/api/openapi.json`` built from the table's columns. Opt in only for tables
    whose rows a user may see and change; declare only tables you own. Resource
    names are unique: a duplicate is reported and skipped.
    """
