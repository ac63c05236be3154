"""Export a framework (and the mappings that start from it) in Greenlight's own library format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.exporting import dump_yaml, framework_document, mappings_document
from compliance.models import Framework


class Command(BaseCommand):
    help = "Write a framework as a greenlight-library/1 YAML file (and its mappings with --mappings)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--output", "-o", type=Path, help="File to write (default: standard output).")
        parser.add_argument("--mappings", action="store_true", help="Export the framework's mappings instead.")

    def handle(self, *args: Any, slug: str, output: Path | None = None, mappings: bool = False, **options: Any) -> None:
        framework = Framework.objects.filter(slug=slug).first()
        if framework is None:
            raise CommandError(f"No framework with slug '{slug}'.")
        text = dump_yaml(mappings_document(framework) if mappings else framework_document(framework))
        if output:
            output.write_text(text, encoding="utf-8")
            self.stdout.write(self.style.SUCCESS(f"Wrote {output}"))
        else:
            self.stdout.write(text, ending="")
