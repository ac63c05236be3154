from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime

import docx
import pytest
from pypdf import PdfReader

from accounts.tests.factories import OrganisationFactory, UserFactory
from compliance.tests.factories import ControlFactory, FrameworkFactory
from policies.bench import ten_page_sections
from policies.exports import export_filename, policy_document
from policies.exports.docx import policy_docx
from policies.exports.markdown_blocks import (
    Heading,
    ListBlock,
    Paragraph,
    Span,
    Table,
    parse_blocks,
    parse_inline,
)
from policies.exports.pdf import policy_pdf
from policies.models import PolicyStatus
from policies.tests.factories import PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

BODY = """Everyone who works for us keeps customer data safe.

### Passwords

Use a password manager. Passwords are **never** shared and *always* unique.

- Turn on multi-factor authentication for email
- Lock your screen when you step away

1. Report the incident to the IT Lead
2. Write down what happened

| Role | Responsibility |
|---|---|
| IT Lead | Reviews access every quarter |
| Managing Director | Approves this policy |
"""


def section(title: str, body: str, key: str = "") -> dict[str, str]:
    return {"key": key or title.lower(), "title": title, "body": body, "origin": "template", "provider": ""}


@pytest.fixture
def version():
    organisation = OrganisationFactory(name="Acme Bakery Ltd")
    approver = UserFactory(full_name="Priya Shah")
    policy = PolicyFactory(
        organisation=organisation,
        title="Information Security Policy",
        status=PolicyStatus.PUBLISHED,
        review_date=date(2026, 11, 22),
        owner=UserFactory(full_name="Tom Baker"),
    )
    iso = FrameworkFactory(name="ISO/IEC 27001", version="2022", position=1)
    essentials = FrameworkFactory(name="Cyber Essentials", version="3.3", position=0)
    policy.controls.add(
        ControlFactory(group__framework=iso, ref="5.15", title="Access control", position=2),
        ControlFactory(group__framework=iso, ref="5.1", title="Policies for information security", position=1),
        ControlFactory(group__framework=essentials, ref="UA.4", title="Multi-factor authentication"),
        ControlFactory(group__framework=essentials, ref="OLD.1", retired_at=datetime(2026, 1, 1, tzinfo=UTC)),
    )
    return PolicyVersionFactory(
        organisation=organisation,
        policy=policy,
        number=3,
        sections=[section("Purpose", BODY), section("Scope", "This policy applies to all staff.")],
        approved_by=approver,
        approved_at=datetime(2026, 11, 20, 14, 5, tzinfo=UTC),
        approval_comment="Approved at the November board meeting.",
        published_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
    )


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


# --- PDF ------------------------------------------------------------------------------------------
def test_pdf_shows_cover_sections_approval_and_control_appendix(version):
    text = pdf_text(policy_pdf(version))

    assert "Acme Bakery Ltd" in text
    assert "Information Security Policy" in text
    assert "Version 3" in text
    assert "Status Published" in text
    assert "Published 21 November 2026" in text
    assert "Review date 22 November 2026" in text
    assert "Policy owner Tom Baker" in text
    assert "Everyone who works for us keeps customer data safe." in text
    assert "Turn on multi-factor authentication for email" in text
    assert "Report the incident to the IT Lead" in text
    assert "Reviews access every quarter" in text
    assert "Approved by Priya Shah" in text
    assert "Approved on 20 November 2026, 14:05" in text
    assert "Approved at the November board meeting." in text
    assert "Controls this policy satisfies" in text


def test_pdf_appendix_groups_live_controls_by_framework_in_library_order(version):
    text = pdf_text(policy_pdf(version))

    appendix = text[text.index("Controls this policy satisfies") :]
    assert appendix.index("Cyber Essentials 3.3") < appendix.index("UA.4 Multi-factor authentication")
    assert appendix.index("UA.4") < appendix.index("ISO/IEC 27001 2022")
    assert appendix.index("5.1 Policies for information security") < appendix.index("5.15 Access control")
    assert "OLD.1" not in appendix


def test_pdf_has_footer_with_page_numbers_and_metadata(version):
    content = policy_pdf(version)
    reader = PdfReader(io.BytesIO(content))

    first_page = " ".join(reader.pages[0].extract_text().split())
    assert "Acme Bakery Ltd · Information Security Policy · version 3" in first_page
    assert f"Page 1 of {len(reader.pages)}" in first_page
    assert reader.metadata.title == "Information Security Policy (version 3)"
    assert reader.metadata.author == "Acme Bakery Ltd"
    assert [item.title for item in reader.outline if not isinstance(item, list)][:2] == ["Purpose", "Scope"]


def test_pdf_marks_bold_and_italic_with_the_font_faces(version):
    content = policy_pdf(version)

    fonts = {
        str(font["/BaseFont"])
        for page in PdfReader(io.BytesIO(content)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any(name.endswith("-Bold") or "Bold" in name for name in fonts)
    assert any("Oblique" in name or "It" in name for name in fonts)


# --- Word -----------------------------------------------------------------------------------------
def open_docx(content: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(content))


def test_docx_uses_word_headings_lists_and_tables(version):
    word = open_docx(policy_docx(version))
    styled = [(paragraph.style.name, paragraph.text) for paragraph in word.paragraphs]

    assert ("Title", "Information Security Policy") in styled
    assert ("Subtitle", "Acme Bakery Ltd") in styled
    assert ("Heading 1", "Purpose") in styled
    assert ("Heading 1", "Scope") in styled
    assert ("Heading 2", "Passwords") in styled
    assert ("List Bullet", "Turn on multi-factor authentication for email") in styled
    assert ("List Number", "Write down what happened") in styled
    assert ("Heading 1", "Approval record") in styled
    assert ("Heading 1", "Appendix: Controls this policy satisfies") in styled
    assert ("Heading 2", "Cyber Essentials 3.3") in styled
    cells = [[cell.text for cell in row.cells] for table in word.tables for row in table.rows]
    assert ["IT Lead", "Reviews access every quarter"] in cells
    assert ["Approved by", "Priya Shah"] in cells
    assert ["Review date", "22 November 2026"] in cells
    assert ["UA.4", "Multi-factor authentication"] in cells


def test_docx_keeps_bold_and_italic_as_run_formatting(version):
    word = open_docx(policy_docx(version))

    runs = [run for paragraph in word.paragraphs for run in paragraph.runs]
    assert any(run.text == "never" and run.bold for run in runs)
    assert any(run.text == "always" and run.italic for run in runs)


def test_docx_sets_core_properties_a4_and_footer(version):
    word = open_docx(policy_docx(version))

    assert word.core_properties.title == "Information Security Policy"
    assert word.core_properties.author == "Acme Bakery Ltd"
    assert word.core_properties.language == "en-GB"
    page = word.sections[0]
    assert (round(page.page_width.mm), round(page.page_height.mm)) == (210, 297)
    footer = page.footer.paragraphs[0]
    assert footer.text.startswith("Acme Bakery Ltd · Information Security Policy · version 3 · Page")
    assert 'w:instr="NUMPAGES"' in footer._p.xml


def test_docx_numbered_lists_restart_in_each_section(version):
    version.sections = [section("One", "1. first\n2. second"), section("Two", "3. third\n4. fourth")]
    word = open_docx(policy_docx(version))

    numbered = [p for p in word.paragraphs if p.style.name == "List Number"]
    num_ids = [p._p.pPr.numPr.numId.val for p in numbered]
    assert num_ids[0] == num_ids[1] != num_ids[2] == num_ids[3]
    numbering = word.part.numbering_part.element
    start = numbering.num_having_numId(num_ids[2]).lvlOverride_lst[0].startOverride.val
    assert start == 3


def test_docx_filename_is_the_title_and_version(version):
    assert export_filename(version, "docx") == "information-security-policy-v3.docx"


# --- Both -----------------------------------------------------------------------------------------
def test_exports_keep_special_characters_and_never_treat_text_as_markup():
    version = PolicyVersionFactory(
        organisation=OrganisationFactory(name="Fish & Chips <Ltd>"),
        policy__title="Terms & “Conditions”",
        sections=[
            section(
                "Fees & <charges>",
                "Card fees of £5 & “quoted” terms, <b>not bold</b> and <script>x</script>.\n\n- Bullet & <tag>",
            )
        ],
    )

    text = pdf_text(policy_pdf(version))
    word = open_docx(policy_docx(version))
    paragraphs = [paragraph.text for paragraph in word.paragraphs]

    for expected in (
        "Fish & Chips <Ltd>",
        "Terms & “Conditions”",
        "Fees & <charges>",
        "Card fees of £5 & “quoted” terms, <b>not bold</b> and <script>x</script>.",
        "Bullet & <tag>",
    ):
        assert expected in text
        assert expected in paragraphs
    assert word.core_properties.author == "Fish & Chips <Ltd>"


def test_exports_handle_a_version_with_no_sections_no_approval_and_no_controls():
    version = PolicyVersionFactory(sections=[], policy__status=PolicyStatus.DRAFT)

    text = pdf_text(policy_pdf(version))
    paragraphs = [paragraph.text for paragraph in open_docx(policy_docx(version)).paragraphs]

    for expected in (
        "This version has no sections yet.",
        "This version has not been approved yet.",
        "No controls are mapped to this policy yet.",
    ):
        assert expected in text
        assert expected in paragraphs
    assert "Status Draft" in text
    assert "Published Not published" in text
    assert "Review date Not set" in text


def test_exports_handle_very_long_text():
    long_word = "x" * 3000
    long_paragraph = " ".join(f"word{i}" for i in range(2500))
    version = PolicyVersionFactory(
        # As long as the title field allows (200 characters), so it wraps on the cover and in headers.
        policy__title=("A very long title " * 15)[:200],
        sections=[
            section("Long", f"{long_paragraph}\n\n{long_word}\n\nThe end of the long section."),
            section("A heading that runs on " * 300, "Under the long heading."),
            # A cell taller than a page splits across pages instead of failing the layout.
            section("Long table", f"| Ref | Text |\n|---|---|\n| 1 | {long_paragraph} |\n| 2 | Last row |"),
        ],
    )

    content = policy_pdf(version)
    text = pdf_text(content)
    paragraphs = [paragraph.text for paragraph in open_docx(policy_docx(version)).paragraphs]

    assert len(PdfReader(io.BytesIO(content)).pages) > 8
    assert "The end of the long section." in text
    assert text.count("word2499") == 2
    assert "Last row" in text
    assert "Under the long heading." in text
    assert "The end of the long section." in paragraphs


def test_ten_page_policy_exports_in_well_under_a_second(version):
    version.sections = ten_page_sections()
    policy_pdf(version)  # fonts and styles load once per process, like a warm web worker

    started = time.perf_counter()
    content = policy_pdf(version)
    pdf_seconds = time.perf_counter() - started
    started = time.perf_counter()
    policy_docx(version)
    docx_seconds = time.perf_counter() - started

    assert len(PdfReader(io.BytesIO(content)).pages) >= 10
    assert pdf_seconds < 3
    assert docx_seconds < 3


def test_export_queries_do_not_grow_with_controls(version, django_assert_num_queries):
    def queries_for_export() -> int:
        with django_assert_num_queries(7) as captured:
            policy_document(type(version).objects.get(pk=version.pk))
        return len(captured)

    before = queries_for_export()
    version.policy.controls.add(*ControlFactory.create_batch(5))
    assert queries_for_export() == before


# --- Status on the cover --------------------------------------------------------------------------
def test_older_published_version_reads_as_superseded(version):
    PolicyVersionFactory(
        organisation=version.organisation, policy=version.policy, number=4, published_at=version.published_at
    )

    assert policy_document(version).status == "Superseded by version 4"


def test_latest_unapproved_version_of_a_policy_in_review_reads_in_review():
    version = PolicyVersionFactory(policy__status=PolicyStatus.IN_REVIEW)

    assert policy_document(version).status == "In review"


# --- The Markdown subset --------------------------------------------------------------------------
def test_inline_emphasis_is_parsed_and_stray_asterisks_stay_literal():
    assert parse_inline("**Bold** then *italic* and ***both***") == (
        Span("Bold", bold=True),
        Span(" then "),
        Span("italic", italic=True),
        Span(" and "),
        Span("both", bold=True, italic=True),
    )
    assert parse_inline("5 * 3 * 2 and **unclosed") == (Span("5 * 3 * 2 and **unclosed"),)
    assert parse_inline(r"an \*escaped\* star") == (Span("an *escaped* star"),)
    assert parse_inline("publish a `security.txt` file, not `*this*`") == (
        Span("publish a security.txt file, not *this*"),
    )


def test_links_become_text_with_the_address_and_html_stays_text():
    assert parse_inline("See [the ICO](https://ico.org.uk) <a href='x'>here</a>") == (
        Span("See the ICO (https://ico.org.uk) <a href='x'>here</a>"),
    )


def test_blocks_cover_headings_nested_lists_and_tables():
    blocks = parse_blocks(
        "## Who\n\nSome text\nwrapped onto ISO\n27001. lines\n\n"
        "- outer\n  - inner\n- second\n1. step\n\n"
        "| A | B |\n|---|---|\n| 1 | 2 | 3 |\n| only |"
    )

    assert blocks[0] == Heading(2, (Span("Who"),))
    assert blocks[1] == Paragraph((Span("Some text wrapped onto ISO 27001. lines"),))
    bullets, numbers, table = blocks[2:]
    assert isinstance(bullets, ListBlock)
    assert [(item.level, item.spans[0].text) for item in bullets.items] == [(0, "outer"), (1, "inner"), (0, "second")]
    assert isinstance(numbers, ListBlock)
    assert numbers.ordered
    assert isinstance(table, Table)
    assert table.rows == (
        ((Span("1"),), (Span("2"), Span(" | "), Span("3"))),
        ((Span("only"),), ()),
    )


def test_control_characters_are_dropped():
    assert parse_blocks("Bad\x00 char\x0b here") == [Paragraph((Span("Bad char here"),))]
