"""Erasure: a person deleting their account, and an organisation deleted after a grace period.

Deleting an account removes the person and what is only theirs (memberships, conversations, notifications,
email addresses, two-factor methods); what they did in each organisation stays, its user foreign key set to
nothing (SET_NULL), and pages show it as by a former member (accounts.people). Policy acknowledgements go
with the account (CASCADE): an acknowledgement says that this person read a version, which means nothing
once they are no longer anyone; the organisation keeps the audit event that recorded it.

Deleting an organisation is asked for by an owner and carried out by the daily task once
`deletion_due_at` has passed; until then an owner can cancel and nothing is lost. Carrying it out
removes every row (the organisation's foreign keys cascade to every tenant model and its API keys) and
every stored file: those the rows name, and anything else under the organisation's own storage folders.
People are kept: they only lose the membership.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Count, Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.audit import Actor, audit_record
from accounts.models import Membership, Organisation, User
from accounts.roles import Role
from accounts.tenancy import tenant_models
from config.queueing import enqueue_on_commit
from evidence.services.storage import files_under

logger = logging.getLogger(__name__)

OWNERS_ONLY = "Only an owner can delete the organisation or cancel its deletion."
# Files this recent under a vanished organisation's folder may belong to one being created (an import
# copies its files before its transaction commits): the sweep leaves them for a later run.
ORPHAN_GRACE = timedelta(hours=1)


def _day(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "j F Y")


def _send(*, template: str, subject: str, to: Iterable[str], context: dict[str, object]) -> None:
    """Email once the transaction commits; the body is rendered now, while the rows it names still exist."""
    from accounts.tasks import send_erasure_email

    recipients = sorted({address for address in to if address})
    if recipients:
        body = render_to_string(f"accounts/email/{template}.txt", {**context, "site_url": settings.SITE_URL})
        enqueue_on_commit(send_erasure_email, f"[Greenlight] {subject}", body, recipients)


# --- Deleting one's account ------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountDeletionPlan:
    """What deleting this person's account would do, and what stops it."""

    memberships: Sequence[Membership]
    # Organisations where they are the only owner but not the only member: ownership must pass on first.
    blocking: list[Organisation]
    # Organisations where they are the only member: nobody would be left to open them.
    sole_member: list[Organisation]
    last_superuser: bool

    @property
    def allowed(self) -> bool:
        return not self.blocking and not self.last_superuser


def account_deletion_plan(user: User) -> AccountDeletionPlan:
    """Two queries at most: the memberships with what the organisation's others are, and, for a superuser,
    whether another one is left."""
    others = Membership.objects.filter(organisation=OuterRef("organisation")).exclude(user=user)
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .annotate(has_others=Exists(others), has_other_owners=Exists(others.filter(role=Role.OWNER)))
        .order_by("organisation__name", "pk")
    )
    last_superuser = (
        user.is_superuser and not User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).exists()
    )
    return AccountDeletionPlan(
        memberships=memberships,
        blocking=[
            m.organisation
            for m in memberships
            if m.is_owner and m.has_others and not m.has_other_owners  # type: ignore[attr-defined]
        ],
        sole_member=[m.organisation for m in memberships if not m.has_others],  # type: ignore[attr-defined]
        last_superuser=last_superuser,
    )


def _owner_fields() -> list[tuple[type[models.Model], str]]:
    """Every tenant model's `owner` foreign key to a person: who is responsible for a task, an answer, a
    policy or a piece of evidence. Found from the models, so a new one is counted too."""
    return [
        (model, relation.name)
        for model in tenant_models()
        for relation in model._meta.concrete_fields
        if relation.name == "owner" and isinstance(relation, models.ForeignKey) and relation.related_model is User
    ]


# Where a model's own name reads badly with a number in front of it ("3 evidence").
COUNTED_AS = {"evidence.evidence": ("evidence item", "evidence items")}


def _counted(model: type[models.Model], count: int) -> str:
    meta = model._meta
    singular, plural = COUNTED_AS.get(meta.label_lower, (str(meta.verbose_name), str(meta.verbose_name_plural)))
    return f"{count} {singular if count == 1 else plural}"


def _left_without_owner(user: User) -> dict[int, list[str]]:
    """Per organisation, what the person owns that will have no owner once they are gone: "3 plan tasks"."""
    found: dict[int, list[str]] = {}
    for model, name in _owner_fields():
        counts = model._default_manager.filter(**{name: user}).values("organisation_id").annotate(n=Count("pk"))
        for row in counts.order_by():
            found.setdefault(row["organisation_id"], []).append(_counted(model, row["n"]))
    return found


def _account_deleted_summary(left: list[str]) -> str:
    summary = "A member deleted their account. What they did here stays, shown as by a former member."
    if left:
        things = ", ".join(left[:-1]) + (" and " if len(left) > 1 else "") + left[-1]
        summary += f" Now without an owner: {things}."
    return summary


@dataclass(frozen=True)
class DeletedAccount:
    email: str
    organisations_left: list[str]
    organisations_to_delete: list[str] = field(default_factory=list)


@transaction.atomic
def account_delete(*, user: User, delete_sole_organisations: bool, actor: Actor) -> DeletedAccount:
    """Delete the person's account. The caller has checked who is asking (their email and password).

    Refused while they are the only owner of an organisation others belong to, or the last superuser.
    Organisations where they are the only member are scheduled for deletion through the organisation
    deletion below (nobody could open them again), but only when `delete_sole_organisations` says so.
    Each of their organisations gets an audit event saying a member deleted their account."""
    organisation_ids = list(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))
    # Lock the owners of their organisations: two owners deleting their accounts at once must not leave
    # an organisation with members but no owner. The plan is read once the locks are held.
    list(Membership.objects.owners().filter(organisation_id__in=organisation_ids).select_for_update())
    plan = account_deletion_plan(user)
    if plan.last_superuser:
        raise ValidationError(
            "You are the last superuser: Greenlight needs one. Make someone else a superuser before you go."
        )
    if plan.blocking:
        names = ", ".join(organisation.name for organisation in plan.blocking)
        raise ValidationError(
            f"You are the only owner of {names}, which other people belong to. Make one of them an owner "
            "(Settings, Members) or remove them first."
        )
    if plan.sole_member and not delete_sole_organisations:
        names = ", ".join(organisation.name for organisation in plan.sole_member)
        raise ValidationError(
            f"Nobody else belongs to {names}. Tick the box to delete it with your account, or invite someone "
            "and make them an owner first."
        )
    for organisation in plan.sole_member:
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if locked.deletion_requested_at is None:
            _schedule_deletion(organisation=locked, actor=actor, reason="with the account of its only member")
    left_without_owner = _left_without_owner(user)
    for membership in plan.memberships:
        audit_record(
            organisation=membership.organisation,
            actor=actor,
            action="membership.account_deleted",
            summary=_account_deleted_summary(left_without_owner.get(membership.organisation_id, [])),
            target=membership,
        )
    sole = {organisation.pk for organisation in plan.sole_member}
    deleted = DeletedAccount(
        email=user.email,
        organisations_left=[m.organisation.name for m in plan.memberships if m.organisation_id not in sole],
        organisations_to_delete=[organisation.name for organisation in plan.sole_member],
    )
    _send(
        template="account_deleted",
        subject="Your Greenlight account has been deleted",
        to=[user.email],
        context={
            "name": user.display_name,
            "deleted": deleted,
            "grace_days": settings.ORGANISATION_DELETION_GRACE_DAYS,
        },
    )
    # Memberships, conversations (with their messages), notifications, preferences, acknowledgements, email
    # addresses and two-factor methods cascade; every other row that named them keeps itself, set to nothing.
    user.delete()
    logger.info(
        "Account deleted: left %s organisations, %s to be deleted with it",
        len(deleted.organisations_left),
        len(deleted.organisations_to_delete),
    )
    return deleted


# --- Deleting an organisation: asking, cancelling ---------------------------------------------------
def deletion_due_from(moment: datetime) -> datetime:
    """The start (local time) of the day after the grace period, so the organisation has at least the
    whole period; the daily task deletes it early that morning."""
    day = timezone.localdate(moment) + timedelta(days=settings.ORGANISATION_DELETION_GRACE_DAYS + 1)
    return timezone.make_aware(datetime.combine(day, time.min))


def due_day(organisation: Organisation) -> str:
    """The day the organisation is due to be deleted, as pages and emails print it ("6 December 2026")."""
    return _day(organisation.deletion_due_at) if organisation.deletion_due_at else ""


def _require_owner(organisation: Organisation, actor: Actor) -> None:
    if (
        actor.user is None
        or not Membership.objects.filter(organisation=organisation, user=actor.user, role=Role.OWNER).exists()
    ):
        raise PermissionDenied(OWNERS_ONLY)


def _owners_and_admins(organisation: Organisation) -> list[str]:
    return list(
        Membership.objects.filter(organisation=organisation, role__in=[Role.OWNER, Role.ADMIN])
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def _schedule_deletion(*, organisation: Organisation, actor: Actor, reason: str = "") -> None:
    now = timezone.now()
    organisation.deletion_requested_at = now
    organisation.deletion_due_at = deletion_due_from(now)
    organisation.deletion_requested_by = actor.user
    organisation.save(update_fields=["deletion_requested_at", "deletion_due_at", "deletion_requested_by"])
    audit_record(
        organisation=organisation,
        actor=actor,
        action="organisation.deletion_requested",
        summary=f"Asked for {organisation.name} to be deleted{f' {reason}' if reason else ''}, "
        f"with everything it holds, on {_day(organisation.deletion_due_at)}",
        target=organisation,
    )


def _deletion_page() -> str:
    return settings.SITE_URL + reverse("settings_deletion")


@transaction.atomic
def organisation_deletion_request(*, organisation: Organisation, actor: Actor) -> Organisation:
    """An owner asks for the organisation to be deleted once the grace period is over. The caller has
    checked they typed its name and their password. Owners and admins are emailed."""
    _require_owner(organisation, actor)
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if locked.deletion_due_at is not None:
        raise ValidationError(f"{locked.name} is already due to be deleted on {_day(locked.deletion_due_at)}.")
    _schedule_deletion(organisation=locked, actor=actor)
    _send(
        template="organisation_deletion_requested",
        subject=f"{locked.name} will be deleted on {_day(locked.deletion_due_at)}",  # type: ignore[arg-type]
        to=_owners_and_admins(locked),
        context={
            "organisation": locked,
            "by": actor.user.display_name if actor.user else "",
            "due": _day(locked.deletion_due_at),  # type: ignore[arg-type]
            "link": _deletion_page(),
        },
    )
    return locked


@transaction.atomic
def organisation_deletion_cancel(*, organisation: Organisation, actor: Actor) -> Organisation:
    _require_owner(organisation, actor)
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if locked.deletion_due_at is None:
        raise ValidationError(f"{locked.name} is not due to be deleted.")
    due = locked.deletion_due_at
    locked.deletion_requested_at = locked.deletion_due_at = locked.deletion_requested_by = None
    locked.save(update_fields=["deletion_requested_at", "deletion_due_at", "deletion_requested_by"])
    audit_record(
        organisation=locked,
        actor=actor,
        action="organisation.deletion_cancelled",
        summary=f"Cancelled the deletion of {locked.name} planned for {_day(due)}",
        target=locked,
    )
    _send(
        template="organisation_deletion_cancelled",
        subject=f"{locked.name} will not be deleted",
        to=_owners_and_admins(locked),
        context={"organisation": locked, "by": actor.user.display_name if actor.user else "", "due": _day(due)},
    )
    return locked


# --- Deleting an organisation: carrying it out ------------------------------------------------------
def file_fields() -> list[tuple[type[models.Model], models.FileField]]:
    """Every file field of the organisation and of every tenant model."""
    holders: list[type[models.Model]] = [Organisation, *tenant_models()]
    return [
        (model, relation)
        for model in holders
        for relation in model._meta.concrete_fields
        if isinstance(relation, models.FileField)
    ]


# An organisation id no real one has, to see where each file field puts an organisation's files.
_PROBE_ID = 987_654_321


def storage_folders() -> list[str]:
    """The top folders under which files are kept per organisation ("evidence" for `evidence/<id>/...`),
    read from the file fields' own naming, so a new file field is swept too."""
    folders: set[str] = set()
    for model, relation in file_fields():
        probe = model(pk=_PROBE_ID) if model is Organisation else model(organisation_id=_PROBE_ID)
        parts = relation.generate_filename(probe, "probe").split("/")
        if str(_PROBE_ID) in parts[1:]:
            folders.add("/".join(parts[: parts.index(str(_PROBE_ID))]))
    return sorted(folders)


def organisation_files(organisation_id: int) -> list[str]:
    """Every stored file of the organisation: those its rows name and anything else in its folders."""
    names: set[str] = set()
    for model, relation in file_fields():
        rows = model._base_manager.filter(
            **({"pk": organisation_id} if model is Organisation else {"organisation_id": organisation_id})
        )
        names.update(rows.exclude(**{relation.name: ""}).values_list(relation.name, flat=True))
    for folder in storage_folders():
        names.update(files_under(f"{folder}/{organisation_id}"))
    return sorted(names)


def _delete_files(names: Iterable[str]) -> int:
    deleted = 0
    for name in names:
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
                deleted += 1
        except Exception:  # left for the sweep of vanished organisations' folders on the next run
            logger.warning("Could not delete the file %s of a deleted organisation", name, exc_info=True)
    return deleted


@dataclass(frozen=True)
class OrganisationDeletion:
    organisation_id: int
    name: str
    rows: dict[str, int]
    files: int

    @property
    def row_total(self) -> int:
        return sum(self.rows.values())


def organisation_delete_now(*, organisation_id: int, now: datetime | None = None) -> OrganisationDeletion | None:
    """Delete one organisation whose time has come: every row, then every file. None when it is not due
    (cancelled, not yet, or already deleted), so a second delivery does nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked: an owner cancelling now waits, then finds the organisation gone (or cancels in time).
        organisation = (
            Organisation.objects.select_for_update().filter(pk=organisation_id, deletion_due_at__lte=now).first()
        )
        if organisation is None:
            return None
        recipients = _owners_and_admins(organisation)
        files = organisation_files(organisation_id)
        # The base manager: the audit log refuses deletes made through its own manager, on purpose.
        _total, rows = Organisation._base_manager.filter(pk=organisation_id).delete()
    # Files go once the rows are really gone: a failed delete must not leave rows whose files are missing.
    deleted_files = _delete_files(files)
    deleted_files += _delete_files(organisation_files(organisation_id))  # anything stored meanwhile
    result = OrganisationDeletion(
        organisation_id=organisation_id, name=organisation.name, rows=dict(rows), files=deleted_files
    )
    # The organisation's audit log is gone with it: this line is the record that survives.
    logger.info(
        "Organisation %s deleted: %s rows, %s files",
        organisation_id,
        result.row_total,
        result.files,
        extra={
            "organisation_id": organisation_id,
            "rows_deleted": result.row_total,
            "rows_by_model": json.dumps(result.rows, sort_keys=True),
            "files_deleted": result.files,
            "deletion_requested_at": str(organisation.deletion_requested_at or ""),
        },
    )
    _send(
        template="organisation_deleted",
        subject=f"{organisation.name} has been deleted",
        to=recipients,
        context={"name": organisation.name},
    )
    return result


def vanished_organisation_files_delete(*, now: datetime | None = None) -> int:
    """Delete files left in the folders of organisations that no longer exist: what a crash between
    deleting an organisation's rows and its files left behind, or an organisation deleted another way."""
    cutoff = (now or timezone.now()) - ORPHAN_GRACE
    existing = set(Organisation.objects.values_list("pk", flat=True))
    stale: list[str] = []
    for folder in storage_folders():
        try:
            children, _files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        for child in children:
            if not child.isdigit() or int(child) in existing:
                continue
            for name in files_under(f"{folder}/{child}"):
                try:
                    modified = default_storage.get_modified_time(name)
                except (NotImplementedError, OSError):
                    modified = None
                if modified is None or modified <= cutoff:
                    stale.append(name)
    deleted = _delete_files(stale)
    if deleted:
        logger.info("Deleted %s files of organisations that no longer exist", deleted, extra={"files_deleted": deleted})
    return deleted


def organisations_delete_due(*, now: datetime | None = None) -> list[OrganisationDeletion]:
    """The daily run: every organisation whose deletion is due, one at a time (one failing does not stop
    the others; it is tried again tomorrow), then the sweep of vanished organisations' folders."""
    now = now or timezone.now()
    due = list(
        Organisation.objects.filter(deletion_due_at__lte=now)
        .order_by("deletion_due_at", "pk")
        .values_list("pk", flat=True)
    )
    done = []
    for organisation_id in due:
        try:
            result = organisation_delete_now(organisation_id=organisation_id, now=now)
        except Exception:
            logger.exception("Could not delete organisation %s; the next run tries again", organisation_id)
            continue
        if result is not None:
            done.append(result)
    vanished_organisation_files_delete(now=now)
    return done
