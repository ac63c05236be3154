"""Evidence intake: what is accepted, what is refused and why, and what is learnt about accepted files."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.intake import (
    ALLOWED_KINDS,
    TEXT_LIMIT,
    InspectedFile,
    UploadRefused,
    extract_text,
    inspect_upload,
    safe_filename,
)
from evidence.tests import hostile_files as hostile

MAX_BYTES = 25 * 1024 * 1024
OOXML = "application/vnd.openxmlformats-officedocument"
ODF = "application/vnd.oasis.opendocument"


def inspect(data: bytes, name: str, *, max_bytes: int = MAX_BYTES) -> InspectedFile:
    return inspect_upload(io.BytesIO(data), original_name=name, max_bytes=max_bytes)


def refusal(data: bytes, name: str, *, max_bytes: int = MAX_BYTES) -> UploadRefused:
    with pytest.raises(UploadRefused) as caught:
        inspect(data, name, max_bytes=max_bytes)
    return caught.value


# ---------------------------------------------------------------------------------------------------
# Accepted kinds
# ---------------------------------------------------------------------------------------------------

ACCEPTED: list[tuple[Callable[[], bytes], str, str, str, str]] = [
    (lambda: hostile.reportlab_pdf(["Firewall policy"]), "policy.pdf", "pdf", "application/pdf", "policy.pdf"),
    (lambda: hostile.image_bytes("PNG"), "screen.png", "png", "image/png", "screen.png"),
    (lambda: hostile.image_bytes("JPEG"), "photo.jpeg", "jpeg", "image/jpeg", "photo.jpeg"),
    (lambda: hostile.image_bytes("GIF"), "chart.gif", "gif", "image/gif", "chart.gif"),
    (lambda: hostile.image_bytes("WEBP"), "shot.webp", "webp", "image/webp", "shot.webp"),
    (lambda: hostile.docx_bytes(["Policy"]), "p.docx", "docx", f"{OOXML}.wordprocessingml.document", "p.docx"),
    (lambda: hostile.xlsx_bytes(["Laptop"]), "assets.xlsx", "xlsx", f"{OOXML}.spreadsheetml.sheet", "assets.xlsx"),
    (lambda: hostile.pptx_bytes({1: "Hi"}), "deck.pptx", "pptx", f"{OOXML}.presentationml.presentation", "deck.pptx"),
    (lambda: hostile.odf_bytes("text", ["Policy"]), "p.odt", "odt", f"{ODF}.text", "p.odt"),
    (lambda: hostile.odf_bytes("spreadsheet", ["1"]), "s.ods", "ods", f"{ODF}.spreadsheet", "s.ods"),
    (lambda: hostile.odf_bytes("presentation", ["1"]), "d.odp", "odp", f"{ODF}.presentation", "d.odp"),
    (lambda: hostile.zip_bytes({"logs/a.log": b"ok"}), "logs.zip", "zip", "application/zip", "logs.zip"),
    (lambda: b"Backups ran nightly.\n", "notes.txt", "text", "text/plain; charset=utf-8", "notes.txt"),
    (lambda: "name,role\nAïcha,Owner\n".encode(), "staff.csv", "csv", "text/csv; charset=utf-8", "staff.csv"),
    (lambda: b'{"mfa": true}', "export.json", "json", "application/json", "export.json"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "name", "kind", "content_type", "safe_name"), ACCEPTED)
def test_allowed_kind_is_accepted_with_its_kind_type_and_name(
    build: Callable[[], bytes], name: str, kind: str, content_type: str, safe_name: str
) -> None:
    inspected = inspect(build(), name)

    assert (inspected.kind, inspected.content_type, inspected.safe_name) == (kind, content_type, safe_name)
    assert inspected.content_type == ALLOWED_KINDS[kind].content_type
    assert inspected.flags == ()


def test_every_allowed_kind_is_covered_by_the_acceptance_cases() -> None:
    assert {case[2] for case in ACCEPTED} == set(ALLOWED_KINDS)


def test_image_dimensions_come_from_the_header() -> None:
    inspected = inspect(hostile.image_bytes("PNG", (640, 480)), "screen.png")

    assert (inspected.width, inspected.height) == (640, 480)
    assert inspected.text == ""


def test_size_and_sha256_match_the_bytes() -> None:
    data = hostile.reportlab_pdf(["Asset register"])

    inspected = inspect(data, "register.pdf")

    assert inspected.size == len(data)
    assert inspected.sha256 == hashlib.sha256(data).hexdigest()


def test_django_files_are_read_from_the_start_and_rewound(tmp_path: Path) -> None:
    path = tmp_path / "policy.pdf"
    path.write_bytes(hostile.reportlab_pdf(["Policy"]))
    with path.open("rb") as handle:
        upload = File(handle)
        upload.read(10)

        inspected = inspect_upload(upload, original_name="policy.pdf", max_bytes=MAX_BYTES)

        assert inspected.kind == "pdf"
        assert upload.tell() == 0


def test_the_file_is_rewound_after_a_refusal() -> None:
    upload = SimpleUploadedFile("setup.exe", hostile.windows_program())

    with pytest.raises(UploadRefused):
        inspect_upload(upload, original_name="setup.exe", max_bytes=MAX_BYTES)

    assert upload.tell() == 0


def test_short_reads_are_handled() -> None:
    class Trickle(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            return super().read(min(size, 1000) if size is not None and size >= 0 else 1000)

    data = hostile.docx_bytes(["Trickled"])

    inspected = inspect_upload(Trickle(data), original_name="t.docx", max_bytes=MAX_BYTES)

    assert (inspected.kind, inspected.size, inspected.text) == ("docx", len(data), "Trickled")


# ---------------------------------------------------------------------------------------------------
# Kind by content, not by name
# ---------------------------------------------------------------------------------------------------


def test_pdf_named_jpg_is_accepted_as_pdf_and_renamed() -> None:
    inspected = inspect(hostile.reportlab_pdf(["Scan"]), "scan.jpg")

    assert (inspected.kind, inspected.content_type, inspected.safe_name) == ("pdf", "application/pdf", "scan.pdf")


def test_png_disguised_with_exe_extension_loses_it_without_doubling_png() -> None:
    assert inspect(hostile.image_bytes("PNG"), "photo.png.exe").safe_name == "photo.png"


def test_word_document_named_zip_is_a_word_document() -> None:
    assert inspect(hostile.docx_bytes(["x"]), "archive.zip").safe_name == "archive.docx"


def test_office_package_of_an_unlisted_type_is_kept_as_a_zip() -> None:
    members = hostile.xlsx_members(["x"], main_type="application/vnd.ms-visio.drawing.main+xml")

    assert inspect(hostile.zip_bytes(members), "diagram.vsdx").kind == "zip"


def test_csv_needs_both_text_content_and_the_extension() -> None:
    data = b"name,role\nSam,Owner\n"

    assert inspect(data, "staff.csv").kind == "csv"
    assert inspect(data, "staff.txt").kind == "text"


def test_json_is_recognised_by_parsing_and_bad_json_stays_text() -> None:
    assert inspect(b'[{"user": "sam", "mfa": true}]', "users.txt").kind == "json"
    broken = inspect(b'{"user": "sam",', "users.json")
    assert (broken.kind, broken.safe_name) == ("text", "users.json")


def test_large_json_is_not_parsed_and_is_kept_as_text(tmp_path: Path) -> None:
    big = b"[" + b'{"event": "login", "ok": true},' * 200_000 + b"{}]"

    inspected = inspect(big, "audit.json")

    assert (inspected.kind, inspected.safe_name) == ("text", "audit.json")


def test_xml_configuration_export_is_text() -> None:
    inspected = inspect(b'<?xml version="1.0"?>\n<!-- export -->\n<firewall><rule id="1"/></firewall>', "fw.xml")

    assert (inspected.kind, inspected.safe_name) == ("text", "fw.xml")


def test_log_that_quotes_a_script_tag_is_text() -> None:
    log = b"2026-11-21 WAF blocked GET /?q=<script>alert(1)</script>\n"

    assert inspect(log, "waf.log").kind == "text"


# ---------------------------------------------------------------------------------------------------
# Refusals by type
# ---------------------------------------------------------------------------------------------------

REFUSED_TYPES: list[tuple[bytes, str, str]] = [
    (hostile.windows_program(), "report.exe", "“report.exe” is a Windows program."),
    (hostile.linux_program(), "backup", "“backup” is a Linux program."),
    (hostile.mac_program(), "tool", "“tool” is a Mac program."),
    (b"#!/bin/sh\nrm -rf /\n", "fix.sh", "“fix.sh” is a script."),
    (b"<!DOCTYPE html>\n<html><body>Policy</body></html>", "policy.html", "is a web page"),
    (b"  <html><script>alert(1)</script></html>", "page.txt", "is a web page"),
    (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>', "p.xml", "is a web page"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg", "is an SVG image"),
    (b'<?xml version="1.0"?>\n<!-- Generator: Illustrator -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">'
     b"<svg/>", "logo.png", "is an SVG image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "old.doc", "older Microsoft Office file"),
    (b"{\\rtf1\\ansi Policy}", "policy.rtf", "Rich Text"),
    (b"\x1f\x8b\x08\x00" + bytes(20), "logs.tar.gz", "a gzip archive"),
    (b"\x00\x00\x00\x18ftypheic" + bytes(16), "IMG_1234.HEIC", "an HEIC photo"),
    ("Backups".encode("utf-16"), "notes.txt", "text saved as UTF-16"),
    ("Item,Price\nCafé latte,£3.20\nTea,£2\n".encode("cp1252"), "prices.csv", "not saved as UTF-8"),
    (b"\x00\x01\x02\x03binary", "blob.dat", "is not a file type we accept"),
    (bytes(range(128, 256)) * 8, "blob.dat", "is not a file type we accept"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "name", "says"), REFUSED_TYPES)
def test_type_not_allowed_is_refused_naming_what_it_is(data: bytes, name: str, says: str) -> None:
    refused = refusal(data, name)

    assert refused.code == "type_not_allowed"
    assert says in refused.message


def test_refusal_message_lists_what_evidence_can_be() -> None:
    assert refusal(hostile.windows_program(), "report.exe").message == (
        "“report.exe” is a Windows program. Evidence can be PDF, Word, Excel, PowerPoint, OpenDocument, "
        "images (PNG, JPEG, GIF, WebP), text, CSV, JSON or ZIP."
    )


def test_empty_file_is_refused() -> None:
    refused = refusal(b"", "policy.pdf")

    assert refused.code == "empty"
    assert "“policy.pdf” is empty" in refused.message


def test_oversize_is_caught_by_the_running_count_whatever_size_the_upload_claims() -> None:
    upload = File(io.BytesIO(b"a" * 2_000_000), name="notes.txt")
    upload.size = 10

    with pytest.raises(UploadRefused) as caught:
        inspect_upload(upload, original_name="notes.txt", max_bytes=1024 * 1024)

    assert caught.value.code == "too_large"
    assert "larger than the 1 MB limit" in caught.value.message


def test_file_exactly_at_the_limit_is_accepted() -> None:
    assert inspect(b"a" * 1000, "notes.txt", max_bytes=1000).size == 1000


def test_macro_enabled_office_file_is_refused() -> None:
    members = hostile.xlsx_members(["x"], main_type="application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    members["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0"

    refused = refusal(hostile.zip_bytes(members), "budget.xlsx")

    assert refused.code == "type_not_allowed"
    assert "macros" in refused.message


def test_truncated_zip_is_corrupt() -> None:
    data = hostile.zip_bytes({"a.txt": b"hello" * 100})

    assert refusal(data[: len(data) - 30], "logs.zip").code == "corrupt"


# ---------------------------------------------------------------------------------------------------
# Archives: bombs and encryption, judged from the central directory alone
# ---------------------------------------------------------------------------------------------------


def test_highly_compressed_member_is_a_zip_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    hostile.write_zip_bomb(path, megabytes=50)
    assert path.stat().st_size < 200_000

    with path.open("rb") as handle, pytest.raises(UploadRefused) as caught:
        inspect_upload(handle, original_name="bomb.zip", max_bytes=MAX_BYTES)

    assert caught.value.code == "zip_bomb"
    assert "200 times" in caught.value.message


def test_archive_declaring_more_than_a_gigabyte_in_total_is_a_zip_bomb() -> None:
    members = {f"part{n}.bin": b"x" for n in range(120)}
    data = hostile.with_declared_sizes(hostile.zip_bytes(members), 9_500_000)

    refused = refusal(data, "parts.zip")

    assert refused.code == "zip_bomb"
    assert "1 GB" in refused.message


def test_archive_with_more_than_ten_thousand_members_is_refused() -> None:
    assert inspect(hostile.many_members_zip(10_000), "ok.zip").kind == "zip"

    refused = refusal(hostile.many_members_zip(10_001), "many.zip")

    assert refused.code == "zip_bomb"
    assert "more than 10,000 files" in refused.message


def test_office_bomb_is_refused_before_any_part_is_read() -> None:
    members = hostile.xlsx_members(["x"])
    members["xl/media/huge.bin"] = bytes(12 * 1024 * 1024)

    assert refusal(hostile.zip_bytes(members), "assets.xlsx").code == "zip_bomb"


def test_plain_zip_with_encrypted_members_is_stored_and_flagged() -> None:
    data = hostile.with_encrypted_members(hostile.zip_bytes({"payroll.csv": b"a,b"}))

    inspected = inspect(data, "payroll.zip")

    assert (inspected.kind, inspected.flags) == ("zip", ("encrypted_archive",))


def test_office_file_with_encrypted_members_is_refused() -> None:
    data = hostile.with_encrypted_members(hostile.docx_bytes(["Secret"]))

    assert refusal(data, "secret.docx").code == "encrypted_archive"


def test_package_claiming_two_office_kinds_is_refused() -> None:
    members = hostile.xlsx_members(["x"])
    members["word/document.xml"] = b"<w:document/>"
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"</Types>",
        f'<Override PartName="/word/document.xml" ContentType="{OOXML}.wordprocessingml.document.main+xml"/>'
        "</Types>".encode(),
    )

    assert refusal(hostile.zip_bytes(members), "both.docx").code == "polyglot"


# ---------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------


def test_png_header_claiming_a_huge_image_is_refused_without_decoding() -> None:
    refused = refusal(hostile.png_claiming(100_000, 100_000), "bomb.png")

    assert refused.code == "image_too_large"


@pytest.mark.parametrize(("width", "height"), [(20_001, 10), (8_000, 7_000)])
def test_images_over_our_side_or_pixel_limits_are_refused(width: int, height: int) -> None:
    refused = refusal(hostile.png_claiming(width, height), "wide.png")

    assert refused.code == "image_too_large"
    assert f"{width:,} × {height:,} pixels" in refused.message


def test_image_at_the_limits_is_accepted() -> None:
    inspected = inspect(hostile.png_claiming(20_000, 2_500), "banner.png")

    assert (inspected.kind, inspected.width, inspected.height) == ("png", 20_000, 2_500)


def test_image_between_pillows_warning_and_error_limits_warns_nobody() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        refused = refusal(hostile.png_claiming(15_000, 7_000), "poster.png")

    assert refused.code == "image_too_large"
    assert [warning.category.__name__ for warning in caught] == []


def test_png_with_an_ordinary_text_chunk_is_accepted() -> None:
    assert inspect(hostile.png_with_text_chunk(b"Screenshot of the admin console"), "admin.png").kind == "png"


def test_png_that_pillow_cannot_parse_is_corrupt() -> None:
    refused = refusal(hostile.corrupt_png(), "broken.png")

    assert refused.code == "corrupt"
    assert "looks like a PNG image but is damaged" in refused.message


# ---------------------------------------------------------------------------------------------------
# Polyglots
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (hostile.image_bytes("JPEG") + hostile.zip_bytes({"payload.html": b"<script>"}), "photo.jpg"),
        (hostile.image_bytes("JPEG") + b"<script>alert(document.cookie)</script>", "photo.jpg"),
        (hostile.image_bytes("JPEG") + b"\r\n<HTML><body onload=alert(1)>", "photo.jpg"),
        (hostile.image_bytes("PNG") + b"<html><script>alert(1)</script>", "screen.png"),
        (hostile.image_bytes("GIF") + b"PK\x03\x04" + bytes(40), "chart.gif"),
        (hostile.animated_gif() + b"<script>alert(1)</script>", "rota.gif"),
        (hostile.progressive_jpeg() + b"<html>", "photo.jpg"),
        (hostile.image_bytes("WEBP") + b"<svg onload=alert(1)>", "shot.webp"),
        (hostile.reportlab_pdf(["Policy"]) + hostile.zip_bytes({"a.txt": b"x"}), "policy.pdf"),
        (hostile.png_with_text_chunk(b"%PDF-1.7\n1 0 obj << >> endobj"), "both.png"),
    ],
)
def test_file_readable_as_two_kinds_is_refused_as_polyglot(data: bytes, name: str) -> None:
    assert refusal(data, name).code == "polyglot"


def test_jpeg_end_marker_inside_a_thumbnail_does_not_end_the_image() -> None:
    # The thumbnail segment holds "PK\x03\x04" and an FFD9 of its own; neither is after the real image.
    data = hostile.jpeg_with_thumbnail_marker()

    assert inspect(data, "photo.jpg").kind == "jpeg"


@pytest.mark.parametrize(("build", "kind"), [(hostile.animated_gif, "gif"), (hostile.progressive_jpeg, "jpeg")])
def test_images_with_many_blocks_are_walked_to_their_end(build: Callable[[], bytes], kind: str) -> None:
    assert inspect(build(), f"image.{kind}").kind == kind


def test_harmless_bytes_after_a_jpeg_are_tolerated() -> None:
    # Phones append their own trailers (motion photo data, maker notes) after the end marker.
    assert inspect(hostile.image_bytes("JPEG") + bytes(500), "photo.jpg").kind == "jpeg"


def test_zip_whose_first_stored_member_is_a_pdf_is_still_a_zip() -> None:
    data = hostile.zip_bytes({"policy.pdf": hostile.reportlab_pdf(["Policy"])}, stored_first="policy.pdf")

    assert inspect(data, "policies.zip").kind == "zip"


# ---------------------------------------------------------------------------------------------------
# PDFs: active content and signatures are reported, not refused
# ---------------------------------------------------------------------------------------------------


def test_pdf_with_javascript_is_flagged() -> None:
    inspected = inspect(hostile.pdf_with_javascript(), "form.pdf")

    assert (inspected.kind, inspected.flags) == ("pdf", ("pdf_active_content",))


def test_pdf_with_escaped_javascript_name_is_flagged() -> None:
    assert inspect(hostile.pdf_with_hidden_javascript(), "form.pdf").flags == ("pdf_active_content",)


@pytest.mark.parametrize("offset", [64 * 1024 - 5, 64 * 1024 - 1, 64 * 1024, 128 * 1024 - 2])
def test_pdf_name_split_across_read_chunks_is_still_found(offset: int) -> None:
    data = hostile.pdf_with_name_at(offset, "/JavaScript")

    assert inspect(data, "form.pdf").flags == ("pdf_active_content",)


def test_longer_name_cut_at_a_chunk_boundary_is_not_mistaken_for_a_short_one() -> None:
    # The first chunk ends "/JS", but the name is /JSONSchema, which is nothing to worry about.
    data = hostile.pdf_with_name_at(64 * 1024 - 3, "/JSONSchema")

    assert inspect(data, "schema.pdf").flags == ()


def test_names_inside_stream_data_are_not_mistaken_for_pdf_structure() -> None:
    # Compressed streams spell "/JS " by chance; only dictionaries outside streams say what a PDF does.
    data = hostile.handmade_pdf(objects=("<< /Length 24 >>\nstream\n/JS /AA /Launch (x) 1 \nendstream",))

    assert inspect(data, "scan.pdf").flags == ()


def test_pdf_hiding_many_names_behind_escapes_is_flagged() -> None:
    data = hostile.handmade_pdf(catalog_extra="/Info#41 1 " * 1_000)

    assert inspect(data, "odd.pdf").flags == ("pdf_active_content",)


def test_escaped_spaces_in_font_names_are_ordinary() -> None:
    data = hostile.handmade_pdf(catalog_extra="/Arial#20Bold 1 " * 2_000)

    assert inspect(data, "fonts.pdf").flags == ()


def test_ordinary_pdf_is_not_flagged_or_signed() -> None:
    inspected = inspect(hostile.reportlab_pdf(["Policy"]), "policy.pdf")

    assert (inspected.flags, inspected.signed) == ((), False)


def test_signed_pdf_is_detected() -> None:
    inspected = inspect(hostile.signed_pdf(), "contract.pdf")

    assert (inspected.signed, inspected.flags) == (True, ())


def test_office_document_with_xml_signatures_is_signed() -> None:
    members = hostile.xlsx_members(["x"])
    members["_xmlsignatures/sig1.xml"] = b"<Signature/>"

    assert inspect(hostile.zip_bytes(members), "signed.xlsx").signed is True


def test_private_key_in_a_text_file_is_flagged() -> None:
    key = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"

    inspected = inspect(key, "server.key")

    assert (inspected.kind, inspected.safe_name, inspected.flags) == ("text", "server.txt", ("private_key",))


# ---------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "extension", "expected"),
    [
        ("../../etc/passwd", "txt", "passwd.txt"),
        ("..\\..\\Windows\\win.ini", "txt", "win.ini"),
        ("..\\..\\Windows\\notepad.exe", "txt", "notepad.txt"),
        ("C:\\Users\\sam\\Q3: review.pdf", "pdf", "Q3_ review.pdf"),
        ("invoice\u202efdp.exe", "pdf", "invoicefdp.pdf"),
        ("report\x00.pdf.exe", "pdf", "report.pdf"),
        ("line\nbreak\ttab.txt", "txt", "line break tab.txt"),
        ("CON.pdf", "pdf", "_CON.pdf"),
        ("com1.tar.pdf", "pdf", "_com1.tar.pdf"),
        ("...hidden", "txt", "hidden.txt"),
        ("report.pdf. . ", "pdf", "report.pdf"),
        ("", "pdf", "evidence.pdf"),
        ("...", "pdf", "evidence.pdf"),
        (".pdf", "pdf", "evidence.pdf"),
        ("  Board   minutes  .pdf", "pdf", "Board minutes.pdf"),
        ("Minutes 21.11.2026", "pdf", "Minutes 21.11.2026.pdf"),
        ("отчёт об аудите.PDF", "pdf", "отчёт об аудите.pdf"),  # noqa: RUF001
        ("監査報告書.docx", "docx", "監査報告書.docx"),
        ("IMG_0001.JPEG", "jpg", "IMG_0001.jpeg"),
        ("notes.md", "txt", "notes.md"),
    ],
)
def test_safe_filename(original: str, extension: str, expected: str) -> None:
    assert safe_filename(original, extension=extension) == expected


def test_safe_filename_normalises_to_nfc() -> None:
    assert safe_filename("Cafe\u0301.pdf", extension="pdf") == "Caf\u00e9.pdf"


def test_long_name_is_cut_to_120_characters_keeping_the_extension() -> None:
    name = safe_filename("A" * 300 + ".pdf", extension="pdf")

    assert len(name) == 120
    assert name.endswith("A.pdf")


def test_name_over_a_thousand_characters_is_refused() -> None:
    refused = refusal(hostile.reportlab_pdf(["x"]), "a" * 1001 + ".pdf")

    assert refused.code == "bad_name"


def test_hostile_name_is_sanitised_in_the_refusal_message() -> None:
    refused = refusal(hostile.windows_program(), "../gpj\u202eexe.scr")

    assert refused.message.startswith("“gpjexe.scr” is a Windows program.")


# ---------------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "kind", "expected"),
    [
        (lambda: hostile.reportlab_pdf(["Firewall policy", "Approved by the board"]), "pdf",
         "Firewall policy Approved by the board"),
        (lambda: hostile.docx_bytes(["Access control", "Reviewed quarterly"]), "docx",
         "Access control Reviewed quarterly"),
        (lambda: hostile.xlsx_bytes(["Laptop", "Server &amp; rack"]), "xlsx", "Laptop Server & rack"),
        (lambda: hostile.pptx_bytes({10: "Tenth", 2: "Second", 1: "First"}), "pptx", "First Second Tenth"),
        (lambda: hostile.odf_bytes("text", ["Incident", "response"]), "odt", "Incident response"),
        (lambda: b"\xef\xbb\xbfline one\r\n\r\n   line two\n", "text", "line one line two"),
    ],
)  # fmt: skip
def test_text_is_extracted_and_whitespace_collapsed(build: Callable[[], bytes], kind: str, expected: str) -> None:
    assert extract_text(io.BytesIO(build()), kind) == expected


def test_inspected_file_carries_its_text() -> None:
    assert inspect(hostile.docx_bytes(["Encryption at rest"]), "crypto.docx").text == "Encryption at rest"


def test_text_is_limited(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    hostile.write_text(path, size=2 * 1024 * 1024)

    text = extract_text(path, "text")

    assert TEXT_LIMIT - 5 < len(text) <= TEXT_LIMIT
    assert text.startswith("2026-11-21 09:00:01 backup completed OK 2026")


def test_pdf_text_stops_after_two_hundred_pages() -> None:
    text = extract_text(io.BytesIO(hostile.reportlab_pdf(["Page"], pages=205)), "pdf")

    assert "Page 200" in text
    assert "Page 201" not in text


def test_unreadable_pdf_gives_no_text_rather_than_an_error() -> None:
    assert extract_text(io.BytesIO(b"%PDF-1.7\n1 0 obj garbage"), "pdf") == ""


def test_images_and_archives_have_no_text() -> None:
    assert extract_text(io.BytesIO(hostile.zip_bytes({"a.txt": b"hello"})), "zip") == ""


# ---------------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("write", "name", "kind"),
    [
        (hostile.write_text, "backup.log", "text"),
        (hostile.write_stored_zip, "export.zip", "zip"),
        (hostile.write_padded_pdf, "scan.pdf", "pdf"),
    ],
)
def test_inspecting_a_25_mb_file_stays_under_5_mb_of_memory(
    tmp_path: Path, write: Callable[..., None], name: str, kind: str
) -> None:
    path = tmp_path / name
    write(path, size=MAX_BYTES - 4096)

    with path.open("rb") as handle:
        tracemalloc.start()
        try:
            inspected = inspect_upload(handle, original_name=name, max_bytes=MAX_BYTES)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert inspected.kind == kind
    assert inspected.size == path.stat().st_size
    assert peak < 5 * 1024 * 1024
