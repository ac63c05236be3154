"""Checking an export before anything is read from it: a format this Greenlight knows, nothing missing,
nothing added, and every member's bytes matching the size and SHA-256 the manifest gives.

Members are read in chunks and a member is abandoned as soon as it outgrows the size the manifest gives,
so a tampered archive (or a ZIP bomb) costs no more than the honest archive would.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from typing import Any

from accounts.portability.format import FORMAT_NAME, MANIFEST, SUPPORTED_VERSIONS, PortabilityError

CHUNK = 1024 * 1024


class ArchiveRefused(PortabilityError):
    """The file is not an export this Greenlight can trust and read; nothing has been changed."""


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        with archive.open(MANIFEST) as handle:
            manifest = json.load(handle)
    except KeyError:
        raise ArchiveRefused("This is not a Greenlight organisation export: it has no manifest.json.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ArchiveRefused(f"manifest.json is not valid JSON ({error}).") from None
    if not isinstance(manifest, dict):
        raise ArchiveRefused("manifest.json is not a Greenlight manifest.")
    fmt = manifest.get("format") or {}
    if not isinstance(fmt, dict) or fmt.get("name") != FORMAT_NAME:
        raise ArchiveRefused(f"This is not a Greenlight organisation export (format {fmt.get('name')!r}).")
    version = fmt.get("version")
    if version not in SUPPORTED_VERSIONS:
        known = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        raise ArchiveRefused(
            f"This export is in format version {version}, which this Greenlight does not know (it reads version "
            f"{known}). Import it into a Greenlight at least as new as the one that made it."
        )
    if not isinstance(manifest.get("files"), list) or not isinstance(manifest.get("counts"), dict):
        raise ArchiveRefused("manifest.json does not list the export's files and counts.")
    return manifest


def verify(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The manifest, once every member has been checked against it; ArchiveRefused otherwise."""
    manifest = read_manifest(archive)
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    if len(names) != len(set(names)):
        raise ArchiveRefused("The export holds the same file name twice, so it cannot be trusted.")
    listed: dict[str, dict[str, Any]] = {}
    for entry in manifest["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ArchiveRefused("manifest.json lists a file without its path.")
        listed[entry["path"]] = entry
    unlisted = sorted(set(names) - set(listed) - {MANIFEST})
    absent = sorted(set(listed) - set(names))
    problems = [f"{name}: in the ZIP but not in the manifest" for name in unlisted]
    problems += [f"{name}: in the manifest but not in the ZIP" for name in absent]
    for name, entry in listed.items():
        if name in names and not _matches(archive, name, entry):
            problems.append(f"{name}: its size or SHA-256 checksum differs from the manifest's")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ArchiveRefused(f"The export has been changed or damaged, so nothing was imported. {shown}.")
    return manifest


def _matches(archive: zipfile.ZipFile, name: str, entry: dict[str, Any]) -> bool:
    expected_size, expected_digest = entry.get("size"), entry.get("sha256")
    if not isinstance(expected_size, int) or not isinstance(expected_digest, str):
        return False
    digest, size = hashlib.sha256(), 0
    try:
        with archive.open(name) as handle:
            while chunk := handle.read(CHUNK):
                size += len(chunk)
                if size > expected_size:
                    return False
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError, EOFError):  # a damaged member (zipfile's own CRC check included)
        return False
    return size == expected_size and digest.hexdigest() == expected_digest.lower()
