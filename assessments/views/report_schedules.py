"""Report schedules: the list on the Reports page, and the pages to create, change, pause, resume and delete
one. Everyone in the organisation sees the schedules; only roles that can edit may change them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Membership, Organisation, User
from accounts.roles import Capability
from assessments import services_schedules
from assessments.access import get_schedule_for
from assessments.models import ReportSchedule, ScheduleDelivery, ScheduleFrequency
from assessments.services_schedules import WEEKDAYS, frequency_in_words, when_in_words
from config.pages import render_page

FORM_TEMPLATE = "assessments/report_schedule_form.html"
DELETE_TEMPLATE = "assessments/report_schedule_delete.html"
HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]
MONTH_DAYS = [(day, str(day)) for day in range(1, 29)]


# --- The list on the Reports page -----------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleRow:
    schedule: ReportSchedule
    frequency: str
    next_run: str
    recipients: str


def schedules_context(organisation: Organisation, membership: Membership) -> dict[str, Any]:
    """The Reports page's "Scheduled reports" section: two queries (none for recipients if no schedules)."""
    schedules = ReportSchedule.objects.filter(organisation=organisation).prefetch_related("recipients")
    rows = [
        ScheduleRow(
            schedule=schedule,
            frequency=frequency_in_words(schedule),
            next_run="" if schedule.paused or not schedule.next_run_at else when_in_words(schedule.next_run_at),
            recipients=", ".join(
                sorted(user.display_name for user in schedule.recipients.all())  # prefetched
            ),
        )
        for schedule in schedules
    ]
    return {"schedules": rows, "can_edit_schedules": membership.can(Capability.EDIT)}


# --- The form -------------------------------------------------------------------------------------
class MemberChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name} ({obj.email})"


class ScheduleForm(forms.Form):
    frequency = forms.ChoiceField(
        label="How often", choices=ScheduleFrequency.choices, widget=forms.RadioSelect, initial=ScheduleFrequency.WEEKLY
    )
    weekday = forms.TypedChoiceField(
        label="Day of the week",
        choices=list(enumerate(WEEKDAYS)),
        coerce=int,
        initial=0,
        help_text="For a weekly report.",
    )
    day_of_month = forms.TypedChoiceField(
        label="Day of the month",
        choices=MONTH_DAYS,
        coerce=int,
        initial=1,
        help_text="For a monthly report. Up to the 28th, so that every month has the day.",
    )
    hour = forms.TypedChoiceField(label="Time", choices=HOURS, coerce=int, initial=8, help_text="UK time.")
    recipients = MemberChoices(
        label="Send it to",
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Only members of your organisation can receive reports.",
        error_messages={
            "required": "Choose at least one person to send the report to.",
            "invalid_choice": "Reports go only to members of your organisation.",
        },
    )
    delivery = forms.ChoiceField(
        label="How to send it",
        choices=ScheduleDelivery.choices,
        widget=forms.RadioSelect,
        initial=ScheduleDelivery.ATTACH,
        help_text="A PDF over 10 MB is sent as a link instead. A link needs the person to sign in.",
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        recipients = self.fields["recipients"]
        assert isinstance(recipients, forms.ModelMultipleChoiceField)
        recipients.queryset = User.objects.filter(memberships__organisation=organisation, is_active=True).order_by(
            "full_name", "email"
        )

    @staticmethod
    def initial_for(schedule: ReportSchedule) -> dict[str, Any]:
        weekly = schedule.frequency == ScheduleFrequency.WEEKLY
        return {
            "frequency": schedule.frequency,
            "weekday": schedule.day if weekly else 0,
            "day_of_month": 1 if weekly else schedule.day,
            "hour": schedule.hour,
            "recipients": list(schedule.recipients.all()),
            "delivery": schedule.delivery,
        }

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        weekly = data["frequency"] == ScheduleFrequency.WEEKLY
        return {
            "frequency": data["frequency"],
            "day": data["weekday"] if weekly else data["day_of_month"],
            "hour": data["hour"],
            "recipients": list(data["recipients"]),
            "delivery": data["delivery"],
        }

    def add_service_error(self, error: ValidationError) -> None:
        """Put the service's refusal next to the field it is about; "day" is whichever day field applies."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        weekly = self.cleaned_data.get("frequency") == ScheduleFrequency.WEEKLY
        for field, errors in error.message_dict.items():
            if field == "day":
                field = "weekday" if weekly else "day_of_month"
            self.add_error(field if field in self.fields else None, errors)


# --- Pages ----------------------------------------------------------------------------------------
def _back_to_reports() -> HttpResponse:
    return redirect(reverse("reports") + "#schedules-heading")


@require_http_methods(["GET", "POST"])
@member_required(Capability.EDIT)
def report_schedule_create(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request).organisation
    form = ScheduleForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            services_schedules.schedule_create(
                organisation=organisation, actor=Actor.from_request(request), **form.service_arguments()
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, "The report is scheduled.")
            return _back_to_reports()
    status = 400 if form.errors else 200
    return render_page(request, FORM_TEMPLATE, {"form": form, "schedule": None}, status=status)


@require_http_methods(["GET", "POST"])
@member_required(Capability.EDIT)
def report_schedule_update(request: HttpRequest, reportschedule_id: int) -> HttpResponse:
    schedule = get_schedule_for(request, reportschedule_id)
    organisation = schedule.organisation
    if request.method == "POST":
        form = ScheduleForm(request.POST, organisation=organisation)
        if form.is_valid():
            try:
                services_schedules.schedule_update(
                    schedule=schedule, actor=Actor.from_request(request), **form.service_arguments()
                )
            except ValidationError as error:
                form.add_service_error(error)
            else:
                messages.success(request, "The schedule is saved.")
                return _back_to_reports()
    else:
        form = ScheduleForm(initial=ScheduleForm.initial_for(schedule), organisation=organisation)
    status = 400 if form.errors else 200
    return render_page(request, FORM_TEMPLATE, {"form": form, "schedule": schedule}, status=status)


@require_POST
@member_required(Capability.EDIT)
def report_schedule_pause(request: HttpRequest, reportschedule_id: int) -> HttpResponse:
    schedule = get_schedule_for(request, reportschedule_id)
    services_schedules.schedule_pause(schedule=schedule, actor=Actor.from_request(request))
    messages.success(request, "The schedule is paused. No reports are sent until you resume it.")
    return _back_to_reports()


@require_POST
@member_required(Capability.EDIT)
def report_schedule_resume(request: HttpRequest, reportschedule_id: int) -> HttpResponse:
    schedule = get_schedule_for(request, reportschedule_id)
    services_schedules.schedule_resume(schedule=schedule, actor=Actor.from_request(request))
    messages.success(request, "The schedule is running again.")
    return _back_to_reports()


@require_http_methods(["GET", "POST"])
@member_required(Capability.EDIT)
def report_schedule_delete(request: HttpRequest, reportschedule_id: int) -> HttpResponse:
    schedule = get_schedule_for(request, reportschedule_id)
    if request.method == "POST":
        services_schedules.schedule_delete(schedule=schedule, actor=Actor.from_request(request))
        messages.success(request, "The schedule is deleted. Reports it already sent stay in the list.")
        return _back_to_reports()
    context = {"schedule": schedule, "frequency": frequency_in_words(schedule)}
    return render_page(request, DELETE_TEMPLATE, context)
