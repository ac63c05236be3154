"""API representations of accounts data."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Organisation
from config.api.links import absolute_reverse


class OrganisationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields: tuple[str, ...] = ("slug", "name", "created_at", "url")
        read_only_fields: tuple[str, ...] = fields

    def get_url(self, organisation: Organisation) -> str:
        return absolute_reverse(self.context, "api_organisation_detail", organisation_slug=organisation.slug)


class OrganisationAccessSerializer(OrganisationSerializer):
    scopes = serializers.SerializerMethodField()

    class Meta(OrganisationSerializer.Meta):
        fields = (*OrganisationSerializer.Meta.fields, "scopes")
        read_only_fields = fields

    def get_scopes(self, organisation: Organisation) -> list[str]:
        return sorted(self.context["scopes"])
