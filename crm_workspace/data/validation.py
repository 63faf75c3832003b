"""``store.validator(table)``: the write path's checks, callable ahead of a write.

The importer checks every row while planning (to report each row's problems);
the validator it used then vouches for those records, so the write does not
check them twice (``insert_many(..., validate=False, validated=check)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable


class Validator:
    """``store.validator(table)``: checks records, and vouches for them afterwards (``validated=``)."""

    def __init__(self, table: str, user: str, call: Callable[..., list[dict[str, str]]]):
        self.table = table
        self.user = user
        self._call = call

    def __call__(self, record: dict, before: dict | None) -> dict[str, str]:
        # SQLite stores inf/nan as REAL but its JSON (the audit trail) cannot hold them: refuse
        # them in every field, whatever the column, before any plugin turns them into text.
        errors: dict[str, str] = {
            field: "must be a finite number"
            for field, value in record.items()
            if value.__class__ is not str and isinstance(value, float) and not math.isfinite(value)
        }
        for result in self._call(table=self.table, record=record, before=before):
            for field, message in result.items():
                errors.setdefault(field, message)
        return errors
