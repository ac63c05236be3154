from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_a_migration():
    # Exits non-zero (failing the test) when a model changed without its migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
