"""Safe intake of evidence files: inspect an upload before it is stored.

Services call `inspect_upload` and store the file under `safe_name`, serving it as `content_type`, or show
`UploadRefused.message` to the person uploading. Flags are explained by FLAG_DESCRIPTIONS.
"""

from __future__ import annotations

from evidence.intake.inspection import FLAG_DESCRIPTIONS, InspectedFile, inspect_upload
from evidence.intake.naming import safe_filename
from evidence.intake.sniffing import ALLOWED_KINDS, ALLOWED_SENTENCE, Kind, UploadRefused
from evidence.intake.text import TEXT_LIMIT, extract_text

__all__ = [
    "ALLOWED_KINDS",
    "ALLOWED_SENTENCE",
    "FLAG_DESCRIPTIONS",
    "TEXT_LIMIT",
    "InspectedFile",
    "Kind",
    "UploadRefused",
    "extract_text",
    "inspect_upload",
    "safe_filename",
]
