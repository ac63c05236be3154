"""Load the bundled framework library (compliance/library/*.yaml and mappings/) into the database."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.library_format import LibraryError
from compliance.services import library_load


class Command(BaseCommand):
    help = "Load or update the bundled framework library. Unchanged files are skipped; --force reloads them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Reload files even if they have not changed.")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        started = time.perf_counter()
        try:
            results = library_load(force=force)
        except LibraryError as error:
            raise CommandError(str(error)) from error
        for result in results:
            if result.skipped:
                line = f"{result.slug}: unchanged"
            else:
                line = (
                    f"{result.slug}: {result.created} new, {result.updated} updated, "
                    f"{result.retired} retired, {result.restored} restored"
                )
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Library loaded in {time.perf_counter() - started:.2f} s."))
