"""The business profile wizard, the profile summary, and choosing frameworks from the recommendations."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import member_required, require_membership
from accounts.audit import Actor
from accounts.models import Organisation
from accounts.roles import Capability
from assessments import selectors, services
from assessments.access import get_adoption_for
from assessments.forms_onboarding import (
    STEP_FORMS,
    STEP_SLUGS,
    STEPS,
    AdoptForm,
    ReviewForm,
    StepForm,
    TargetDateForm,
    profile_sections,
    step_initial,
)
from assessments.models import BusinessProfile, FrameworkAdoption
from assessments.recommendations import RECOMMENDED, REQUIRED, WORTH_CONSIDERING, Recommendation, recommend
from compliance.models import Framework
from config.pages import render_page, wants_fragment

STEP_TEMPLATE = "assessments/onboarding/step.html"
RECOMMENDATIONS_TEMPLATE = "assessments/recommendations.html"
DEFAULT_TARGET_MONTHS = 6

STRENGTHS = (
    (REQUIRED, "Required", "The law, your customers or your payment provider expect this of you."),
    (RECOMMENDED, "Recommended", "A good fit for what you told us, and likely to pay off."),
    (WORTH_CONSIDERING, "Worth considering", "Useful to know about, though nobody is asking for it yet."),
)


def _redirect(request: HttpRequest, to: str) -> HttpResponse:
    if wants_fragment(request):
        return HttpResponseClientRedirect(to)
    return redirect(to)


def _profile_or_blank(organisation: Organisation) -> BusinessProfile:
    """The saved profile, or an unsaved one to show before the first answer (nothing is written on read)."""
    return selectors.profile_for(organisation) or BusinessProfile(
        organisation=organisation, company_name=organisation.name
    )


# --- The wizard -----------------------------------------------------------------------------------
@require_GET
@member_required()
def onboarding(request: HttpRequest) -> HttpResponse:
    """Pick up where the business left off, or start at the beginning."""
    profile = selectors.profile_for(require_membership(request).organisation)
    step = profile.last_step if profile is not None and profile.last_step in STEPS else STEP_SLUGS[0]
    return redirect("onboarding_step", step=step)


@require_http_methods(["GET", "POST"])
@member_required()
def onboarding_step(request: HttpRequest, step: str) -> HttpResponse:
    form_class = STEPS.get(step)
    if form_class is None:
        raise Http404("No such step.")
    membership = require_membership(request, Capability.EDIT if request.method == "POST" else Capability.VIEW)
    organisation = membership.organisation
    can_edit = membership.can(Capability.EDIT)
    actor = Actor.from_request(request)

    if form_class is ReviewForm and request.method == "POST":
        services.profile_complete(organisation=organisation, actor=actor)
        messages.success(request, "Your business profile is complete. Here is what we recommend, and why.")
        return _redirect(request, reverse("recommendations"))

    form_kwargs: dict[str, Any] = {"autosave_url": request.path if can_edit else "", "read_only": not can_edit}
    if request.method == "POST":
        form = form_class(request.POST, **form_kwargs)
        if wants_fragment(request):
            return _autosave(request, form, organisation=organisation, step=step, actor=actor)
        if form.is_valid():
            following = _neighbour(step, +1) or step
            # The step to resume at is the one they are heading to, now this one is done.
            services.profile_update(organisation=organisation, values=form.cleaned_data, step=following, actor=actor)
            return redirect("onboarding_step", step=following)
        profile = _profile_or_blank(organisation)
    else:
        profile = _profile_or_blank(organisation)
        form = form_class(initial=step_initial(form_class, profile), **form_kwargs)
    return render_page(request, STEP_TEMPLATE, _step_context(form, profile, step=step, can_edit=can_edit))


def _autosave(
    request: HttpRequest, form: StepForm, *, organisation: Organisation, step: str, actor: Actor
) -> HttpResponse:
    """Save the field that changed, if its answer is valid, and say so. htmx names the field in
    HX-Trigger-Name; without a name every valid field of the step is saved."""
    form.is_valid()
    trigger = request.headers.get("HX-Trigger-Name", "")
    names = [trigger] if trigger in form.fields else list(form.fields)
    values = {name: form.cleaned_data[name] for name in names if name not in form.errors}
    if values:
        services.profile_update(organisation=organisation, values=values, step=step, actor=actor)
    return render_page(
        request,
        STEP_TEMPLATE,
        {"form": form, "checked": [form[name] for name in names], "failed": any(n in form.errors for n in names)},
        fragment="autosave",
    )


def _neighbour(step: str, offset: int) -> str | None:
    index = STEP_SLUGS.index(step) + offset
    return STEP_SLUGS[index] if 0 <= index < len(STEP_SLUGS) else None


@dataclass
class StepLink:
    slug: str
    title: str
    number: int
    current: bool


def _step_context(form: StepForm, profile: BusinessProfile, *, step: str, can_edit: bool) -> dict[str, Any]:
    number = STEP_SLUGS.index(step) + 1
    return {
        "form": form,
        "step": step,
        "number": number,
        "total": len(STEP_SLUGS),
        "steps": [StepLink(f.slug, f.title, i, f.slug == step) for i, f in enumerate(STEP_FORMS, start=1)],
        "previous": _neighbour(step, -1),
        "next": _neighbour(step, +1),
        "profile": profile,
        "completed": profile.completed_at is not None,
        "sections": profile_sections(profile) if form.__class__ is ReviewForm else [],
        "can_edit": can_edit,
    }


# --- What the business told us --------------------------------------------------------------------
@require_GET
@member_required()
def profile_summary(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    profile = selectors.profile_for(membership.organisation)
    recommended: list[tuple[Recommendation, Framework]] = []
    if profile is not None and profile.completed_at is not None:
        frameworks = {f.slug: f for f in Framework.objects.only("pk", "slug", "name", "position")}
        recommended = [(r, frameworks[r.framework_slug]) for r in recommend(profile) if r.framework_slug in frameworks]
    return render_page(
        request,
        "assessments/profile_summary.html",
        {
            "profile": profile,
            "sections": profile_sections(profile) if profile is not None else [],
            "recommended": recommended,
            "can_edit": membership.can(Capability.EDIT),
        },
    )


# --- Recommendations and adoption -----------------------------------------------------------------
@dataclass
class Suggestion:
    framework: Framework
    recommendation: Recommendation
    adoption: FrameworkAdoption | None


@dataclass
class StrengthGroup:
    strength: str
    label: str
    explanation: str
    suggestions: list[Suggestion] = field(default_factory=list)


def months_ahead(start: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (31 August -> 28 February)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def default_target(profile: BusinessProfile | None) -> date:
    today = timezone.localdate()
    if profile is not None and profile.deadline is not None and profile.deadline > today:
        return profile.deadline
    return months_ahead(today, DEFAULT_TARGET_MONTHS)


def _recommendations_context(
    request: HttpRequest, *, adopt_form: AdoptForm | None = None, update_form: tuple[int, TargetDateForm] | None = None
) -> dict[str, Any]:
    membership = require_membership(request)
    organisation = membership.organisation
    profile = selectors.profile_for(organisation)
    completed = profile is not None and profile.completed_at is not None
    frameworks = {f.slug: f for f in Framework.objects.only("pk", "slug", "name", "version", "position")}
    adoptions = list(selectors.adoptions_for(organisation))
    adopted = {adoption.framework_id: adoption for adoption in adoptions}

    groups = {strength: StrengthGroup(strength, label, why) for strength, label, why in STRENGTHS}
    recommended_slugs = set()
    for recommendation in recommend(profile) if completed else []:
        framework = frameworks.get(recommendation.framework_slug)
        if framework is None:  # the library does not have it loaded
            continue
        recommended_slugs.add(framework.slug)
        groups[recommendation.strength].suggestions.append(
            Suggestion(framework, recommendation, adopted.get(framework.pk))
        )
    others = [f for f in frameworks.values() if f.slug not in recommended_slugs and f.pk not in adopted]

    context: dict[str, Any] = {
        "profile": profile,
        "completed": completed,
        "groups": [group for group in groups.values() if group.suggestions],
        "adoptions": adoptions,
        "others": others,
        "default_target": default_target(profile),
        "today": timezone.localdate(),
        "can_edit": membership.can(Capability.EDIT),
    }
    if adopt_form is not None:
        context.update(
            adopt_error_slug=adopt_form.data.get("framework", ""),
            adopt_errors=adopt_form.errors.get("target_date", []),
            adopt_value=adopt_form.data.get("target_date", ""),
        )
    if update_form is not None:
        adoption_id, form = update_form
        context.update(
            update_error_id=adoption_id,
            update_errors=form.errors.get("target_date", []),
            update_value=form.data.get("target_date", ""),
        )
    return context


@require_GET
@member_required()
def recommendations(request: HttpRequest) -> HttpResponse:
    return render_page(request, RECOMMENDATIONS_TEMPLATE, _recommendations_context(request))


@require_POST
@member_required(Capability.EDIT)
def framework_adopt(request: HttpRequest) -> HttpResponse:
    organisation = require_membership(request, Capability.EDIT).organisation
    form = AdoptForm(request.POST)
    framework = Framework.objects.filter(slug=str(request.POST.get("framework", ""))[:60]).first()
    if framework is None:
        raise Http404("No such framework.")
    if form.is_valid():
        try:
            services.framework_adopt(
                organisation=organisation,
                framework=framework,
                target_date=form.cleaned_data["target_date"],
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            form.add_error("target_date", error)
        else:
            messages.success(request, f"You have adopted {framework.name}. Its controls are now in your assessment.")
            return _redirect(request, reverse("recommendations"))
    return render_page(request, RECOMMENDATIONS_TEMPLATE, _recommendations_context(request, adopt_form=form))


@require_POST
@member_required(Capability.EDIT)
def adoption_update(request: HttpRequest, frameworkadoption_id: int) -> HttpResponse:
    adoption = get_adoption_for(request, frameworkadoption_id, write=True)
    form = TargetDateForm(request.POST)
    if form.is_valid():
        target = form.cleaned_data["target_date"]
        try:
            services.framework_adopt(
                organisation=require_membership(request).organisation,
                framework=adoption.framework,
                target_date=target,
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            form.add_error("target_date", error)
        else:
            when = f"{target:%-d %B %Y}" if target else "no date"
            messages.success(request, f"The target for {adoption.framework.name} is now {when}.")
            return _redirect(request, reverse("recommendations"))
    return render_page(
        request, RECOMMENDATIONS_TEMPLATE, _recommendations_context(request, update_form=(adoption.pk, form))
    )


@require_POST
@member_required(Capability.EDIT)
def adoption_remove(request: HttpRequest, frameworkadoption_id: int) -> HttpResponse:
    adoption = get_adoption_for(request, frameworkadoption_id, write=True)
    name = adoption.framework.name
    services.framework_drop(adoption=adoption, actor=Actor.from_request(request))
    messages.success(request, f"You are no longer working towards {name}. Your answers are kept if you adopt it again.")
    return _redirect(request, reverse("recommendations"))
