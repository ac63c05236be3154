"""Every write to accounts data goes through these functions; each one records an audit event."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts.audit import Actor, audit_record
from accounts.models import Invitation, Membership, Organisation, User
from accounts.roles import ROLES_ONLY_OWNERS_ASSIGN, Role
from accounts.tasks import send_invitation_email
from config.queueing import enqueue_on_commit

INVITATION_SALT = "accounts.invitation"


# --- Organisations --------------------------------------------------------------------------------
def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "organisation"
    slug, suffix = base, 2
    while Organisation.objects.filter(slug=slug).exists():
        slug = f"{base}-{suffix}"
        suffix += 1
    return slug


@transaction.atomic
def organisation_create(*, name: str, owner: User, actor: Actor, slug: str | None = None) -> Organisation:
    organisation = Organisation(name=name.strip(), slug=slug or _unique_slug(name))
    organisation.full_clean()
    organisation.save()
    membership = Membership(organisation=organisation, user=owner, role=Role.OWNER)
    membership.full_clean()
    membership.save()
    audit_record(
        organisation=organisation,
        actor=actor,
        action="organisation.created",
        summary=f"Created the organisation {organisation.name}",
        target=organisation,
    )
    return organisation


@transaction.atomic
def organisation_rename(*, organisation: Organisation, name: str, actor: Actor) -> Organisation:
    old_name = organisation.name
    organisation.name = name.strip()
    organisation.full_clean()
    organisation.save(update_fields=["name"])
    audit_record(
        organisation=organisation,
        actor=actor,
        action="organisation.renamed",
        summary=f"Renamed the organisation from {old_name} to {organisation.name}",
        target=organisation,
    )
    return organisation


# --- Memberships ----------------------------------------------------------------------------------
def _grant_admin_access(*, membership: Membership, actor: Actor) -> None:
    """Consultants work in the Django admin, which needs `is_staff`; the admin then shows them only the
    organisations they consult for. Staff is never taken away when the role changes later: they may
    consult for others, and without consultant memberships the admin shows them nothing of anyone's."""
    user = membership.user
    if membership.role != Role.CONSULTANT or user.is_staff:
        return
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    audit_record(
        organisation=membership.organisation,
        actor=actor,
        action="user.admin_access_granted",
        summary=f"Gave {user.email} access to the consultants' workspace",
        target=membership,
    )


def _check_can_assign(*, acting: Membership, role: str) -> None:
    if role in ROLES_ONLY_OWNERS_ASSIGN and not acting.is_owner:
        raise ValidationError("Only an owner can make someone an owner.")


def _check_not_last_owner(membership: Membership, message: str) -> None:
    if (
        membership.is_owner
        and not Membership.objects.owners()
        .filter(organisation_id=membership.organisation_id)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError(message)


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, acting: Membership, actor: Actor) -> Membership:
    if role not in Role.values:
        raise ValidationError("Choose a valid role.")
    if role == membership.role:
        return membership
    # Lock the organisation's owner rows so two demotions at once cannot leave it without an owner.
    list(Membership.objects.owners().filter(organisation_id=membership.organisation_id).select_for_update())
    _check_can_assign(acting=acting, role=role)
    if membership.is_owner and not acting.is_owner:
        raise ValidationError("Only an owner can change another owner's role.")
    if role != Role.OWNER:
        _check_not_last_owner(membership, "An organisation needs at least one owner. Make someone else an owner first.")
    old_role = membership.get_role_display()
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    audit_record(
        organisation=membership.organisation,
        actor=actor,
        action="membership.role_changed",
        summary=f"Changed {membership.user.email} from {old_role} to {membership.get_role_display()}",
        target=membership,
    )
    _grant_admin_access(membership=membership, actor=actor)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, acting: Membership, actor: Actor) -> None:
    list(Membership.objects.owners().filter(organisation_id=membership.organisation_id).select_for_update())
    if membership.is_owner and not acting.is_owner:
        raise ValidationError("Only an owner can remove another owner.")
    leaving = membership.pk == acting.pk
    _check_not_last_owner(
        membership,
        "You are the last owner. Make someone else an owner before you leave."
        if leaving
        else "An organisation needs at least one owner.",
    )
    email = membership.user.email
    organisation = membership.organisation
    audit_record(
        organisation=organisation,
        actor=actor,
        action="membership.left" if leaving else "membership.removed",
        summary=f"{email} left the organisation" if leaving else f"Removed {email} from the organisation",
        target=membership,
    )
    membership.delete()


# --- Invitations ----------------------------------------------------------------------------------
def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"invitation": invitation.pk}, salt=INVITATION_SALT)


def invitation_from_token(token: str) -> Invitation | None:
    """The invitation a link names, or None if the link is forged, mangled or too old."""
    try:
        payload = signing.loads(token, salt=INVITATION_SALT, max_age=settings.INVITATION_MAX_AGE)
    except signing.BadSignature:
        return None
    return Invitation.objects.select_related("organisation", "invited_by").filter(pk=payload.get("invitation")).first()


def invitation_email_send(*, invitation: Invitation) -> None:
    link = settings.SITE_URL + reverse("invitation_accept", kwargs={"token": invitation_token(invitation)})
    context = {"invitation": invitation, "link": link, "expires_at": invitation.expires_at}
    send_mail(
        subject=f"[Greenlight] You are invited to join {invitation.organisation.name}",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_create(
    *, organisation: Organisation, email: str, role: str, acting: Membership, actor: Actor
) -> Invitation:
    email = User.objects.normalize_email(email.strip()).lower()
    _check_can_assign(acting=acting, role=role)
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {organisation.name}.")
    open_invitations = Invitation.objects.filter(
        organisation=organisation, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    # An expired invitation no longer counts: retire it so a fresh one can be sent.
    open_invitations.filter(created_at__lte=timezone.now() - settings.INVITATION_MAX_AGE).update(
        revoked_at=timezone.now()
    )
    if open_invitations.exists():
        raise ValidationError(f"{email} already has a pending invitation. Resend it instead.")
    invitation = Invitation(organisation=organisation, email=email, role=role, invited_by=actor.user)
    invitation.full_clean()
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as error:  # a concurrent request invited the same address
        raise ValidationError(f"{email} already has a pending invitation.") from error
    audit_record(
        organisation=organisation,
        actor=actor,
        action="invitation.created",
        summary=f"Invited {email} as {invitation.get_role_display()}",
        target=invitation,
    )
    enqueue_on_commit(send_invitation_email, invitation.pk)
    return invitation


def _lock_and_refresh(invitation: Invitation) -> None:
    # Decide on the row as it is now, locked: a revoke racing an accept must not undo the acceptance.
    invitation.refresh_from_db(
        from_queryset=Invitation.objects.select_for_update(), fields=["accepted_at", "revoked_at", "created_at"]
    )


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: Actor) -> Invitation:
    _lock_and_refresh(invitation)
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError("This invitation is no longer open.")
    # A resend starts the seven days again, with a freshly signed link.
    invitation.created_at = timezone.now()
    invitation.save(update_fields=["created_at"])
    audit_record(
        organisation=invitation.organisation,
        actor=actor,
        action="invitation.resent",
        summary=f"Resent the invitation to {invitation.email}",
        target=invitation,
    )
    enqueue_on_commit(send_invitation_email, invitation.pk)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor) -> Invitation:
    _lock_and_refresh(invitation)
    if invitation.accepted_at:
        raise ValidationError("This invitation has already been accepted.")
    if invitation.revoked_at:
        return invitation
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        organisation=invitation.organisation,
        actor=actor,
        action="invitation.revoked",
        summary=f"Revoked the invitation to {invitation.email}",
        target=invitation,
    )
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User, actor: Actor) -> Membership:
    invitation = invitation_from_token(token)
    if invitation is None:
        raise ValidationError("This invitation link is not valid or has expired. Ask for a new one.")
    # Lock the row: a link clicked twice at once must create one membership.
    invitation = Invitation.objects.select_for_update().select_related("organisation").get(pk=invitation.pk)
    if invitation.accepted_at:
        raise ValidationError("This invitation has already been used.")
    if invitation.revoked_at:
        raise ValidationError("This invitation was withdrawn. Ask for a new one.")
    if invitation.is_expired:
        raise ValidationError("This invitation has expired. Ask for a new one.")
    if invitation.email.lower() != user.email.lower():
        # Never name the address: the person holding the link may not be the one it was sent to.
        raise ValidationError(
            "This invitation was sent to a different email address. Sign in with that address to accept it."
        )
    if Membership.objects.filter(organisation=invitation.organisation, user=user).exists():
        raise ValidationError(f"You are already a member of {invitation.organisation.name}.")
    membership = Membership(organisation=invitation.organisation, user=user, role=invitation.role)
    membership.full_clean()
    membership.save()
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        organisation=invitation.organisation,
        actor=actor,
        action="invitation.accepted",
        summary=f"{user.email} joined as {membership.get_role_display()}",
        target=membership,
    )
    _grant_admin_access(membership=membership, actor=actor)
    return membership
