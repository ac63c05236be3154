"""`manage.py draft_policies` writes the same drafts as the pages, as Markdown files."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_writes_every_applicable_template_as_markdown(
    personas, test_library, bakery_profile, cyber_essentials, tmp_path
):
    out = StringIO()
    call_command("draft_policies", "--org", "acme-bakery", "--out", str(tmp_path / "drafts"), stdout=out)
    files = sorted(path.name for path in (tmp_path / "drafts").iterdir())
    assert files == ["house-rules.md"]  # the website notice does not apply: no website
    text = (tmp_path / "drafts" / "house-rules.md").read_text()
    assert text.startswith(
        "# House Rules Policy\n\n## Purpose\n\nThis policy sets out how Acme Bakery Ltd, company number"
    )
    assert "## Cyber Essentials\n\nWe follow the Cyber Essentials rules as part of Cyber Essentials." in text
    assert "{" not in text.replace("{not a placeholder}", "")
    assert (
        "Drafted 1 policy for Acme Bakery Ltd (1 not applicable to this business; --all drafts them too)."
        in out.getvalue()
    )


def test_all_drafts_templates_that_do_not_apply_too(personas, test_library, tmp_path):
    call_command("draft_policies", "--org", "acme-bakery", "--out", str(tmp_path), "--all", stdout=StringIO())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["house-rules.md", "website-notice.md"]


def test_every_real_template_drafts_for_a_profiled_business(personas, bakery_profile, tmp_path):
    from policies.library import load_library

    call_command("draft_policies", "--org", "acme-bakery", "--out", str(tmp_path), "--all", stdout=StringIO())
    assert len(list(tmp_path.glob("*.md"))) == len(load_library())


def test_unknown_organisation_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="No organisation with slug 'nobody'"):
        call_command("draft_policies", "--org", "nobody", "--out", str(tmp_path), stdout=StringIO())
