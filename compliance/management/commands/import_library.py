"""Import a framework or mapping library: our own format, or CISO Assistant's open YAML format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.library_format import LibraryError, read_yaml
from compliance.services import library_import


class Command(BaseCommand):
    help = "Import a library YAML file (Greenlight or CISO Assistant format). All or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--slug", help="Slug for the imported framework (default: from the file).")

    def handle(self, *args: Any, file: Path, slug: str | None = None, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            data, _digest = read_yaml(file)
            report = library_import(data=data, source=file.name, slug=slug)
        except LibraryError as error:
            raise CommandError(f"Nothing was imported. {error}") from error
        for result in report.frameworks:
            self.stdout.write(
                f"{result.slug}: {result.created} new, {result.updated} updated, {result.retired} retired"
            )
        if report.mappings:
            self.stdout.write(f"{report.mappings} mapping(s) imported")
        for line in report.skipped:
            self.stdout.write(f"skipped: {line}")
        self.stdout.write(self.style.SUCCESS("Import complete."))
