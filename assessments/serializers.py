"""API representations of the SMB journey: profile, adoptions, rounds and answers, readiness, gaps, tasks.

Read serializers shape what selectors and services return; write serializers only check and convert
what a caller sends, and the services do the rest (and check again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from assessments.forms_assessment import JUSTIFICATION_REQUIRED, STATUS_REQUIRED
from assessments.forms_onboarding import CERTIFICATIONS, CLOUD_PROVIDERS, COMPANY_NUMBER
from assessments.models import (
    Answer,
    AnswerStatus,
    AssessmentRound,
    BusinessProfile,
    Effort,
    FrameworkAdoption,
    PlanTask,
    Priority,
    ReadinessSnapshot,
    Region,
    TaskStatus,
)
from compliance.models import Control, Framework
from config.api.links import absolute_reverse

# Ids are 64-bit: anything beyond is refused as invalid before it reaches the database.
MAX_ID = 2**63 - 1
OWNER_NOT_MEMBER = "Choose someone in your organisation as the owner."
CONTROL_NOT_ADOPTED = "This control is not part of a framework your organisation has adopted."


def api_url(context: Mapping[str, Any], name: str, **kwargs: Any) -> str:
    """The absolute URL of one of the organisation's API endpoints."""
    return absolute_reverse(context, name, organisation_slug=context["organisation"].slug, **kwargs)


def library_url(context: Mapping[str, Any], name: str, **kwargs: Any) -> str:
    return absolute_reverse(context, name, **kwargs)


def member_users(organisation: Any) -> Any:
    return User.objects.filter(memberships__organisation=organisation)


def _distinct(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# --- People and library objects, as other representations embed them ------------------------------
class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


@extend_schema_field(PersonSerializer(allow_null=True))
class MemberField(serializers.Field):
    """A person as `{"id", "name", "email"}`, shown only while they are a member of the organisation
    (the view puts the members' ids in the context): someone who left is `null`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, user: User) -> dict[str, Any] | None:
        if user.pk not in self.context.get("member_ids", ()):
            return None
        return {"id": user.pk, "name": user.display_name, "email": user.email}


@extend_schema_field(OpenApiTypes.INT)
class MemberChoiceField(serializers.PrimaryKeyRelatedField):
    """A member of the organisation, by user id; anyone else is refused with a clear message."""

    default_error_messages = {
        "does_not_exist": OWNER_NOT_MEMBER,
        "incorrect_type": "Send the owner's user id, a whole number.",
    }

    def get_queryset(self) -> Any:
        return member_users(self.context["organisation"])

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            user_id = int(data)
        except ValueError:
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= user_id <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(user_id)


class FrameworkBriefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, framework: Framework) -> str:
        return library_url(self.context, "api_framework_detail", framework_slug=framework.slug)


class ControlBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    framework = serializers.CharField(source="framework.slug", help_text="The framework's slug.")
    ref = serializers.CharField()
    title = serializers.CharField()


# --- Business profile -----------------------------------------------------------------------------
def _choices_list(choices: list[tuple[str, str]], help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.ChoiceField(choices=choices), required=False, help_text=help_text)


class ProfileSerializer(serializers.ModelSerializer):
    """The business profile, the facts behind recommendations and which controls apply. PATCH any
    subset of fields; choice fields take the values listed, empty for "not answered"."""

    company_name = serializers.CharField(
        max_length=200, error_messages={"blank": "Enter your company's name."}, required=False
    )
    company_number = serializers.CharField(
        max_length=12,
        allow_blank=True,
        required=False,
        help_text="Companies House number: 8 digits, or 2 letters and 6 digits (SC123456); spaces are removed.",
    )
    customer_regions = _choices_list(Region.choices, "Where the customers are.")
    staff_regions = _choices_list(Region.choices, "Where the staff are, contractors included.")
    cloud_providers = _choices_list(CLOUD_PROVIDERS, "Cloud providers used directly.")
    existing_certifications = _choices_list(CERTIFICATIONS, "Certificates currently held.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = BusinessProfile
        fields = (
            "company_name",
            "company_number",
            "sic_section",
            "employees_band",
            "turnover_band",
            "customer_regions",
            "staff_regions",
            "customers_personal_data",
            "employee_data",
            "special_category_data",
            "childrens_data",
            "card_handling",
            "direct_marketing",
            "website",
            "processor_for_customers",
            "automated_decisions",
            "cctv",
            "productivity_suite",
            "cloud_providers",
            "own_software",
            "remote_working",
            "byod",
            "physical_premises",
            "sells_to_consumers",
            "sells_to_businesses",
            "public_sector_bids",
            "customers_ask_soc2",
            "customers_ask_iso27001",
            "customers_ask_cyber_essentials",
            "existing_certifications",
            "goal",
            "deadline",
            "completed_at",
            "updated_at",
            "url",
        )
        read_only_fields = ("completed_at", "updated_at")

    def get_url(self, profile: BusinessProfile) -> str:
        return api_url(self.context, "api_profile")

    def validate_company_number(self, value: str) -> str:
        number = re.sub(r"\s+", "", value).upper()
        if number and not COMPANY_NUMBER.match(number):
            raise serializers.ValidationError(
                "Enter the 8-character Companies House number: 8 digits, or 2 letters and 6 digits "
                "(for example 01234567 or SC123456)."
            )
        return number

    def validate_deadline(self, value: date | None) -> date | None:
        if value is not None and value < timezone.localdate():
            raise serializers.ValidationError("Choose a date in the future.")
        return value

    def validate_customer_regions(self, value: list[str]) -> list[str]:
        return _distinct(value)

    def validate_staff_regions(self, value: list[str]) -> list[str]:
        return _distinct(value)

    def validate_cloud_providers(self, value: list[str]) -> list[str]:
        return _distinct(value)

    def validate_existing_certifications(self, value: list[str]) -> list[str]:
        return _distinct(value)


# --- Adopted frameworks ---------------------------------------------------------------------------
class AdoptionSerializer(serializers.ModelSerializer):
    framework = FrameworkBriefSerializer(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = FrameworkAdoption
        fields = ("id", "url", "framework", "target_date", "adopted_at")
        read_only_fields = fields

    def get_url(self, adoption: FrameworkAdoption) -> str:
        return api_url(self.context, "api_adoption_detail", frameworkadoption_id=adoption.pk)


class AdoptionCreateSerializer(serializers.Serializer):
    framework = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Framework.objects.all(),
        help_text="The framework's slug, as GET /api/v1/frameworks/ lists them.",
        error_messages={"does_not_exist": "No framework has the slug “{value}”: GET /api/v1/frameworks/ lists them."},
    )
    target_date = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="When you aim to be ready; in the future."
    )

    def validate_target_date(self, value: date | None) -> date | None:
        if value is not None and value < timezone.localdate():
            raise serializers.ValidationError("Choose a target date in the future.")
        return value


# --- Assessment rounds and answers ----------------------------------------------------------------
class RoundSerializer(serializers.ModelSerializer):
    is_open = serializers.BooleanField(read_only=True)
    answer_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = AssessmentRound
        fields: tuple[str, ...] = ("id", "name", "started_at", "closed_at", "is_open", "answer_count")
        read_only_fields = fields


class StatusCountsSerializer(serializers.Serializer):
    """Controls by their status as scored: their own answer, else one that came through a mapping or a
    published policy. Controls the business profile rules out are counted apart."""

    implemented = serializers.IntegerField()
    partial = serializers.IntegerField()  # type: ignore[assignment]  # the status, not Serializer.partial
    not_implemented = serializers.IntegerField()
    not_applicable = serializers.IntegerField()
    unanswered = serializers.IntegerField()
    excluded_by_profile = serializers.IntegerField()


class FrameworkProgressSerializer(serializers.Serializer):
    framework = FrameworkBriefSerializer()
    answered = serializers.IntegerField(help_text="Controls that apply and have an answer (not applicable included).")
    total = serializers.IntegerField(help_text="Controls that apply to the business, going by its profile.")
    percent = serializers.IntegerField(help_text="answered ÷ total, as a whole percentage.")
    complete = serializers.BooleanField()
    counts = StatusCountsSerializer()


class CurrentRoundSerializer(RoundSerializer):
    frameworks = FrameworkProgressSerializer(many=True, read_only=True)

    class Meta(RoundSerializer.Meta):
        fields = (*RoundSerializer.Meta.fields, "frameworks")
        read_only_fields = fields


class AssessmentAnswerSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    round = serializers.IntegerField(source="round_id", read_only=True, help_text="The assessment round's id.")
    control = ControlBriefSerializer(read_only=True)
    owner = MemberField()
    via_control = ControlBriefSerializer(
        read_only=True, allow_null=True, help_text="Set when the answer was applied from a mapped control."
    )
    updated_by = MemberField()
    version = serializers.IntegerField(
        read_only=True, help_text="Bumped on every change; send it back when saving to detect a conflicting edit."
    )

    class Meta:
        model = Answer
        fields: tuple[str, ...] = (
            "id",
            "url",
            "round",
            "control",
            "status",
            "notes",
            "justification",
            "owner",
            "via_control",
            "updated_by",
            "updated_at",
            "version",
        )
        read_only_fields = fields

    def get_url(self, answer: Answer) -> str:
        return api_url(self.context, "api_answer_detail", answer_id=answer.pk)


class AssessmentAnswerSavedSerializer(AssessmentAnswerSerializer):
    changed = serializers.SerializerMethodField(help_text="False when the answer was already exactly this.")
    applied_to = serializers.SerializerMethodField(
        help_text="With apply_to_mapped: the mapped controls this answer was also applied to."
    )

    class Meta(AssessmentAnswerSerializer.Meta):
        fields = (*AssessmentAnswerSerializer.Meta.fields, "changed", "applied_to")
        read_only_fields = fields

    def get_changed(self, answer: Answer) -> bool:
        return bool(self.context.get("changed", True))

    @extend_schema_field(ControlBriefSerializer(many=True))
    def get_applied_to(self, answer: Answer) -> list[dict[str, Any]]:
        return ControlBriefSerializer(self.context.get("applied_to", []), many=True).data  # type: ignore[return-value]


class AnswerSaveSerializer(serializers.Serializer):
    """Name the control by `control` (its id) or by `framework` and `ref`. Fields left out keep their
    saved values; `version` makes the save conditional (see the operation's description)."""

    control = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="The control's id.")
    framework = serializers.CharField(required=False, max_length=60, help_text="The framework's slug, with ref.")
    ref = serializers.CharField(required=False, max_length=40, help_text="The control's reference, with framework.")
    status = serializers.ChoiceField(
        choices=AnswerStatus.choices,
        error_messages={"required": STATUS_REQUIRED, "invalid_choice": STATUS_REQUIRED},
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    justification = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Required with not_applicable: the reason goes in the Statement of Applicability.",
    )
    owner = MemberChoiceField(required=False, allow_null=True, help_text="A member's user id, or null for nobody.")
    version = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ID,
        help_text="The answer's version you last read (0: it had no answer). Another version answers 409.",
    )
    apply_to_mapped = serializers.BooleanField(
        default=False, help_text="Also apply the answer to adopted controls this one covers through mappings."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        organisation = self.context["organisation"]
        adopted = Control.objects.live().filter(
            assessable=True,
            framework_id__in=FrameworkAdoption.objects.filter(organisation=organisation).values("framework_id"),
        )
        if "control" in attrs:
            if "framework" in attrs or "ref" in attrs:
                raise serializers.ValidationError(
                    {"control": ["Name the control by its id, or by framework and ref, not both."]}
                )
            control = adopted.filter(pk=attrs["control"]).select_related("framework").first()
            field = "control"
        elif "framework" in attrs and "ref" in attrs:
            control = (
                adopted.filter(framework__slug=attrs["framework"], ref=attrs["ref"]).select_related("framework").first()
            )
            field = "ref"
        else:
            raise serializers.ValidationError({"control": ["Name the control by its id, or by framework and ref."]})
        if control is None:
            raise serializers.ValidationError({field: [CONTROL_NOT_ADOPTED]})
        # A justification already saved counts: fields left out keep their values.
        if (
            attrs["status"] == AnswerStatus.NOT_APPLICABLE
            and not attrs.get("justification", "").strip()
            and ("justification" in attrs or not _saved_justification(organisation, control))
        ):
            raise serializers.ValidationError({"justification": [JUSTIFICATION_REQUIRED]})
        attrs["control"] = control
        return attrs


def _saved_justification(organisation: Any, control: Control) -> str:
    return (
        Answer.objects.filter(organisation=organisation, round__closed_at__isnull=True, control=control)
        .values_list("justification", flat=True)
        .first()
        or ""
    ).strip()


# --- Readiness ------------------------------------------------------------------------------------
def _score(*, places: int = 1, **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=9, decimal_places=places, coerce_to_string=False, **kwargs)


BAND_HELP = "green from 80, amber from 50, red below."


class FrameworkReadinessSerializer(serializers.Serializer):
    framework = FrameworkBriefSerializer()
    target_date = serializers.DateField(allow_null=True)
    score = _score(help_text="Readiness percentage, to one decimal place.")
    band = serializers.ChoiceField(choices=["green", "amber", "red"], help_text=BAND_HELP)
    would_fail = serializers.BooleanField(help_text="An applicable auto-fail control is not fully implemented.")
    applicable = serializers.IntegerField(help_text="Controls that count: they apply and are not marked N/A.")
    answered = serializers.IntegerField()
    implemented = serializers.IntegerField()
    failing_controls = ControlBriefSerializer(many=True, help_text="The auto-fail controls that make it fail.")


class ReadinessSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    overall = _score(help_text="The mean of the frameworks' scores: each adopted framework counts the same.")
    band = serializers.ChoiceField(choices=["green", "amber", "red"], help_text=BAND_HELP)
    would_fail = serializers.BooleanField(help_text="Any adopted framework would fail.")
    frameworks = FrameworkReadinessSerializer(many=True)


class SnapshotSerializer(serializers.ModelSerializer):
    framework = FrameworkBriefSerializer(read_only=True, allow_null=True, help_text="null: the overall score.")
    score = _score(read_only=True)

    class Meta:
        model = ReadinessSnapshot
        fields = ("id", "taken_at", "framework", "score", "band", "would_fail", "applicable", "answered", "implemented")
        read_only_fields = fields


class CreditsSerializer(serializers.Serializer):
    implemented = _score(places=2)
    partial = _score(places=2)  # type: ignore[assignment]  # the status, not Serializer.partial
    not_implemented = _score(places=2)
    unanswered = _score(places=2)
    implemented_without_current_evidence = _score(
        places=2, help_text="Applies once the organisation keeps any evidence; until then implemented earns 1."
    )


class FormulaSerializer(serializers.Serializer):
    expression = serializers.CharField()
    credits = CreditsSerializer()
    green_from = _score()
    amber_from = _score()
    rules = serializers.ListField(child=serializers.CharField())


class TotalsSerializer(serializers.Serializer):
    weight = serializers.IntegerField(help_text="Σ weight of the controls that count.")
    weighted_credit = _score(help_text="Σ weight × credit.")
    possible = _score()
    earned = _score(help_text="100 × weighted_credit ÷ weight: the score.")
    lost = _score()


class GroupScoreSerializer(serializers.Serializer):
    ref = serializers.CharField()
    title = serializers.CharField()
    score = _score(help_text="The group's own readiness, as if it were a framework.")
    band = serializers.CharField()
    weight = serializers.IntegerField()
    possible = _score(help_text="Points of the framework's 100 the group's controls are worth.")
    earned = _score()
    lost = _score()
    applicable = serializers.IntegerField()
    answered = serializers.IntegerField()
    implemented = serializers.IntegerField()


class GapPointsSerializer(serializers.Serializer):
    control = ControlBriefSerializer()
    status = serializers.CharField(allow_null=True, help_text="null: not answered.")
    weight = serializers.IntegerField()
    auto_fail = serializers.BooleanField()
    points = _score(help_text="What fully implementing it (with current evidence) adds to the framework's score.")
    impact = _score(help_text="points × (1 + mapped controls it would also close): the ranking key.")


class ExcludedSerializer(serializers.Serializer):
    control = ControlBriefSerializer()
    reason = serializers.ChoiceField(
        choices=[("not_applicable", "Answered not applicable"), ("profile", "Ruled out by the business profile")]
    )
    detail = serializers.CharField(help_text="The justification given, or which profile facts rule it out.")
    unmet_facts = serializers.ListField(
        child=serializers.CharField(), help_text="The business profile facts the control needs and lacks."
    )


class ExplanationSerializer(serializers.Serializer):
    framework = FrameworkBriefSerializer()
    score = _score()
    band = serializers.CharField()
    would_fail = serializers.BooleanField()
    applicable = serializers.IntegerField()
    answered = serializers.IntegerField()
    implemented = serializers.IntegerField()
    formula = FormulaSerializer()
    totals = TotalsSerializer()
    counts = StatusCountsSerializer()
    came_through = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Counted controls whose status came from a mapping (`mapping`) or a published policy "
        "(`policy`), and those implemented without current evidence (`unevidenced`).",
    )
    groups = GroupScoreSerializer(many=True)
    top_gaps = GapPointsSerializer(many=True)
    failing_controls = ControlBriefSerializer(many=True)
    excluded = ExcludedSerializer(many=True, help_text="Controls left out: answered not applicable, or ruled out.")


class GapSerializer(serializers.Serializer):
    control = ControlBriefSerializer()
    framework = FrameworkBriefSerializer()
    status = serializers.CharField(allow_null=True, help_text="null: not answered.")
    weight = serializers.IntegerField()
    auto_fail = serializers.BooleanField()
    points = _score(help_text="What fully implementing it adds to its framework's score.")
    impact = _score(help_text="points × (1 + mapped_count): the ranking key, after auto-fail.")
    mapped_count = serializers.IntegerField(help_text="Other adopted controls mapped to it.")
    priority = serializers.IntegerField(help_text="The plan's priority for it: 1 critical, 2 high, 3 medium, 4 low.")
    why_it_matters = serializers.CharField(help_text="What the control means, in plain English.")
    how_to_close = serializers.CharField(help_text="How a small business meets it.")
    open_task_id = serializers.IntegerField(allow_null=True, help_text="An open plan task that covers it.")


class GapListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Gaps in all, with the framework filter applied.")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = GapSerializer(many=True)


# --- Implementation plan --------------------------------------------------------------------------
class TaskSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    owner = MemberField()
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)
    controls = ControlBriefSerializer(many=True, read_only=True)

    class Meta:
        model = PlanTask
        fields = (
            "id",
            "url",
            "title",
            "description",
            "status",
            "priority",
            "effort",
            "origin",
            "owner",
            "due_date",
            "overdue",
            "controls",
            "position",
            "created_at",
            "completed_at",
        )
        read_only_fields = fields

    def get_url(self, task: PlanTask) -> str:
        return api_url(self.context, "api_task_detail", plantask_id=task.pk)


class TaskUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300, error_messages={"blank": "Give the task a short title."})
    description = serializers.CharField(allow_blank=True)
    owner = MemberChoiceField(allow_null=True, help_text="A member's user id, or null for nobody.")
    due_date = serializers.DateField(allow_null=True)
    priority = serializers.ChoiceField(choices=Priority.choices, help_text="1 critical, 2 high, 3 medium, 4 low.")
    effort = serializers.ChoiceField(choices=Effort.choices)
    status = serializers.ChoiceField(choices=TaskStatus.choices)


class TaskCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300, error_messages={"blank": "Give the task a short title."})
    description = serializers.CharField(allow_blank=True, required=False, default="")
    owner = MemberChoiceField(
        allow_null=True, required=False, default=None, help_text="A member's user id, or null for nobody."
    )
    due_date = serializers.DateField(allow_null=True, required=False, default=None)
    priority = serializers.ChoiceField(
        choices=Priority.choices, default=Priority.MEDIUM, help_text="1 critical, 2 high, 3 medium, 4 low."
    )
    effort = serializers.ChoiceField(choices=Effort.choices, default=Effort.MEDIUM)
    controls = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        help_text="Ids of controls of adopted frameworks the task closes.",
    )

    def validate_controls(self, value: list[int]) -> list[Control]:
        wanted = _distinct(value)
        found = Control.objects.live().filter(
            pk__in=wanted,
            assessable=True,
            framework_id__in=FrameworkAdoption.objects.filter(organisation=self.context["organisation"]).values(
                "framework_id"
            ),
        )
        by_id = {control.pk: control for control in found}
        missing = [pk for pk in wanted if pk not in by_id]
        if missing:
            raise serializers.ValidationError(f"{CONTROL_NOT_ADOPTED} ({', '.join(map(str, missing))})")
        return [by_id[pk] for pk in wanted]
