"""The Statement of Applicability as an Excel workbook: an "About" sheet, then one row per Annex A control."""

from __future__ import annotations

from openpyxl import Workbook

from assessments.exports.soa import COLUMNS, StatementOfApplicability
from assessments.exports.workbook import Column, info_sheet, table_sheet, workbook_bytes

WIDTHS = (9, 40, 24, 11, 60, 22, 45)


def soa_xlsx(statement: StatementOfApplicability) -> bytes:
    workbook = Workbook()
    info_sheet(workbook, "Statement of Applicability", statement.facts(), statement.notes())
    columns = [Column(title, width) for title, width in zip(COLUMNS, WIDTHS, strict=True)]
    table_sheet(workbook, "Annex A controls", columns, (statement.cells(row) for row in statement.rows))
    return workbook_bytes(workbook)
