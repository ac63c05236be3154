from __future__ import annotations

import pytest

from accounts.scopes import Scope
from accounts.tests.factories import OrganisationFactory, PartnerFactory, PartnerGrantFactory

pytestmark = pytest.mark.django_db


def test_own_key_lists_only_its_organisation(personas, api_for):
    client = api_for(personas.organisation)
    response = client.get("/api/v1/organisations/")
    assert response.status_code == 200
    assert [row["slug"] for row in response.json()["results"]] == ["acme-bakery"]


def test_partner_key_lists_every_granting_organisation_and_no_other(personas, api_for):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner)
    later = OrganisationFactory(slug="bolt-cycles")
    PartnerGrantFactory(organisation=later, partner=partner)
    client = api_for(partner=partner)
    slugs = {row["slug"] for row in client.get("/api/v1/organisations/").json()["results"]}
    assert slugs == {"acme-bakery", "bolt-cycles"}


def test_organisation_detail_shows_the_scopes_granted_to_a_partner(personas, api_for):
    partner = PartnerFactory()
    PartnerGrantFactory(organisation=personas.organisation, partner=partner, scopes=["readiness:read"])
    client = api_for(partner=partner)
    response = client.get("/api/v1/organisations/acme-bakery/")
    assert response.status_code == 200
    assert response.json()["scopes"] == [Scope.READINESS_READ]


def test_another_organisations_slug_is_not_found(personas, api_for):
    response = api_for(personas.organisation).get("/api/v1/organisations/rival-widgets/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
