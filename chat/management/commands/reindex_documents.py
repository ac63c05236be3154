"""`manage.py reindex_documents [--org SLUG]`: rebuild the assistant's index of policies and evidence.

Saves keep the index in step (chat/signals.py); this is for rows written without save(), such as
bulk imports, fixtures or a restored backup, and for a changed way of indexing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organisation
from chat.document_index import rebuild


class Command(BaseCommand):
    help = "Rebuild the assistant's full-text index of every organisation's policies and evidence."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", default="", help="Organisation slug; without it every organisation.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = None
        if options["org"]:
            organisation = Organisation.objects.filter(slug=options["org"]).first()
            if organisation is None:
                raise CommandError(f"No organisation with the slug “{options['org']}”.")
        written = rebuild(organisation_id=organisation.pk if organisation else None)
        scope = f"“{organisation.name}”" if organisation else "every organisation"
        self.stdout.write(f"Indexed {written:,} policies and evidence items for {scope}.")
