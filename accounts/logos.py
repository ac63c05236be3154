"""The organisation's logo: checking an upload by its content, and replacing or removing the stored file.

Only PNG and JPEG are accepted, whatever the file is called: the first bytes name the format and Pillow
must decode the whole image in that format. The size is counted while reading, so a large upload is
refused after 2 MB rather than read to the end, and the pixel size is checked before any pixel is decoded.
"""

from __future__ import annotations

import errno
import io
import logging
import warnings
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from accounts.audit import Actor, audit_record
from accounts.models import Organisation, organisation_logo_path

logger = logging.getLogger(__name__)

MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_LOGO_SIDE = 4_000
CHUNK_SIZE = 64 * 1024
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg"}
# Magic numbers; Pillow's own name for the format, so it will not fall back to any other decoder.
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png", "PNG"), (b"\xff\xd8\xff", "jpg", "JPEG"))


@dataclass(frozen=True)
class LogoImage:
    content: bytes
    extension: str  # a CONTENT_TYPES key
    width: int
    height: int


def inspect_logo(upload: IO[bytes]) -> LogoImage:
    """The upload as a logo we will store, or ValidationError with a message for the page."""
    content = _read_capped(upload)
    for signature, extension, pillow_format in _SIGNATURES:
        if content.startswith(signature):
            width, height = _decode(content, pillow_format)
            return LogoImage(content, extension, width, height)
    raise ValidationError(
        "The logo must be a PNG or JPEG image. This file is not one, whatever its name says.", code="type"
    )


def _read_capped(upload: IO[bytes]) -> bytes:
    upload.seek(0)
    buffer = bytearray()
    while chunk := upload.read(CHUNK_SIZE):
        buffer += chunk
        if len(buffer) > MAX_LOGO_BYTES:
            raise ValidationError("The logo must be 2 MB or smaller. Upload a smaller image.", code="too_large")
    if not buffer:
        raise ValidationError("That file is empty. Choose the logo image and try again.", code="empty")
    return bytes(buffer)


def _decode(content: bytes, pillow_format: str) -> tuple[int, int]:
    too_big = ValidationError(
        f"The logo can be at most {MAX_LOGO_SIDE:,} × {MAX_LOGO_SIDE:,} pixels. Resize it and upload it again.",
        code="too_many_pixels",
    )
    with warnings.catch_warnings():
        # Pillow only warns between its own pixel limit and twice it; we want the refusal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content), formats=[pillow_format]) as image:
                width, height = image.size
                if max(width, height) > MAX_LOGO_SIDE:
                    raise too_big
                image.load()  # a truncated or corrupt image fails here, not later in the report
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise too_big from error
        except ValidationError:
            raise
        except Exception as error:
            raise ValidationError(
                "That image could not be read; it may be damaged. Export it again as PNG or JPEG and retry.",
                code="corrupt",
            ) from error
    return width, height


# --- Writing ------------------------------------------------------------------------------------------
def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # the row no longer points at it; an orphan file is harmless, a failed page is not
        logger.warning("Could not delete logo file %s", name, exc_info=True)


NO_ROOM = "There is no room left to store files, so the logo was not saved. Try again later."


def organisation_logo_replace(*, organisation: Organisation, logo: LogoImage, actor: Actor) -> Organisation:
    """Store the new file, then point the row at it; the old file goes only once that has committed."""
    old_name = organisation.logo.name or ""
    planned = organisation_logo_path(organisation, f"logo.{logo.extension}")
    try:
        new_name = default_storage.save(planned, ContentFile(logo.content))
    except OSError as error:
        # A full disk leaves a partial file under the planned name: remove it, and say so in the form.
        _delete_quietly(planned)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ValidationError(NO_ROOM, code="no_room") from error
        raise
    organisation.logo.name = new_name
    try:
        with transaction.atomic():
            organisation.save(update_fields=["logo"])
            audit_record(
                organisation=organisation,
                actor=actor,
                action="organisation.logo_changed",
                summary=f"Uploaded a new logo ({logo.width} × {logo.height} pixels)",
                target=organisation,
            )
    except Exception:
        organisation.logo.name = old_name
        _delete_quietly(new_name)
        raise
    if old_name:
        transaction.on_commit(lambda: _delete_quietly(old_name))
    return organisation


def organisation_logo_remove(*, organisation: Organisation, actor: Actor) -> Organisation:
    old_name = organisation.logo.name or ""
    if not old_name:
        return organisation
    with transaction.atomic():
        organisation.logo.name = ""
        organisation.save(update_fields=["logo"])
        audit_record(
            organisation=organisation,
            actor=actor,
            action="organisation.logo_removed",
            summary="Removed the logo",
            target=organisation,
        )
        transaction.on_commit(lambda: _delete_quietly(old_name))
    return organisation
