"""Reading spreadsheets safely and finding the data in them.

Every file is checked before a parser sees it (size, type by content, zip member
sizes, XML doctype declarations, encryption), then read with python-calamine
(.xlsx/.xlsm/.xls/.ods) in a sandboxed child process (``sandbox.py``; sheets whose
grid is far larger than their cells are read cell by cell, ``extent.py``), or with
the csv module. Then: which sheet holds the data,
which row is the header, which rows are titles, blanks and footers.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import weakref
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from crm_workspace import CrmError

#: Largest file accepted at all, and largest total decompressed size of a workbook.
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
#: A member this much larger than its compressed size is a decompression bomb.
MAX_RATIO = 200
MAX_CSV_ROWS = 2_000_000
#: Longest CSV field accepted (the csv module's default, 128 KiB, is a traceback past it).
MAX_CSV_FIELD = 1024 * 1024
#: Byte-order marks, longest first (UTF-32's little-endian mark begins with UTF-16's).
BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")

SKIP_SHEET = re.compile(r"instruction|read\s*me|readme|notes?$|about|help|cover|legend|lookup|lists?$", re.I)
FOOTER = re.compile(
    r"^\s*(grand\s+)?totals?\b|\brecords?\)?\s*$|confidential|do not distribute|generated (on|by|at)|"
    r"^\s*page \d|copyright|©|all rights reserved|^\s*(source|report) ?:|^\s*end of report|^\s*count\b",
    re.I,
)


class UnreadableFile(CrmError):
    """The file is not a spreadsheet we can read (or not safely)."""


@dataclass
class SheetInfo:
    name: str
    visible: bool = True


@dataclass
class Table:
    """The data found on one sheet: the header and the data rows (with their sheet row numbers)."""

    sheet: str
    header_row: int  # 0-based index in the sheet
    headers: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]  # 1-based sheet row number of every data row
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, why) of junk rows


class Book:
    """An opened spreadsheet: its sheets, and their cell values."""

    def __init__(self, name: str, sheets: list[SheetInfo], loader: Any):
        self.name = name
        self.sheets = sheets
        self._loader = loader
        self._cache: dict[str, tuple[list[list[Any]], list]] = {}

    @property
    def sheet_names(self) -> list[str]:
        return [s.name for s in self.sheets]

    def cells(self, sheet: str) -> tuple[list[list[Any]], list]:
        """(rows of values, merged ranges) of ``sheet``."""
        if sheet not in self._cache:
            if sheet not in self.sheet_names:
                raise CrmError(f"no sheet named '{sheet}' in {self.name} (sheets: {', '.join(self.sheet_names)})")
            self._cache[sheet] = self._loader([sheet])[0]
        return self._cache[sheet]

    def _prefetch(self, sheets: list[str]) -> None:
        """Load several sheets at once (one parse child for all of them)."""
        missing = [name for name in sheets if name not in self._cache]
        if len(missing) > 1:
            self._cache.update(zip(missing, self._loader(missing), strict=True))

    def default_sheet(self) -> str:
        """The sheet that looks most like data: visible, not instructions, most filled rows."""
        candidates = [s.name for s in self.sheets if s.visible and not SKIP_SHEET.search(s.name)]
        candidates = candidates or [s.name for s in self.sheets if s.visible] or self.sheet_names
        if len(candidates) == 1:
            return candidates[0]
        self._prefetch(candidates)
        best, best_score = candidates[0], -1.0
        for name in candidates:
            rows, _ = self.cells(name)
            sample = rows[:200]
            filled = sum(1 for row in sample if _count(row) >= 2)
            widths = sorted((_count(row) for row in sample), reverse=True)
            typical = widths[len(widths) // 4] if widths else 0
            score = filled * max(typical, 1) + (len(rows) if filled > 3 else 0)
            if score > best_score:
                best, best_score = name, score
        return best

    def table(self, sheet: str | None = None, header_row: int | None = None) -> Table:
        sheet = sheet or self.default_sheet()
        rows, merged = self.cells(sheet)
        return find_table(sheet, rows, merged, header_row)


# -------------------------------------------------------------- opening files
def open_book(source: str | Path | bytes, name: str | None = None) -> Book:
    """Open a spreadsheet from a path or bytes; a bad file raises ``UnreadableFile`` with one clear line."""
    if isinstance(source, (bytes, bytearray)):
        data: bytes | None = bytes(source)
        name = name or "upload"
        size = len(data)
        path = None
    else:
        path = Path(source)
        name = name or path.name
        if not path.exists():
            raise UnreadableFile(f"no such file: {path}")
        if path.is_dir():
            raise UnreadableFile(f"{path} is a directory, not a spreadsheet")
        size = path.stat().st_size
        data = None
    if size == 0:
        raise UnreadableFile(f"{name} is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise UnreadableFile(f"{name} is too large ({size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB)")
    if data is None:
        with path.open("rb") as handle:
            head = handle.read(8)
    else:
        head = data[:8]
    suffix = Path(name).suffix.lower()
    if head.startswith(ZIP_MAGIC):
        return _open_zip(path, data, name)
    if head.startswith(OLE_MAGIC):
        raw = data if data is not None else path.read_bytes()
        if ENCRYPTED_MARK in raw:
            raise UnreadableFile(f"{name} is password-protected: open it in Excel, remove the password, save, retry")
        return _open_calamine(path, data, name, size)
    raw = data if data is not None else path.read_bytes()
    if suffix in (".csv", ".txt", ".tsv") or (suffix == "" and _looks_like_text(raw)):
        return _open_csv(raw, name)
    if _looks_like_text(raw):
        kind = "CSV" if _looks_like_csv(raw) else "plain text"
        raise UnreadableFile(f"{name} is not an Excel workbook: it contains {kind} (rename it to .csv to import it)")
    raise UnreadableFile(f"{name} is not a spreadsheet (.xlsx, .xlsm, .xls, .ods or .csv)")


def _open_zip(path: Path | None, data: bytes | None, name: str) -> Book:
    try:
        archive = zipfile.ZipFile(path if data is None else io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as error:
        raise UnreadableFile(f"{name} is a damaged zip/xlsx file ({error})") from error
    with archive:
        members = archive.infolist()
        names = {m.filename for m in members}
        is_xlsx = "xl/workbook.xml" in names or "xl/workbook.bin" in names
        is_ods = "content.xml" in names and "mimetype" in names
        if not (is_xlsx or is_ods):
            raise UnreadableFile(f"{name} is a zip archive but not an Excel workbook (no xl/workbook.xml)")
        total = sum(m.file_size for m in members)
        if total > MAX_UNZIPPED_BYTES:
            raise UnreadableFile(
                f"{name} would decompress to {total / 1e9:.1f} GB (the limit is {MAX_UNZIPPED_BYTES / 1e9:.0f} GB): refused"
            )
        for member in members:
            if member.file_size > 10_000_000 and member.file_size > MAX_RATIO * max(member.compress_size, 1):
                raise UnreadableFile(
                    f"{name} looks like a zip bomb ({member.filename} expands {member.file_size // max(member.compress_size, 1)}x): refused"
                )
        for member in members:
            if member.filename.endswith((".xml", ".rels", ".vml")):
                try:
                    with archive.open(member) as handle:
                        start = handle.read(4096)
                except (zipfile.BadZipFile, zlib.error, EOFError) as error:  # e.g. a size the data belies
                    raise UnreadableFile(f"{name} is a damaged zip/xlsx file ({error})") from error
                if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                    raise UnreadableFile(
                        f"{name} contains XML entity declarations ({member.filename}): refused as unsafe"
                    )
    return _open_calamine(path, data, name, total, xlsx=is_xlsx)


def _open_calamine(
    path: Path | None, data: bytes | None, name: str, workbook_bytes: int, *, xlsx: bool = False
) -> Book:
    """A workbook whose every parse runs in a sandboxed child (see ``sandbox.py``).

    An upload is spilled to a private temporary file that lives as long as the Book.
    """
    from . import sandbox
    from .warm import warm_up

    warm_up()  # while the children below parse
    spilled = None
    if path is None:
        handle, spilled = tempfile.mkstemp(prefix="crm-upload-", suffix=Path(name).suffix.lower()[:8])
        with os.fdopen(handle, "wb") as out:
            out.write(data or b"")
        path = Path(spilled)
    try:
        listed = sandbox.run("sheets", path, workbook_bytes)
    except sandbox.ParseFailed as error:
        if spilled:
            os.unlink(spilled)
        if error.kind == "password":
            raise UnreadableFile(f"{name} is password-protected: remove the password and retry") from error
        if error.kind in ("memory", "timeout", "crash"):
            raise UnreadableFile(f"this spreadsheet could not be read: {error} ({name})") from error
        raise UnreadableFile(f"{name} cannot be read as a spreadsheet: {error}") from error
    sheets = [SheetInfo(sheet, visible) for sheet, visible in listed]
    if not sheets:
        if spilled:
            os.unlink(spilled)
        raise UnreadableFile(f"{name} has no worksheets")

    def load(wanted: list[str]) -> list[tuple[list[list[Any]], list]]:
        try:
            try:
                return sandbox.run("load", path, workbook_bytes, "auto", *wanted)
            except sandbox.ParseFailed as error:
                if error.kind != "memory" or not xlsx:
                    raise
                # the grid was far larger than the cells: read them one by one instead
                return sandbox.run("load", path, workbook_bytes, "cells", *wanted)
        except sandbox.ParseFailed as error:
            which = ", ".join(f"'{sheet}'" for sheet in wanted)
            if error.kind in ("memory", "timeout", "crash"):
                raise UnreadableFile(f"this spreadsheet could not be read: {error} ({name}, sheet {which})") from error
            raise UnreadableFile(f"{name}: sheet {which} cannot be read: {error}") from error

    book = Book(name, sheets, load)
    if spilled:
        weakref.finalize(book, _unlink, spilled)
    return book


def _unlink(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def _open_csv(raw: bytes, name: str) -> Book:
    text = _decode(raw)
    sample = text[:20_000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[Any]] = []
    if csv.field_size_limit() < MAX_CSV_FIELD:
        csv.field_size_limit(MAX_CSV_FIELD)
    lines = csv.reader(io.StringIO(text), dialect)
    try:
        for row in lines:
            rows.append(row)
            if len(rows) > MAX_CSV_ROWS:
                raise UnreadableFile(f"{name} has more than {MAX_CSV_ROWS:,} rows")
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise UnreadableFile(
                f"{name}: line {lines.line_num} has a field longer than {csv.field_size_limit() // 1024:,} KiB: "
                "is it really a CSV file (or is a quote left open)?"
            ) from error
        raise UnreadableFile(f"{name}: line {lines.line_num} cannot be read as CSV: {_first_line(error)}") from error
    width = max((len(r) for r in rows), default=0)
    for row in rows:
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    sheet = Path(name).stem or "csv"
    return Book(name, [SheetInfo(sheet)], lambda _sheets: [(rows, [])])


def _decode(raw: bytes) -> str:
    """The text of a CSV file: by its byte-order mark (UTF-8/16/32) if it has one, else UTF-8 or cp1252."""
    for mark, encoding in BOMS:
        if raw.startswith(mark):
            return raw.decode(encoding, errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _looks_like_text(raw: bytes) -> bool:
    if raw.startswith(tuple(mark for mark, _ in BOMS)):
        return True
    sample = raw[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as error:
        if error.start > len(sample) - 4:  # a character cut at the sample's end
            return True
        return all(b >= 32 or b in (9, 10, 13) for b in sample[:512])


def _looks_like_csv(raw: bytes) -> bool:
    lines = _decode(raw[:4096]).encode("utf-8", "replace").splitlines()[:5]
    return len(lines) >= 2 and all(line.count(b",") >= 1 or line.count(b";") >= 1 for line in lines)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


# ------------------------------------------------------------ finding the data
def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def _count(row: list[Any]) -> int:
    return sum(1 for v in row if not _blank(v))


def _header_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime, date, time)):
        value = value.isoformat()
    return " ".join(str(value).split())


def detect_header(rows: list[list[Any]], scan: int = 30) -> int:
    """Index of the header row: the first row of several distinct text labels with data below it."""
    best, best_count = 0, -1
    width = max((_count(r) for r in rows[: scan + 50]), default=0)
    for index, row in enumerate(rows[:scan]):
        values = [v for v in row if not _blank(v)]
        if len(values) < 2 or not all(isinstance(v, str) for v in values):
            continue
        if len({_header_text(v).lower() for v in values}) < len(values):
            continue
        if FOOTER.search(str(values[0])) and len(values) <= 2:
            continue
        below = next((r for r in rows[index + 1 : index + 6] if _count(r)), None)
        if below is None:
            continue
        if len(values) > best_count:
            best, best_count = index, len(values)
            if best_count >= max(2, width * 0.8):
                break
    return best


def junk_reason(row: list[Any], width: int) -> str | None:
    """Why a row under the header is not data (a footer, a total, a note), or None."""
    values = [v for v in row if not _blank(v)]
    if not values:
        return "blank"
    first = values[0]
    if (
        isinstance(first, str)
        and FOOTER.search(first)
        and (len(values) <= 2 or re.match(r"\s*(grand\s+)?totals?\b", first, re.I))
    ):
        return f"footer: {first.strip()[:60]}"
    return None


def find_table(sheet: str, rows: list[list[Any]], merged: list | None = None, header_row: int | None = None) -> Table:
    """Header and data rows of one sheet: titles, blanks and footers left out; merged cells filled."""
    if not rows:
        return Table(sheet, 0, [], [], [])
    header = detect_header(rows) if header_row is None else header_row
    if header >= len(rows):
        raise CrmError(f"sheet '{sheet}' has no row {header + 1}")
    for (r0, c0), (r1, c1) in merged or []:
        if r0 <= header:
            continue  # a title or a grouped header: leave it alone
        value = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
        for r in range(r0, min(r1 + 1, len(rows))):
            for c in range(c0, min(c1 + 1, len(rows[r]))):
                if _blank(rows[r][c]):
                    rows[r][c] = value
    raw_headers = rows[header]
    used = [i for i, v in enumerate(raw_headers) if not _blank(v)]
    last = (used[-1] + 1) if used else 0
    headers, seen = [], {}
    for i in range(last):
        text = _header_text(raw_headers[i]) if not _blank(raw_headers[i]) else f"Column {i + 1}"
        if text.lower() in seen:
            seen[text.lower()] += 1
            text = f"{text} ({seen[text.lower()]})"
        else:
            seen[text.lower()] = 1
        headers.append(text)
    data, numbers, skipped = [], [], []
    width = len(headers)
    footer_like: dict[str, bool] = {}  # first cells repeat (names, stages): each searched once
    for index in range(header + 1, len(rows)):
        row = rows[index]
        # fast path: a normal data row has a non-blank first or second cell that is not footer-like
        reason = None
        first = row[0] if row else None
        if first.__class__ is str:
            footer = footer_like.get(first)
            if footer is None:
                footer = footer_like[first] = not first.strip() or FOOTER.search(first) is not None
            if footer:
                reason = junk_reason(row, width)
        elif _blank(first) or (isinstance(first, str) and FOOTER.search(first)):
            reason = junk_reason(row, width)
        if reason:
            if reason != "blank":
                skipped.append((index + 1, reason))
            continue
        if len(row) != width:
            row = (row + [None] * width)[:width]
        data.append(row)
        numbers.append(index + 1)
    return Table(sheet, header, headers, data, numbers, skipped)
