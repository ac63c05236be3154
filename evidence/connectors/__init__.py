"""The evidence connectors, one module per provider. `connector_for` gives the configured one or None."""

from __future__ import annotations

from importlib import import_module

from evidence.connectors.base import Connector

# provider -> "module:Class", imported on first use so a page that lists providers stays light.
REGISTRY = {
    "google_workspace": "evidence.connectors.google:GoogleWorkspaceConnector",
    "microsoft_365": "evidence.connectors.microsoft:Microsoft365Connector",
}


def connector_class(provider: str) -> type[Connector]:
    module_name, class_name = REGISTRY[provider].split(":")
    cls: type[Connector] = getattr(import_module(module_name), class_name)
    return cls


def connector_for(provider: str) -> Connector | None:
    """The connector for a provider when this server has its OAuth client configured, else None."""
    if provider not in REGISTRY:
        return None
    return connector_class(provider).from_settings()
