from django.urls import path

from chat.views import conversations, feedback, streaming

urlpatterns = [
    path("assistant/", conversations.assistant, name="assistant"),
    path("assistant/ask/", conversations.start, name="assistant_start"),
    path("assistant/<int:conversation_id>/", conversations.conversation_page, name="assistant_conversation"),
    path("assistant/<int:conversation_id>/ask/", conversations.ask, name="assistant_ask"),
    path(
        "assistant/<int:conversation_id>/questions/<int:message_id>/answer/",
        conversations.answer,
        name="assistant_answer",
    ),
    path(
        "assistant/<int:conversation_id>/questions/<int:message_id>/stream/",
        streaming.answer_stream,
        name="assistant_answer_stream",
    ),
    path("assistant/<int:conversation_id>/rename/", conversations.rename, name="assistant_rename"),
    path("assistant/<int:conversation_id>/delete/", conversations.delete, name="assistant_delete"),
    path("assistant/<int:conversation_id>/export/", conversations.export, name="assistant_export"),
    path("assistant/<int:conversation_id>/escalate/", feedback.escalate, name="assistant_escalate"),
    path("assistant/messages/<int:message_id>/rate/", feedback.rate, name="assistant_rate"),
    path("assistant/messages/<int:message_id>/proposal/", feedback.proposal, name="assistant_proposal"),
]
