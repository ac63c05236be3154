"""The framework library: frameworks, their groups and controls, questions, and cross-framework mappings.

The library is shared by every organisation (it is not tenant data). It is loaded from data files
and curated by library editors in admin. Reloading a framework updates rows in place; controls and
questions that disappear are retired, never deleted, so organisations' answers and evidence keep
pointing at them.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

# Lower-case words joined by hyphens or dots, so versions read naturally: "nist-csf-2.0", "pci-dss-4.0.1".
framework_slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$", "Use lower-case letters and numbers, joined by hyphens or dots."
)


class Relationship(models.TextChoices):
    """NIST OLIR set-theory relationships, read as "source is <relationship> of target"."""

    EQUAL = "equal", "Equal"
    SUBSET = "subset", "Subset of"
    SUPERSET = "superset", "Superset of"
    INTERSECT = "intersect", "Intersects with"


class GroupKind(models.TextChoices):
    THEME = "theme", "Theme"
    CHAPTER = "chapter", "Chapter"
    SECTION = "section", "Section"
    CATEGORY = "category", "Category"
    FUNCTION = "function", "Function"
    CLAUSE = "clause", "Clause"
    REQUIREMENT = "requirement", "Requirement"


class LiveQuerySet(models.QuerySet):
    def live(self) -> LiveQuerySet:
        return self.filter(retired_at__isnull=True)


class Framework(models.Model):
    slug = models.CharField(max_length=60, unique=True, validators=[framework_slug_validator])
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=40)
    version_label = models.CharField(max_length=80, blank=True)
    publisher = models.CharField(max_length=200)
    effective_date = models.DateField(null=True, blank=True)
    jurisdiction = models.CharField(max_length=80)
    source_url = models.URLField(max_length=500, blank=True)
    licence_note = models.TextField(blank=True)
    description = models.TextField()
    # Where the content came from: our bundled library, an import, or a consultant's own authoring.
    origin = models.CharField(max_length=40, default="greenlight")
    # The identifier an imported library gave it (CISO Assistant URN), so its mapping sets can find it.
    urn = models.CharField(max_length=300, blank=True, db_index=True)
    # Hash of the data file it was loaded from: an unchanged file is skipped on reload.
    content_hash = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        permissions = [("edit_library", "Can edit the framework library")]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("framework_detail", kwargs={"framework_slug": self.slug})


class ControlGroup(models.Model):
    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="groups")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    ref = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=GroupKind.choices)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = LiveQuerySet.as_manager()

    class Meta:
        ordering = ["framework", "position"]
        constraints = [models.UniqueConstraint(fields=["framework", "ref"], name="group_unique_ref_per_framework")]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"


class Control(models.Model):
    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="controls")
    group = models.ForeignKey(ControlGroup, on_delete=models.PROTECT, related_name="controls")
    ref = models.CharField(max_length=40)
    title = models.CharField(max_length=300)
    description = models.TextField(help_text="What the control means, in plain English for a small-business owner.")
    guidance = models.TextField(help_text="How a small business meets it.")
    typical_evidence = models.JSONField(default=list, blank=True)
    weight = models.PositiveSmallIntegerField(default=3)
    applies_if = models.JSONField(
        default=list, blank=True, help_text="Business-profile facts that must all hold for the control to apply."
    )
    auto_fail = models.BooleanField(default=False, help_text="Failing it fails the whole assessment.")
    assessable = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)
    urn = models.CharField(max_length=300, blank=True, db_index=True)
    # Words a search should find this control by, including synonyms; rebuilt on every load.
    search_text = models.TextField(blank=True, editable=False)

    objects = LiveQuerySet.as_manager()

    class Meta:
        ordering = ["framework", "position"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "ref"], name="control_unique_ref_per_framework"),
            models.CheckConstraint(condition=models.Q(weight__gte=1, weight__lte=5), name="control_weight_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("control_detail", kwargs={"framework_slug": self.framework.slug, "control_ref": self.ref})


class Question(models.Model):
    control = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="questions")
    key = models.CharField(max_length=40)
    text = models.TextField()
    help_text = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = LiveQuerySet.as_manager()

    class Meta:
        ordering = ["control", "position"]
        constraints = [models.UniqueConstraint(fields=["control", "key"], name="question_unique_key_per_control")]

    def __str__(self) -> str:
        return self.text


class ControlMapping(models.Model):
    source = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mappings_out")
    target = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mappings_in")
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    rationale = models.TextField(blank=True)
    # The library file that owns the mapping (reloading it replaces them), or "admin" for hand-made ones.
    origin = models.CharField(max_length=200, default="admin", db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="mapping_unique_pair"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="mapping_not_to_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.get_relationship_display()} {self.target}"
