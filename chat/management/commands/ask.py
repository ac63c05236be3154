"""`manage.py ask "question" [--org SLUG] [--json]`: the assistant's answer and citations, for checking by hand."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organisation
from chat.answering import answer_question, citation_labels


class Command(BaseCommand):
    help = "Ask the assistant a question and print its answer with citations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--org", default="", help="Organisation slug; without it only the library is searched.")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    def handle(self, *args: Any, **options: Any) -> None:
        question = options["question"].strip()
        if not question:
            raise CommandError("Ask a question.")
        organisation = None
        if options["org"]:
            organisation = Organisation.objects.filter(slug=options["org"]).first()
            if organisation is None:
                raise CommandError(f"No organisation with the slug “{options['org']}”.")
        answer = answer_question(question, organisation=organisation)
        if options["json"]:
            payload = {
                "answer": answer.text,
                "citations": [citation.to_dict() for citation in answer.citations],
                "provider": answer.provider,
                "dropped": answer.dropped,
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        self.stdout.write(answer.text)
        if answer.citations:
            self.stdout.write("\nSources:")
            for label, citation in zip(citation_labels(answer.citations), answer.citations, strict=True):
                self.stdout.write(f"- {label} — {citation.url}")
        self.stdout.write(f"\n({answer.provider}; {answer.dropped} unknown citation(s) dropped)")
