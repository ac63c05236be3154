"""A policy version as a Word document a small business can go on editing: real Word headings, list
styles (numbered lists restart where the policy restarts them), tables with a repeating header row,
A4 pages, UK English proofing, and a footer with the policy and "page N of M"."""

from __future__ import annotations

import io

from django.utils import timezone
from docx import Document
from docx.document import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.styles.style import ParagraphStyle
from docx.table import Table as WordTable
from docx.text.paragraph import Paragraph as WordParagraph

from policies.exports import PolicyDocument, policy_document
from policies.exports.markdown_blocks import Block, Heading, ListBlock, Span, Spans
from policies.exports.markdown_blocks import Paragraph as TextParagraph
from policies.exports.markdown_blocks import Table as TextTable
from policies.models import PolicyVersion

CONTENT_WIDTH = Mm(210 - 2 * 22)
MAX_PROPERTY = 255


def policy_docx(version: PolicyVersion) -> bytes:
    document = policy_document(version)
    word = Document()
    _page_setup(word, document)
    _core_properties(word, document)
    _WordWriter(word).write(document)
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def _page_setup(word: WordDocument, document: PolicyDocument) -> None:
    section = word.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(22)
    section.top_margin = section.bottom_margin = Mm(20)
    # UK English proofing for everything that does not say otherwise.
    for lang in word.styles.element.xpath("w:docDefaults/w:rPrDefault/w:rPr/w:lang"):
        lang.set(qn("w:val"), "en-GB")

    footer = section.footer.paragraphs[0]
    footer.style = word.styles["Footer"]
    footer.add_run(f"{document.footer} · Page ")
    _field(footer, "PAGE", "1")
    footer.add_run(" of ")
    _field(footer, "NUMPAGES", "1")
    for run in footer.runs:
        run.font.size = Pt(8)


def _core_properties(word: WordDocument, document: PolicyDocument) -> None:
    now = timezone.now()
    properties = word.core_properties
    properties.title = _property(document.title)
    properties.author = _property(document.organisation)
    properties.last_modified_by = _property(document.organisation)
    properties.subject = f"Version {document.version}, {document.status.lower()}"
    properties.category = "Policy"
    properties.keywords = _property(", ".join(group.framework for group in document.frameworks))
    properties.comments = "Exported from Greenlight."
    properties.language = "en-GB"
    properties.revision = 1
    properties.created = properties.modified = now


def _property(text: str) -> str:
    """Word's core properties hold at most 255 characters."""
    return text if len(text) <= MAX_PROPERTY else text[: MAX_PROPERTY - 1].rstrip() + "…"


def _field(paragraph: WordParagraph, instruction: str, placeholder: str) -> None:
    """A field Word fills in when it lays the page out (PAGE, NUMPAGES), at the footer's size."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "16")
    properties.append(size)
    text = OxmlElement("w:t")
    text.text = placeholder
    run.extend([properties, text])
    field.append(run)
    paragraph._p.append(field)


class _WordWriter:
    def __init__(self, word: WordDocument) -> None:
        self.word = word
        styles = word.styles
        # Looked up once and applied by id: python-docx scans every style each time it is given one.
        self.style: dict[str, ParagraphStyle] = {
            name: styles[name]
            for name in (
                "Normal",
                "Title",
                "Subtitle",
                "Heading 1",
                "Heading 2",
                "Heading 3",
                "List Bullet",
                "List Bullet 2",
                "List Bullet 3",
                "List Number",
                "List Number 2",
                "List Number 3",
            )
        }
        self.table_style = styles["Table Grid"]

    def paragraph(self, style: str, text: str = "") -> WordParagraph:
        paragraph = self.word.add_paragraph(text)
        if style != "Normal":
            paragraph._p.style = self.style[style].style_id
        return paragraph

    def write(self, document: PolicyDocument) -> None:
        self.paragraph("Subtitle", document.organisation)
        self.paragraph("Title", document.title)
        self.key_values(document.details)

        if not document.sections:
            self.paragraph("Normal", "This version has no sections yet.")
        for section in document.sections:
            self.paragraph("Heading 1", section.title or "Untitled section")
            self.blocks(section.blocks)

        # The approval record and the appendix share a page at the back, as in the PDF.
        self.word.add_page_break()
        self.paragraph("Heading 1", "Approval record")
        if document.approval is None:
            self.paragraph("Normal", "This version has not been approved yet.")
        else:
            approval = document.approval
            self.key_values(
                [
                    ("Approved by", approval.approved_by),
                    ("Approved on", approval.approved_on),
                    ("Comment", approval.comment or "No comment."),
                ]
            )

        self.paragraph("Heading 1", "Appendix: Controls this policy satisfies")
        if not document.frameworks:
            self.paragraph("Normal", "No controls are mapped to this policy yet.")
        for group in document.frameworks:
            self.paragraph("Heading 2", group.framework)
            table = self.table(["Ref", "Control"], [[ref, title] for ref, title in group.controls])
            self.widths(table, [Mm(30), CONTENT_WIDTH - Mm(30)])

    # --- Building blocks --------------------------------------------------------------------------
    def spans(self, paragraph: WordParagraph, spans: Spans) -> None:
        for span in spans:
            run = paragraph.add_run(span.text)
            if span.bold:
                run.bold = True
            if span.italic:
                run.italic = True

    def blocks(self, blocks: list[Block]) -> None:
        for block in blocks:
            if isinstance(block, Heading):
                paragraph = self.paragraph("Heading 2" if block.level <= 3 else "Heading 3")
                self.spans(paragraph, block.spans)
            elif isinstance(block, TextParagraph):
                self.spans(self.paragraph("Normal"), block.spans)
            elif isinstance(block, ListBlock):
                self.list_block(block)
            elif isinstance(block, TextTable):
                self.markdown_table(block)

    def list_block(self, block: ListBlock) -> None:
        restart_id = self.restarted_numbering(block.start) if block.ordered else None
        for item in block.items:
            kind = "List Number" if item.ordered else "List Bullet"
            style = kind if item.level == 0 else f"{kind} {item.level + 1}"
            paragraph = self.paragraph(style)
            if restart_id is not None and item.level == 0:
                number_properties = paragraph._p.get_or_add_pPr().get_or_add_numPr()
                number_properties.get_or_add_ilvl().val = 0
                number_properties.get_or_add_numId().val = restart_id
            self.spans(paragraph, item.spans)

    def restarted_numbering(self, start: int) -> int:
        """A new numbering instance of the "List Number" style's list, starting at `start`: without it,
        every numbered list in the document would carry on from the one before."""
        numbering = self.word.part.numbering_part.element
        style_num_id = self.style["List Number"].element.pPr.numPr.numId.val
        abstract_id = numbering.num_having_numId(style_num_id).abstractNumId.val
        num = numbering.add_num(abstract_id)
        num.add_lvlOverride(ilvl=0).add_startOverride(start)
        return int(num.numId)

    def markdown_table(self, block: TextTable) -> None:
        table = self.word.add_table(rows=1, cols=len(block.header))
        self.style_table(table)
        for cell, spans in zip(table.rows[0].cells, block.header, strict=True):
            self.spans(cell.paragraphs[0], tuple(Span(span.text, bold=True, italic=span.italic) for span in spans))
        for row in block.rows:
            for cell, spans in zip(table.add_row().cells, row, strict=True):
                self.spans(cell.paragraphs[0], spans)
        self.paragraph("Normal")  # Word joins adjacent tables without it

    def table(self, header: list[str], rows: list[list[str]]) -> WordTable:
        table = self.word.add_table(rows=1, cols=len(header))
        self.style_table(table)
        for cell, text in zip(table.rows[0].cells, header, strict=True):
            cell.paragraphs[0].add_run(text).bold = True
        for row in rows:
            for cell, text in zip(table.add_row().cells, row, strict=True):
                cell.paragraphs[0].add_run(text)
        return table

    def style_table(self, table: WordTable) -> None:
        table.style = self.table_style
        table.alignment = WD_TABLE_ALIGNMENT.LEFT
        # The header row repeats at the top of every page the table runs on to.
        header = OxmlElement("w:tblHeader")
        header.set(qn("w:val"), "true")
        table.rows[0]._tr.get_or_add_trPr().append(header)

    def key_values(self, rows: list[tuple[str, str]]) -> None:
        table = self.word.add_table(rows=0, cols=2)
        table.style = self.table_style
        for label, value in rows:
            label_cell, value_cell = table.add_row().cells
            label_cell.paragraphs[0].add_run(label).bold = True
            value_cell.paragraphs[0].add_run(value)
        self.widths(table, [Mm(40), CONTENT_WIDTH - Mm(40)])

    def widths(self, table: WordTable, widths: list[int]) -> None:
        table.autofit = False
        # Word reads the cells' widths, LibreOffice the grid's: set both.
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width
        for row in table.rows:
            for cell, width in zip(row.cells, widths, strict=True):
                cell.width = width
