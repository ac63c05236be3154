"""The assistant in the API: a question answered at once, from the same pipeline as the page.

An API key is no person and conversations are private to a person, so an answer given here is not kept
as a conversation; the question is recorded in the audit log instead (chat.services).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scopes import Scope
from chat import services
from chat.serializers import AnswerSerializer, QuestionSerializer
from config.api.idempotency import idempotent
from config.api.views import OrganisationAPIView

GDPR_QUESTION = OpenApiExample(
    "A question about UK GDPR",
    value={"question": "How quickly do we have to report a data breach?", "framework": "uk-gdpr"},
    request_only=True,
)
GDPR_ANSWER = OpenApiExample(
    "An answer citing the library",
    value={
        "answer": (
            "The requirement that matters most here is **UK GDPR 33: Notification of a personal data breach to "
            "the Commissioner**.\n\n"
            "- Report a personal data breach to the ICO within 72 hours of becoming aware of it (UK GDPR 33)."
        ),
        "citations": [
            {
                "kind": "control",
                "label": "UK GDPR 33",
                "framework": "uk-gdpr",
                "ref": "33",
                "title": "Notification of a personal data breach to the Commissioner",
                "url": "https://greenlight.example/frameworks/uk-gdpr/controls/33/",
            }
        ],
        "provider": "offline",
    },
    response_only=True,
)


class AssistantAsk(OrganisationAPIView):
    serializer_class = QuestionSerializer
    scopes = {"POST": Scope.ASSISTANT_ASK}

    @extend_schema(
        operation_id="assistant_ask",
        summary="Ask the assistant",
        description=(
            "Answers a compliance question from the framework library and the organisation's own policies, "
            "evidence, readiness and profile, with every source cited and checked. Figures such as readiness "
            "scores are Greenlight's own calculations, quoted, never a model's. The answer is not stored as a "
            "conversation; the question is recorded in the audit log. An organisation may ask "
            f"{services.QUESTIONS_PER_MINUTE} questions a minute across its people and keys; past that the "
            "answer is 429 with `Retry-After`."
        ),
        request=QuestionSerializer,
        responses={200: OpenApiResponse(AnswerSerializer, description="The answer and its sources.")},
        examples=[GDPR_QUESTION, GDPR_ANSWER],
    )
    @idempotent
    def post(self, request: Request, organisation_slug: str) -> Response:
        serializer = QuestionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            answer = services.question_answer_unstored(
                organisation=self.organisation,
                actor=self.actor,
                question=serializer.validated_data["question"],
                framework=serializer.validated_data["framework"],
            )
        except services.TooManyQuestions as error:
            raise Throttled(wait=error.retry_after, detail=" ".join(error.messages)) from None
        return Response(AnswerSerializer(answer, context={"request": request}).data)
