"""Write every policy that applies to an organisation as Markdown files, drafted exactly as the
policy pages draft them (tailoring, then the AI gateway's configured providers; offline by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organisation
from chat.ai.errors import AIError
from policies.drafting import draft_sections, sections_markdown
from policies.library import PolicyLibraryError, load_library
from policies.tailoring import policy_context_for


class Command(BaseCommand):
    help = "Draft every policy template that applies to an organisation, as Markdown files in a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organisation's slug.")
        parser.add_argument("--out", required=True, type=Path, help="Folder to write <template>.md files into.")
        parser.add_argument("--all", action="store_true", help="Draft every template, even those that do not apply.")

    def handle(self, *args: Any, org: str, out: Path, all: bool = False, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=org).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug '{org}'.")
        try:
            templates = load_library()
        except PolicyLibraryError as error:
            raise CommandError(f"The policy library has problems: {error}") from None
        context = policy_context_for(organisation)
        chosen = [template for template in templates.values() if all or template.applies_to(dict(context.facts))]
        out.mkdir(parents=True, exist_ok=True)
        for template in chosen:
            try:
                sections = draft_sections(organisation=organisation, template=template, context=context)
            except AIError as error:
                raise CommandError(f"Drafting {template.key} failed: {error}") from None
            path = out / f"{template.key}.md"
            path.write_text(sections_markdown(template.title, sections), encoding="utf-8")
            rewritten = sum(1 for section in sections if section["origin"] == "model")
            self.stdout.write(f"{path}: {len(sections)} sections, {rewritten} rewritten by the assistant")
        skipped = len(templates) - len(chosen)
        note = f" ({skipped} not applicable to this business; --all drafts them too)" if skipped else ""
        noun = "policy" if len(chosen) == 1 else "policies"
        self.stdout.write(self.style.SUCCESS(f"Drafted {len(chosen)} {noun} for {organisation.name}{note}."))
