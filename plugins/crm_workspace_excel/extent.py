"""A worksheet's real extent, and a reader that never allocates it.

calamine turns a sheet into one dense grid from its first to its last used cell:
a header in A1 and one stray cell in XFD1048576 is a 17-billion-cell grid
(512 GiB), whatever the ``<dimension>`` element claims. So before calamine sees a
sheet, its XML is scanned for the cells really in it; a sheet whose grid would
be much larger than its cells is read here instead, cell by cell, into rows of
the sheet's own shape. Standard library only: this runs in the parse child
(see ``sandbox.py``) without importing the workspace.
"""

from __future__ import annotations

import re
import zipfile
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from posixpath import join, normpath
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

#: Excel's grid: a cell outside it is not a spreadsheet cell.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
#: Sheets up to this much XML are scanned for their extent before calamine reads them;
#: larger ones are read by calamine under the parse child's memory cap (see ``sandbox.py``).
SCAN_BYTES = 8 * 1024 * 1024
#: calamine may allocate a grid this much larger than the cells really there (plus the slack).
DENSE_FACTOR = 16
DENSE_SLACK = 1_000_000
#: Cells (and XML bytes) the cell-by-cell reader accepts in one sheet.
MAX_CELLS = 20_000_000
MAX_XML_BYTES = 1024 * 1024 * 1024

CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
#: A cell the scan above would not see: a prefixed element, another attribute first, odd spacing.
ODD_CELL = re.compile(rb'<c(?! r="[A-Z]{1,3}[0-9]{1,7}")[\s/>]|:c[\s/>]')
REF = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")
DATE_FORMAT_IDS = set(range(14, 23)) | set(range(27, 37)) | {45, 46, 47} | set(range(50, 59))
QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


class SheetRefused(Exception):
    """The sheet cannot be read safely; the message is one line for the user."""


@dataclass
class Extent:
    """What a sheet's XML really holds: its cells and the grid around them."""

    cells: int
    rows: int  # first to last used row
    columns: int  # first to last used column
    regular: bool  # every cell seen by the scan (no prefixed or unaddressed cells)

    @property
    def grid(self) -> int:
        return self.rows * self.columns

    @property
    def dense(self) -> bool:
        """True when calamine's grid costs about what the cells do."""
        return self.regular and self.grid <= DENSE_FACTOR * self.cells + DENSE_SLACK


def column_index(letters: str | bytes) -> int:
    """0-based column of ``A``..``XFD``."""
    index = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        index = index * 26 + ord(ch) - 64
    return index - 1


def scan(archive: zipfile.ZipFile, member: str) -> Extent:
    """The real extent of a sheet's XML, streamed in chunks (``SCAN_BYTES`` at most)."""
    refs: list[tuple[bytes, bytes]] = []
    regular, seen, tail = True, 0, b""
    with archive.open(member) as handle:
        while chunk := handle.read(1 << 20):
            seen += len(chunk)
            if seen > SCAN_BYTES:
                raise ValueError(f"{member} is larger than the scan budget")
            buffer = tail + chunk
            cut = buffer.rfind(b"<")
            piece, tail = (buffer[:cut], buffer[cut:]) if cut > 0 else (buffer, b"")
            found = CELL_REF.findall(piece)
            refs.extend(found)
            regular = regular and piece.count(b"<c ") == len(found) and not ODD_CELL.search(piece)
    found = CELL_REF.findall(tail)
    refs.extend(found)
    regular = regular and tail.count(b"<c ") == len(found) and not ODD_CELL.search(tail)
    if not refs:
        return Extent(0, 0, 0, regular)
    columns = [column_index(c) for c in {c for c, _ in refs}]
    rows = [int(r) for r in {r for _, r in refs}]
    return Extent(len(refs), max(rows) - min(rows) + 1, max(columns) - min(columns) + 1, regular)


# ----------------------------------------------------------------- workbook parts
def _small_xml(archive: zipfile.ZipFile, member: str) -> ElementTree.Element | None:
    """A small part (workbook, relationships, styles) parsed whole; entity declarations refused."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        return None
    if info.file_size > 64 * 1024 * 1024:
        raise SheetRefused(f"{member} is too large ({info.file_size / 1e6:.0f} MB)")
    data = archive.read(member)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SheetRefused(f"{member} contains XML entity declarations: refused as unsafe")
    return ElementTree.fromstring(data)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element: ElementTree.Element, name: str) -> str | None:
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def sheet_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML member, from the workbook and its relationships."""
    workbook = _small_xml(archive, "xl/workbook.xml")
    rels = _small_xml(archive, "xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return {}
    targets = {}
    for rel in rels:
        target = rel.get("Target") or ""
        targets[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else normpath(join("xl", target))
    members = {}
    for element in workbook.iter():
        if _local(element.tag) == "sheet" and _attr(element, "id") in targets:
            members[element.get("name") or ""] = targets[_attr(element, "id")]
    return members


def _part(archive: zipfile.ZipFile, kind: str, default: str) -> str:
    rels = _small_xml(archive, "xl/_rels/workbook.xml.rels")
    for rel in rels if rels is not None else []:
        if (rel.get("Type") or "").endswith("/" + kind):
            target = rel.get("Target") or ""
            return target.lstrip("/") if target.startswith("/") else normpath(join("xl", target))
    return default


def _is_date_format(code: str) -> bool:
    plain = QUOTED.sub("", code).lower()
    return any(ch in plain for ch in "dmyhs") and "general" not in plain


def _date_styles(archive: zipfile.ZipFile) -> list[bool]:
    """For each cell style index: does it format numbers as dates?"""
    styles = _small_xml(archive, _part(archive, "styles", "xl/styles.xml"))
    if styles is None:
        return []
    custom = {}
    for element in styles.iter():
        if _local(element.tag) == "numFmt":
            custom[element.get("numFmtId")] = _is_date_format(element.get("formatCode") or "")
    result = []
    for element in styles.iter():
        if _local(element.tag) == "cellXfs":
            for xf in element:
                fmt = xf.get("numFmtId") or "0"
                result.append(custom.get(fmt, fmt.isdigit() and int(fmt) in DATE_FORMAT_IDS))
    return result


def _epoch(archive: zipfile.ZipFile) -> datetime:
    workbook = _small_xml(archive, "xl/workbook.xml")
    for element in workbook.iter() if workbook is not None else []:
        if _local(element.tag) == "workbookPr" and (element.get("date1904") or "").lower() in ("1", "true"):
            return datetime(1904, 1, 1)
    return datetime(1899, 12, 30)


def _stream(archive: zipfile.ZipFile, member: str, parser: Any) -> None:
    """Feed a member to an expat parser in chunks, within the byte budget; no DTDs."""

    def refuse(*_args: Any) -> None:
        raise SheetRefused(f"{member} contains XML entity declarations: refused as unsafe")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    seen = 0
    with archive.open(member) as handle:
        while chunk := handle.read(1 << 20):
            seen += len(chunk)
            if seen > MAX_XML_BYTES:
                raise SheetRefused(f"{member} is larger than {MAX_XML_BYTES / 1e9:.0f} GB of XML")
            parser.Parse(chunk, False)
    parser.Parse(b"", True)


def shared_strings(archive: zipfile.ZipFile) -> list[str]:
    member = _part(archive, "sharedStrings", "xl/sharedStrings.xml")
    if member not in archive.namelist():
        return []
    strings: list[str] = []
    state: dict[str, Any] = {"text": None, "phonetic": 0, "in_t": 0}
    parser = expat.ParserCreate(namespace_separator="}")

    def start(tag: str, _attrs: dict) -> None:
        name = _local(tag)
        if name == "si":
            state["text"] = []
        elif name == "rPh":
            state["phonetic"] += 1
        elif name == "t":
            state["in_t"] += 1

    def end(tag: str) -> None:
        name = _local(tag)
        if name == "si":
            strings.append("".join(state["text"] or []))
            state["text"] = None
        elif name == "rPh":
            state["phonetic"] -= 1
        elif name == "t":
            state["in_t"] -= 1

    def text(data: str) -> None:
        if state["text"] is not None and state["in_t"] and not state["phonetic"]:
            state["text"].append(data)

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    _stream(archive, member, parser)
    return strings


# ------------------------------------------------------- reading cell by cell
class _SheetReader:
    """expat handlers that keep only the cells really there, row by row."""

    def __init__(self, strings: list[str], date_styles: list[bool], epoch: datetime):
        self.strings, self.date_styles, self.epoch = strings, date_styles, epoch
        self.rows: dict[int, dict[int, Any]] = {}
        self.merged: list[tuple[tuple[int, int], tuple[int, int]]] = []
        self.count = 0
        self.row, self.column = -1, -1
        self.cell: dict[str, Any] | None = None
        self.text: list[str] | None = None
        self.phonetic = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name == "row":
            self.row = int(attrs["r"]) - 1 if attrs.get("r", "").isdigit() else self.row + 1
            self.column = -1
        elif name == "c":
            ref = attrs.get("r")
            row, column = _position(ref) if ref else (max(self.row, 0), self.column + 1)
            self.row, self.column = row, column
            self.cell = {"t": attrs.get("t", "n"), "s": attrs.get("s"), "v": [], "is": []}
        elif self.cell is not None and name in ("v", "t") and not self.phonetic:
            self.text = self.cell["v" if name == "v" else "is"]
        elif name == "rPh":
            self.phonetic += 1
        elif name == "mergeCell" and attrs.get("ref"):
            first, _, last = attrs["ref"].partition(":")
            self.merged.append((_position(first), _position(last or first)))

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name in ("v", "t"):
            self.text = None
        elif name == "rPh":
            self.phonetic -= 1
        elif name == "c" and self.cell is not None:
            value = self._value(self.cell)
            self.cell = None
            if value is not None and value != "":
                self.count += 1
                if self.count > MAX_CELLS:
                    raise SheetRefused(f"the sheet has more than {MAX_CELLS:,} cells")
                self.rows.setdefault(self.row, {})[self.column] = value

    def characters(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def _value(self, cell: dict[str, Any]) -> Any:
        kind, raw = cell["t"], "".join(cell["v"]).strip()
        if kind == "inlineStr":
            return "".join(cell["is"])
        if kind == "str":
            return "".join(cell["v"])
        if not raw:
            return None
        if kind == "s":
            index = int(raw) if raw.isdigit() else -1
            return self.strings[index] if 0 <= index < len(self.strings) else None
        if kind == "b":
            return raw in ("1", "true")
        if kind == "e":
            return None
        if kind == "d":
            try:
                return datetime.fromisoformat(raw)
            except ValueError:
                return raw
        try:
            number = float(raw)
        except ValueError:
            return raw
        style = int(cell["s"]) if (cell["s"] or "").isdigit() else 0
        if style < len(self.date_styles) and self.date_styles[style] and 0 <= number < 2_958_466:
            return _as_date(number, self.epoch)
        return number


def _position(ref: str) -> tuple[int, int]:
    match = REF.match(ref.strip().replace("$", "").upper())
    if not match:
        raise SheetRefused(f"a cell address is not valid: {ref[:20]!r}")
    row, column = int(match[2]) - 1, column_index(match[1])
    if not (0 <= row < MAX_ROWS and 0 <= column < MAX_COLUMNS):
        raise SheetRefused(f"cell {ref[:20]} lies outside Excel's grid (XFD1048576 is the last cell)")
    return row, column


def _as_date(serial: float, epoch: datetime) -> date | datetime | time:
    """What calamine makes of a date-formatted number: a date, a time of day, or a date and time."""
    moment = epoch + timedelta(milliseconds=round(serial * 86_400_000))
    if serial < 1:
        return moment.time()
    return moment.date() if moment.time() == time() else moment


def read_cells(archive: zipfile.ZipFile, member: str) -> tuple[list[list[Any]], list]:
    """(rows, merged ranges) of one sheet, holding only its real cells.

    Rows before the last used one that hold nothing share one empty list; when the
    used columns are far apart (a stray cell in column XFD), columns holding nothing
    in any row are left out so that no row is padded out to the far column.
    """
    reader = _SheetReader(shared_strings(archive), _date_styles(archive), _epoch(archive))
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
    parser.CharacterDataHandler = reader.characters
    try:
        _stream(archive, member, parser)
    except expat.ExpatError as error:
        raise SheetRefused(f"{member} is not well-formed XML ({error})") from error
    return _assemble(reader.rows, reader.merged, reader.count)


def _assemble(cells: dict[int, dict[int, Any]], merged: list, count: int) -> tuple[list[list[Any]], list]:
    budget = DENSE_FACTOR * count + DENSE_SLACK
    used = sorted({column for row in cells.values() for column in row})
    if sum(max(row) + 1 for row in cells.values()) <= budget:
        place = None
    else:
        place = {column: index for index, column in enumerate(used)}
        if sum(place[max(row)] + 1 for row in cells.values()) > budget:
            raise SheetRefused(
                f"the sheet's {count:,} cells are scattered over {len(cells):,} rows and {len(used):,} columns"
            )
        kept = []
        for (r0, c0), (r1, c1) in merged:
            first, last = bisect_left(used, c0), bisect_right(used, c1) - 1
            if first <= last:
                kept.append(((r0, first), (r1, last)))
        merged = kept
    empty: list[Any] = []
    rows: list[list[Any]] = [empty] * (max(cells) + 1 if cells else 0)
    for index, row in cells.items():
        line = [""] * ((max(row) if place is None else place[max(row)]) + 1)
        for column, value in row.items():
            line[column if place is None else place[column]] = value
        rows[index] = line
    return rows, merged
