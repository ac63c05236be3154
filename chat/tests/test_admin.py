from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from chat.tests.factories import AICallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_ai_calls_are_listed_and_shown_in_the_admin(staff_client, organisation):
    call = AICallFactory(organisation=organisation, feature="policy-draft")

    listing = staff_client.get(reverse("admin:chat_aicall_changelist"))
    detail = staff_client.get(reverse("admin:chat_aicall_change", args=[call.pk]))

    assert listing.status_code == 200
    assert b"policy-draft" in listing.content
    assert detail.status_code == 200


def test_ai_calls_cannot_be_added_changed_or_deleted_in_the_admin(staff_client, organisation):
    call = AICallFactory(organisation=organisation)

    assert staff_client.get(reverse("admin:chat_aicall_add")).status_code == 403
    assert staff_client.post(reverse("admin:chat_aicall_change", args=[call.pk]), {"feature": "x"}).status_code == 403
    assert staff_client.post(reverse("admin:chat_aicall_delete", args=[call.pk]), {"post": "yes"}).status_code == 403
    call.refresh_from_db()
    assert call.feature != "x"
