"""Which model rewrites are trusted: every filled-in fact kept, and still the shape of one section."""

from __future__ import annotations

import pytest

from policies.drafting import rewrite_keeps_facts

ORIGINAL = (
    "This policy sets out how Acme Bakery Ltd, company number 01234567, keeps customers' data safe. "
    "The IT Lead owns it."
)
FACTS = ["Acme Bakery Ltd", ", company number 01234567,", "the IT Lead"]


def test_a_reworded_section_that_keeps_every_fact_is_trusted():
    rewritten = (
        "At Acme Bakery Ltd (company number 01234567) we keep customers' data safe, and the IT Lead owns this policy."
    )
    assert rewrite_keeps_facts(ORIGINAL, rewritten, FACTS)


@pytest.mark.parametrize(
    "rewritten",
    [
        "At Acme Bakery we keep customers' data safe; the IT Lead owns this policy, company number 01234567.",
        "## Purpose\n\nAt Acme Bakery Ltd, company number 01234567, the IT Lead keeps data safe.",
        "At Acme Bakery Ltd, company number 01234567, {security_lead} keeps data safe with the IT Lead.",
        "Acme Bakery Ltd 01234567 the IT Lead.",
        "Acme Bakery Ltd, company number 01234567, the IT Lead. " + "More promises. " * 40,
        "   ",
    ],
    ids=["drops the name", "adds a heading", "leaves a placeholder", "too short", "too long", "empty"],
)
def test_a_rewrite_that_loses_a_fact_or_its_shape_is_not_trusted(rewritten):
    assert not rewrite_keeps_facts(ORIGINAL, rewritten, FACTS)
