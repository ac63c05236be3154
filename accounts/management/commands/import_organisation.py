"""Load an organisation export (from export_organisation or the settings page) into this Greenlight."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.portability.format import PortabilityError
from accounts.portability.importer import import_organisation


class Command(BaseCommand):
    help = (
        "Import an organisation export. Checks every checksum first, then creates the organisation and all its "
        "records in one transaction: all of it, or nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("zip", help="The export, e.g. greenlight-export-acme-2026-11-21.zip.")
        parser.add_argument("--slug", help="A slug for the organisation here, when its own is taken.")
        parser.add_argument(
            "--owner-email", help="Make this person an owner (their account is created if it does not exist)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = import_organisation(options["zip"], slug=options["slug"], owner_email=options["owner_email"])
        except PortabilityError as error:
            raise CommandError(str(error)) from None
        organisation = summary.organisation
        self.stdout.write(
            f"Imported {organisation.name} as {organisation.slug!r}: {sum(summary.counts.values()):,} records and "
            f"{summary.files:,} files."
        )
        if summary.users_matched:
            self.stdout.write(f"Existing accounts matched by email: {', '.join(summary.users_matched)}.")
        if summary.users_created:
            self.stdout.write(
                f"Accounts created without a password: {', '.join(summary.users_created)}. Members sign in by "
                "choosing “Forgot your password?”."
            )
