"""Write an organisation's export to a file, with the builder the settings page uses."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organisation
from accounts.portability.export import build_export
from accounts.portability.format import PortabilityError


class Command(BaseCommand):
    help = "Export everything an organisation holds as a ZIP that import_organisation can load elsewhere."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's slug.")
        parser.add_argument("out", help="Where to write the ZIP, e.g. acme.zip.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["slug"]).first()
        if organisation is None:
            raise CommandError(f"There is no organisation with the slug {options['slug']!r}.")
        out = Path(options["out"])
        # Written beside the target and renamed once whole, so a failed export never leaves a partial ZIP.
        handle, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent or ".")
        try:
            with os.fdopen(handle, "wb") as file:
                summary = build_export(organisation, file)
            os.replace(partial, out)
        except PortabilityError as error:
            raise CommandError(str(error)) from None
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        records = sum(summary.counts.values())
        self.stdout.write(
            f"Exported {organisation.name} to {out}: {records:,} records and {summary.files:,} files "
            f"({out.stat().st_size:,} bytes)."
        )
        for member in summary.missing_files:
            self.stderr.write(f"Missing from storage, listed in the manifest: {member}")
