"""API representations of accounts data."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Organisation


class OrganisationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields: tuple[str, ...] = ("slug", "name", "created_at", "url")
        read_only_fields: tuple[str, ...] = fields

    def get_url(self, organisation: Organisation) -> str:
        request = self.context.get("request")
        path = f"/api/v1/organisations/{organisation.slug}/"
        return request.build_absolute_uri(path) if request else path


class OrganisationAccessSerializer(OrganisationSerializer):
    scopes = serializers.SerializerMethodField()

    class Meta(OrganisationSerializer.Meta):
        fields = (*OrganisationSerializer.Meta.fields, "scopes")
        read_only_fields = fields

    def get_scopes(self, organisation: Organisation) -> list[str]:
        return sorted(self.context["scopes"])
