"""The house style of exported spreadsheets: a bold header row that stays in view, set column widths,
wrapped text, and a first sheet saying whose document it is, when it was made and from what."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E3D")
WRAP = Alignment(wrap_text=True, vertical="top")
# Excel refuses sheet titles longer than this, and these characters in them.
MAX_SHEET_TITLE = 31
SHEET_TITLE_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", " "))


@dataclass(frozen=True)
class Column:
    title: str
    width: int


def _as_text(cell: Any) -> None:
    """openpyxl takes any text starting with "=" for a formula: what people typed stays text."""
    if cell.data_type == "f":
        cell.data_type = "s"


def sheet_title(text: str) -> str:
    return text.translate(SHEET_TITLE_FORBIDDEN).strip()[:MAX_SHEET_TITLE]


def info_sheet(workbook: Workbook, title: str, facts: Iterable[tuple[str, str]], notes: Sequence[str] = ()) -> None:
    """The workbook's first sheet: a heading, label/value pairs and notes."""
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "About"
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 90
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    for label, value in facts:
        sheet.append([label, value])
        _as_text(sheet.cell(row=sheet.max_row, column=2))
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
        sheet.cell(row=sheet.max_row, column=2).alignment = WRAP
    if notes:
        sheet.append([])
        for note in notes:
            sheet.append(["", note])
            sheet.cell(row=sheet.max_row, column=2).alignment = WRAP


def table_sheet(workbook: Workbook, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> Worksheet:
    """A sheet of rows under a frozen, bold header, every cell wrapped and aligned to the top."""
    sheet = workbook.create_sheet(sheet_title(title))
    sheet.append([column.title for column in columns])
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, WRAP
        sheet.column_dimensions[cell.column_letter].width = column.width
    for row in rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            cell.alignment = WRAP
            _as_text(cell)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    return sheet


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
