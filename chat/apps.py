from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        # The receivers that keep the assistant's document index in step with evidence and policies.
        from chat import signals  # noqa: F401
