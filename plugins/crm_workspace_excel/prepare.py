"""One file to a mapped table: open, pick the sheet and header, guess entity and mapping.

What the CLI and the dashboard both do before planning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_workspace import CrmError
from crm_workspace.data.collector import held_off

from .mapping import ENTITIES, added_columns, guess, parse_map_options
from .reader import Table, open_book


@dataclass
class Prepared:
    """A file read and mapped, ready to plan: what the CLI and the dashboard both build."""

    book: Any
    table: Table
    entity: str
    mapping: dict[str, str | None]
    file_name: str
    sha256: str


def guess_entity(headers: list[str], plugin_aliases: dict | None = None) -> str:
    scores = {}
    for entity in ENTITIES:
        found = {f for f in guess(headers, entity, plugin_aliases).values() if f}
        weight = {
            "contacts": ("email", "first_name", "last_name", "full_name"),
            "deals": ("amount", "stage", "expected_close", "probability"),
            "organizations": ("domain", "industry", "website"),
        }[entity]
        scores[entity] = len(found) + 3 * len(found & set(weight))
    return max(ENTITIES, key=lambda e: (scores[e], e == "contacts"))


def prepare(
    workspace,
    source: str | Path | bytes,
    *,
    name: str | None = None,
    entity: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    overrides: dict[str, str | None] | None = None,
    map_options: tuple[str, ...] | list[str] = (),
    recipe: dict | None = None,
) -> Prepared:
    with held_off():  # the sheet's cells: see crm_workspace/data/collector.py
        return _prepare(workspace, source, name, entity, sheet, header_row, overrides, map_options, recipe)


def _prepare(workspace, source, name, entity, sheet, header_row, overrides, map_options, recipe) -> Prepared:
    book = open_book(source, name)
    if recipe:
        entity = entity or recipe.get("entity")
        sheet = sheet or recipe.get("sheet") or None
        if sheet and sheet not in book.sheet_names:
            sheet = None
    table = book.table(sheet, header_row)
    if not table.headers:
        raise CrmError(f"{book.name}: sheet '{table.sheet}' is empty")
    aliases = workspace.field_aliases()
    entity = entity or guess_entity(table.headers, aliases)
    if entity not in ENTITIES:
        raise CrmError(f"cannot import {entity!r}: choose one of {', '.join(ENTITIES)}")
    extra = added_columns(workspace, entity)
    mapping = guess(table.headers, entity, aliases, extra)
    if recipe:
        for header, target in (recipe.get("mapping") or {}).items():
            if header in mapping:
                mapping[header] = target
    mapping.update(overrides or {})
    mapping.update(parse_map_options(map_options, table.headers, entity, extra))
    if not any(mapping.values()):
        raise CrmError(
            f"{book.name}: no column matches a {entity} field (columns: {', '.join(table.headers[:12])}); use --map HEADER=field"
        )
    digest = file_sha256(source) if not isinstance(source, (bytes, bytearray)) else file_sha256(bytes(source))
    return Prepared(book, table, entity, mapping, book.name, digest)


def file_sha256(source: str | Path | bytes) -> str:
    digest = hashlib.sha256()
    if isinstance(source, (bytes, bytearray)):
        digest.update(source)
    else:
        with Path(source).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
