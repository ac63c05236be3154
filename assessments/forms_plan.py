"""Forms of the implementation plan: editing a task, adding one, moving it on the board, filtering."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Organisation, User
from assessments.models import Effort, FrameworkAdoption, PlanTask, Priority, TaskStatus
from compliance.models import Control

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _member_users(organisation: Organisation) -> Any:
    return User.objects.filter(memberships__organisation=organisation).order_by("full_name", "email")


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class TaskForm(forms.ModelForm):
    """Everything a person may change on a task: the plan's own numbers stay with the code."""

    class Meta:
        model = PlanTask
        fields = ["title", "description", "owner", "due_date", "priority", "effort", "status"]
        widgets = {"due_date": DATE_WIDGET, "description": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"owner": "Who makes it happen. Anyone in the organisation can own a task."}
        field_classes = {"owner": MemberChoiceField}

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = _member_users(organisation)
        owner.empty_label = "Nobody yet"

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the task a short title.")
        return title


class TaskCreateForm(forms.Form):
    title = forms.CharField(max_length=300)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = MemberChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody yet")
    due_date = forms.DateField(required=False, widget=DATE_WIDGET)
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.MEDIUM)
    effort = forms.ChoiceField(choices=Effort.choices, initial=Effort.MEDIUM)
    # Set by "Add to plan" on the gap list; only controls of adopted frameworks are valid.
    controls = forms.ModelMultipleChoiceField(
        queryset=Control.objects.none(), required=False, widget=forms.MultipleHiddenInput
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = _member_users(organisation)
        controls = self.fields["controls"]
        assert isinstance(controls, forms.ModelMultipleChoiceField)
        controls.queryset = (
            Control.objects.live()
            .filter(
                assessable=True,
                framework_id__in=FrameworkAdoption.objects.filter(organisation=organisation).values("framework_id"),
            )
            .select_related("framework")
        )

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the task a short title.")
        return title


class TaskMoveForm(forms.Form):
    """Moving a card on the board: nothing but the new status."""

    status = forms.ChoiceField(choices=TaskStatus.choices)


class PlanFilterForm(forms.Form):
    mine = forms.ChoiceField(label="Show", required=False, choices=[("", "Everyone's tasks"), ("1", "My tasks")])
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *TaskStatus.choices])
    view = forms.ChoiceField(required=False, choices=[("list", "List"), ("board", "Board")])
