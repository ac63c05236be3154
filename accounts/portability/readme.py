"""README.txt, the description of the format that travels inside every export.

Written from format.py's lists, so what it says is left out is what is left out.
"""

from __future__ import annotations

import textwrap
from datetime import datetime

from accounts.portability.format import (
    EXCLUDED_FIELDS,
    EXCLUDED_MODELS,
    FORMAT_NAME,
    FORMAT_VERSION,
    NATURAL_KEYS,
    NOT_EXPORTED_ELSEWHERE,
)
from config.formatting import long_date_time

WIDTH = 100

INTRODUCTION = """\
This ZIP holds everything {name} keeps in Greenlight, as it stood on {when}: the organisation's
profile, its members and invitations, adopted frameworks, assessment rounds and answers, readiness
snapshots, the plan, policies with every version, review and acknowledgement, evidence with every
revision and its original file, connected accounts and what they collected, assistant conversations,
AI request records, notifications, report runs with their files, report schedules and the audit log.

It is plain JSON and the original files, so it can be read without Greenlight, and it can be loaded
into another Greenlight with `python manage.py import_organisation THIS.zip`, so you are never
locked in.
"""

LAYOUT = f"""\
Format: {FORMAT_NAME}, version {FORMAT_VERSION}.

manifest.json
    The format's name and version, the Greenlight version that wrote it, when, the organisation's name
    and slug, how many records each data file holds, and every other file in the ZIP with its size in
    bytes and its SHA-256 checksum. Check one with `sha256sum` (Linux), `shasum -a 256` (macOS) or
    `Get-FileHash` (Windows); the importer checks them all before it reads anything.
    "missing_files" lists stored files that had already gone from storage when the export was made;
    "left_for_next_export" counts records made while it was being written that refer to records
    written before them, which the next export holds.

data/<app>.<model>.json
    One file per kind of record, each a JSON array of {{"pk": ..., "fields": {{...}}}}. "pk" is the
    record's id in the Greenlight that exported it. Times are ISO 8601 with their UTC offset, dates
    ISO 8601, amounts of money and scores decimal strings.
    A reference to another record in the export is that record's "pk". A reference to the framework
    library is a natural key, so it means the same in any Greenlight: a framework by its slug
    ("iso27001-2022"), a control by framework slug and reference (["iso27001-2022", "5.1"]).
    A reference to a person is their email address; data/accounts.user.json lists each person once
    with their name. A list-valued field (such as an evidence item's controls) holds such references.
    A file field holds the path of the file in this ZIP, or "" when there is none.

files/<path>
    Every stored file, byte for byte as it was uploaded or made: evidence files of every revision,
    report files and the organisation's logo.

Ids inside text (the audit log's object ids, links in notifications) are those of the exporting
Greenlight; an import gives records new ids and keeps such text as it was.
"""


def _section(title: str, items: dict[str, str]) -> str:
    lines = [title]
    for name, reason in items.items():
        lines.append(textwrap.fill(f"- {name}: {reason}", WIDTH, subsequent_indent="  ", break_on_hyphens=False))
    return "\n".join(lines) + "\n"


def readme_text(*, organisation_name: str, exported_at: datetime) -> str:
    fields = {
        f"{label}.{name}": reason for label, reasons in EXCLUDED_FIELDS.items() for name, reason in reasons.items()
    }
    keys = {label: " + ".join(path.replace("__", ".") for path in paths) for label, paths in NATURAL_KEYS.items()}
    parts = [
        INTRODUCTION.format(name=organisation_name, when=long_date_time(exported_at)),
        LAYOUT,
        _section("Left out on purpose, and why:", {**EXCLUDED_MODELS, **NOT_EXPORTED_ELSEWHERE}),
        _section("Fields left out, and why:", fields),
        _section("Natural keys of the framework library:", keys),
    ]
    return "\n".join(parts) + "\n"
