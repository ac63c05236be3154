"""Turn the name a browser sent with an upload into one that is safe to store, show and download.

The client's name is untrusted text: it may carry directories, `..`, control characters, right-to-left
overrides that make "gpj.exe" read as "exe.jpg", or names Windows refuses to create. We keep what the
person typed as far as it is harmless (letters in any script, spaces, punctuation) and make the
extension agree with what the content really is.
"""

from __future__ import annotations

import re
import unicodedata

from evidence.intake.sniffing import ALLOWED_KINDS, UploadRefused

MAX_NAME_LENGTH = 120
MAX_ORIGINAL_NAME_LENGTH = 1_000
FALLBACK_STEM = "evidence"

# Bidirectional controls and invisible marks that can disguise an extension when the name is displayed.
# Zero-width joiners (U+200C, U+200D) are kept: Persian and Indic spellings need them.
_INVISIBLE = dict.fromkeys(
    [0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
# Characters Windows will not put in a file name; "/" and "\\" are handled as directory separators first.
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{device}{n}" for device in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}
)
# A suffix counts as an extension only if it looks like one: short, alphanumeric, with a letter.
# So "Minutes 21.11.2026" keeps its date, while "invoice.pdf.exe" loses ".exe".
_EXTENSION = re.compile(r"^(?=[0-9]*[a-z])[a-z0-9]{1,5}$", re.IGNORECASE)


def safe_filename(original_name: str, *, extension: str) -> str:
    """Sanitise `original_name` and give it `extension` (the detected kind's, with or without the dot).

    A final extension that disagrees with the content is replaced, and not stacked:
    "photo.png.exe" that is really a PNG becomes "photo.png", a PDF named "scan.jpg" becomes "scan.pdf".
    An extension that is a known alias of the same kind (".jpeg" for ".jpg", ".log" for text) is kept.
    """
    wanted = extension.lower().lstrip(".")
    aliases = _aliases(wanted)
    stem, current = _split(_clean(original_name))
    if current and current.lower() in aliases:
        return _assemble(stem, current.lower())
    if not current and stem.lower() in aliases:
        return _assemble("", wanted)  # ".pdf" was an extension with nothing before it
    if current:
        # The wrong extension goes; if what remains already ends in the right one, don't repeat it.
        inner_stem, inner = _split(stem)
        if inner and inner.lower() in aliases:
            return _assemble(inner_stem, inner.lower())
    return _assemble(stem, wanted)


def display_name(original_name: str) -> str:
    """The sanitised name with its own extension, for messages about a file whose type is not yet known."""
    stem, current = _split(_clean(original_name))
    if not stem:
        return f"{FALLBACK_STEM}.{current}" if current else FALLBACK_STEM
    return _assemble(stem, current) if current else _truncate(stem, MAX_NAME_LENGTH)


def check_name_length(original_name: str) -> None:
    """Refuse absurd names outright: nobody types 1,000 characters, so it is an attack or a bug."""
    if len(original_name) > MAX_ORIGINAL_NAME_LENGTH:
        raise UploadRefused(
            "bad_name",
            f"The file name is {len(original_name):,} characters long. "
            f"Rename the file to something shorter than {MAX_ORIGINAL_NAME_LENGTH:,} characters and upload it again.",
        )


def _clean(original_name: str) -> str:
    check_name_length(original_name)
    name = unicodedata.normalize("NFC", original_name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(_clean_char(char) for char in name.translate(_INVISIBLE))
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name)
    # Leading dots hide files and spell "..", trailing dots and spaces are silently dropped by Windows.
    return name.strip(" ").lstrip(".").rstrip(". ")


def _clean_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in {"Zl", "Zp"}:
        return " "
    if category in {"Cc", "Cs", "Co", "Cn"}:
        return " " if char in "\t\n\r\x0b\x0c" else ""
    return char


def _split(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    if dot and stem.rstrip(". ") and _EXTENSION.match(suffix):
        return stem.rstrip(". "), suffix
    return name, ""


def _assemble(stem: str, extension: str) -> str:
    stem = stem or FALLBACK_STEM
    if stem.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    stem = _truncate(stem, MAX_NAME_LENGTH - len(extension) - 1)
    return f"{stem}.{extension}"


def _truncate(stem: str, limit: int) -> str:
    if len(stem) <= limit:
        return stem
    return stem[:limit].rstrip(". ") or FALLBACK_STEM


def _aliases(extension: str) -> frozenset[str]:
    for kind in ALLOWED_KINDS.values():
        if extension == kind.extension or extension in kind.aliases:
            return kind.aliases | {kind.extension}
    return frozenset({extension})
