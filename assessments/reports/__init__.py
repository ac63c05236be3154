"""Report builders by kind: each turns an organisation (and a run's parameters) into a file.

A builder reads its data, reports progress through `progress(percent, message)` and writes to a
binary file it is handed; the service stores the file and records the run. New kinds (the Statement
of Applicability as a PDF, ...) are added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accounts.models import Organisation

Progress = Callable[[int, str], None]


class ReportError(Exception):
    """A report could not be built for a reason the person asking should read (it is shown as is)."""


@dataclass(frozen=True)
class Builder:
    kind: str
    extension: str
    content_type: str
    # (organisation, parameters, requested_by, today, out, progress) -> None
    build: Callable[[Organisation, dict[str, Any], str, date, IO[bytes], Progress], None]

    def filename(self, organisation: Organisation, today: date) -> str:
        return f"{self.kind}-report-{organisation.slug}-{today:%Y-%m-%d}.{self.extension}"


def _readiness(
    organisation: Organisation,
    parameters: dict[str, Any],
    requested_by: str,
    today: date,
    out: IO[bytes],
    progress: Progress,
) -> None:
    from assessments.reports.readiness_data import readiness_report_data
    from assessments.reports.readiness_pdf import build_readiness_pdf

    data = readiness_report_data(organisation, requested_by=requested_by, today=today, progress=progress)
    build_readiness_pdf(data, out, progress=progress, logo=organisation.logo.name or "")


BUILDERS: dict[str, Builder] = {
    "readiness": Builder("readiness", "pdf", "application/pdf", _readiness),
}


def builder_for(kind: str) -> Builder | None:
    return BUILDERS.get(kind)
