"""Messy workbooks for the Excel import tests, built with openpyxl (no binary fixtures)."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
from pathlib import Path

from openpyxl import Workbook


def messy_contacts(path: Path) -> Path:
    """What real exports look like: an instructions sheet, a title, blanks, footers, merges, a hidden sheet."""
    wb = Workbook()
    intro = wb.active
    intro.title = "Instructions"
    intro.append(["How to fill this workbook"])
    intro.append(["1. Put one contact per row on the Contacts sheet."])
    intro.append(["2. Do not change the headers."])
    sheet = wb.create_sheet("Contacts")
    sheet.append(["ACME export — Contacts Q3 2024"])
    sheet.merge_cells("A1:H1")
    sheet.append([])
    sheet.append(
        ["First Name", "Last Name", "Email Address", "Phone", "Company Name", "Lifecycle Stage", "Create Date", "Notes"]
    )
    sheet.append(
        ["  Ana ", "García", " ANA@Example.COM ", 4930123456.0, "Acme GmbH", "MQL", dt.datetime(2024, 3, 5), "N/A"]
    )
    sheet.append(["Bob", "Smith", "bob@example", "-", "acme  gmbh", "lead", 45000, ""])  # bad email: rejected
    sheet.append([None] * 8)  # a blank row in the middle
    sheet.append(
        ["Chloé", "Ünal", "chloe@example.com", "+44 20 7946 0958", "Zeta Ltd", "Customer", "25/03/2024", "VIP"]
    )
    sheet.append(
        ["Dmitri", "Ivanov", "dmitri@example.com", "(212) 555-0123", "Zeta Ltd", "customer", "March 5, 2024", None]
    )
    sheet.append(
        ["Eva", "Novak", "eva@example.com", "n/a", "Acme GmbH", "Opportunity", "2024-01-31", "=cmd|' /C calc'!A0"]
    )
    sheet.append([None, None, "noname@example.com", None, None, None, None, None])  # no name: rejected
    sheet.append(["Farid", "Haddad", "FARID@example.com", None, "Haddad & Sons", "lead", None, "merged cell below"])
    sheet.append(["Grace", "Hopper", "grace@example.com", None, None, "lead", None, None])
    sheet.merge_cells("E11:E12")  # Farid's company spans Grace's row too
    sheet.append(["Ana", "García-López", "ana@example.com", None, "Acme GmbH", "customer", None, None])  # dup of row 4
    sheet.append([])
    sheet.append(["Grand Totals (10 records)"])
    sheet.append(["Confidential Information - Do Not Distribute"])
    hidden = wb.create_sheet("Lists")
    hidden.sheet_state = "hidden"
    for value in ("lead", "customer", "partner", "x", "y", "z"):
        hidden.append([value, value])
    wb.save(path)
    return path


def simple(path: Path, headers: list[str], rows: list[list], sheet: str = "Sheet1") -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(headers)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def deals(path: Path) -> Path:
    return simple(
        path,
        [
            "Deal - Title",
            "Organization - Name",
            "Deal - Contact person",
            "Deal - Value",
            "Deal - Currency",
            "Deal - Stage",
            "Deal - Expected close date",
            "Probability",
        ],
        [
            ["Big renewal", "Acme GmbH", "ana@example.com", "€12.500,50", "", "Proposal Made", "2024-12-31", "50%"],
            ["New logo", "Newco", "Chloé Ünal", "$1,200", "USD", "Closed Won", dt.date(2024, 6, 1), 0.9],
            ["Broken", "Acme GmbH", "", "lots", "", "proposal", "soon", ""],
            ["Ghost", "Acme GmbH", "nobody@nowhere.org", 10, "", "qualification", None, None],
        ],
    )


def dimension_bomb(path: Path) -> Path:
    """A small workbook whose <dimension> claims a million rows."""
    plain = path.with_suffix(".plain.xlsx")
    simple(plain, ["First Name", "Last Name", "Email"], [[f"P{i}", "Test", f"p{i}@example.com"] for i in range(10)])
    _rewrite(
        plain,
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD1048576"', xml),
    )
    return path


def entity_bomb(path: Path) -> Path:
    """A billion-laughs DOCTYPE in the shared strings."""
    plain = path.with_suffix(".plain.xlsx")
    simple(plain, ["First Name", "Last Name"], [["a", "b"]])
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{"&lol;" * 10 if i == 1 else f"&lol{i - 1};" * 10}">'.encode() for i in range(1, 10)
        )
        + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>'
    )
    _rewrite(
        plain,
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: bomb.replace(b"<sst", b"<worksheet").replace(b"</sst>", b"</worksheet>"),
    )
    return path


def zip_bomb(path: Path) -> Path:
    """A workbook whose sheet decompresses ~1000x (a real workbook, a huge member)."""
    plain = path.with_suffix(".plain.xlsx")
    simple(plain, ["First Name", "Last Name"], [["a", "b"]])
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            out.writestr(item, src.read(item.filename))
        out.writestr("xl/media/padding.bin", b"\0" * (64 * 1024 * 1024))
    return path


def forged_sizes(path: Path, declared: int) -> Path:
    """A workbook whose sheet claims ``declared`` bytes in the zip directory but inflates to 64 MB."""
    plain = path.with_suffix(".plain.xlsx")
    simple(plain, ["First Name", "Last Name"], [["a", "b"]])
    member = "xl/worksheets/sheet1.xml"
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        b'2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
        + b"A" * (64 * 1024 * 1024)
        + b"</t></is></c></row></sheetData></worksheet>"
    )
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            out.writestr(item.filename, sheet if item.filename == member else src.read(item.filename))
    raw = bytearray(path.read_bytes())
    name = member.encode()
    # the uncompressed size: at +22 of the local header (PK 3 4), at +24 of the directory entry (PK 1 2)
    for signature, name_length_at, name_at, size_at in ((b"PK\x03\x04", 26, 30, 22), (b"PK\x01\x02", 28, 46, 24)):
        at = raw.find(signature)
        while at >= 0:
            length = struct.unpack_from("<H", raw, at + name_length_at)[0]
            if raw[at + name_at : at + name_at + length] == name:
                struct.pack_into("<I", raw, at + size_at, declared)
            at = raw.find(signature, at + 4)
    path.write_bytes(bytes(raw))
    return path


def random_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("hello.txt", "not a workbook")
    return path


def password_protected(path: Path) -> Path:
    """An OLE2 container holding an EncryptedPackage stream, as Excel writes an encrypted .xlsx."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    directory = bytearray(512)
    name = "EncryptedPackage".encode("utf-16-le")
    directory[: len(name)] = name
    path.write_bytes(bytes(header) + bytes(directory) + b"\0" * 1024)
    return path


def xlsx_bytes(headers: list[str], rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _rewrite(source: Path, target: Path, member: str, change) -> None:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == member:
                data = change(data)
            out.writestr(item, data)


def far_corner(path: Path, last_cell: str = "XFD1048576", *, prefixed: bool = False) -> Path:
    """A header, one row, and one cell at ``last_cell``: 1.5 KB that spans the whole grid.

    calamine makes one dense grid from A1 to the last cell (XFD1048576: 17 billion cells,
    512 GiB). ``prefixed`` writes the sheet with an ``x:`` namespace prefix and cells
    without addresses, the way a scan for ``<c r="`` would not see them.
    """
    plain = path.with_suffix(".plain.xlsx")
    simple(plain, ["First Name", "Last Name", "Email"], [["Ana", "Silva", "ana@example.com"]])
    row = int(re.sub(r"^[A-Z]+", "", last_cell))
    stray = f'<row r="{row}"><c r="{last_cell}" t="inlineStr"><is><t>stray</t></is></c></row>'.encode()

    def change(xml: bytes) -> bytes:
        xml = xml.replace(b"</sheetData>", stray + b"</sheetData>")
        if prefixed:
            xml = re.sub(rb"<(/?)(?=[a-zA-Z])", rb"<\1x:", xml).replace(
                b"<x:worksheet xmlns=", b"<x:worksheet xmlns:x="
            )
            xml = re.sub(rb'(<x:c) r="[A-Z]+2"', rb"\1", xml)  # the data row's cells by position only
        return xml

    _rewrite(plain, path, "xl/worksheets/sheet1.xml", change)
    return path


def ods_far_corner(path: Path, repeat: int = 1_048_573) -> Path:
    """An OpenDocument sheet: a header, one row, then rows repeated out to the grid's last cell."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )

    def row(*values: str) -> str:
        cells = "".join(
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>' for v in values
        )
        return f"<table:table-row>{cells}</table:table-row>"

    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2"><office:body>'
        '<office:spreadsheet><table:table table:name="Sheet1">'
        + row("First Name", "Last Name", "Email")
        + row("Ana", "Silva", "ana@example.com")
        + f'<table:table-row table:number-rows-repeated="{repeat}"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
        + '<table:table-row><table:table-cell table:number-columns-repeated="16383"/>'
        '<table:table-cell office:value-type="string"><text:p>stray</text:p></table:table-cell></table:table-row>'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        out.writestr("META-INF/manifest.xml", manifest)
        out.writestr("content.xml", content)
    return path
