"""Notification preferences: each channel does what it says, the daily digest batches and never repeats,
the settings page saves them, and a failing mail server never breaks a page."""

from __future__ import annotations

import ast
import logging
import re
import smtplib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Membership, Notification, NotificationPreference
from accounts.notification_kinds import KINDS, Channel, default_channel
from accounts.notifications import (
    DIGEST_MAX_ITEMS,
    channel_for,
    digests_send,
    notification_preferences_save,
    notify,
)
from accounts.roles import Role
from accounts.tasks import send_digests
from accounts.tests.factories import MembershipFactory, NotificationFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
URL = "/settings/notifications/"


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down: every send fails the way smtplib fails."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def mail_server_down(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"


def choose(user, **channels: str) -> None:
    for kind, channel in channels.items():
        NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults={"channel": channel})


def send(personas, user, kind: str = "task_overdue", **fields) -> Notification | None:
    fields.setdefault("title", f"{kind} for {user.email}")
    return notify(organisation=personas.organisation, user=user, kind=kind, **fields)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- The registry ------------------------------------------------------------------------------------
def _kinds_sent_in_code() -> set[str]:
    """Every literal `kind=` passed to notify() anywhere in the project's own code."""
    found: set[str] = set()
    for path in Path(settings.BASE_DIR).glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts or "migrations" in path.parts:
            continue
        source = path.read_text()
        if "notify(" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "notify":
                for keyword in node.keywords:
                    if keyword.arg == "kind" and isinstance(keyword.value, ast.Constant):
                        found.add(keyword.value.value)
    return found


def test_every_kind_the_code_sends_is_registered_with_a_default():
    sent = _kinds_sent_in_code()
    # The kinds, found where they are sent, not just listed.
    assert {"task_due", "task_overdue", "evidence_expiring", "evidence_expired", "policy_review_due"} <= sent
    assert {"policy_awaiting_approval", "assessment_stale", "assistant_escalation", "assistant_reply"} <= sent
    assert sent - set(KINDS) == set()
    assert all(kind.default != Channel.OFF for kind in KINDS.values())


def test_without_a_choice_a_kind_arrives_by_its_default(personas):
    assert channel_for(user=personas.member, kind="task_due") == Channel.DIGEST == default_channel("task_due")
    assert channel_for(user=personas.member, kind="task_overdue") == Channel.EMAIL
    choose(personas.member, task_overdue=Channel.IN_APP)
    assert channel_for(user=personas.member, kind="task_overdue") == Channel.IN_APP
    assert channel_for(user=personas.owner, kind="task_overdue") == Channel.EMAIL


def test_the_reminders_and_the_digest_are_scheduled_daily_after_migrate():
    from config.celery import app

    app.loader.import_default_modules()
    # post_migrate wrote the beat entries when the test database was built.
    stored = {entry.task: entry for entry in PeriodicTask.objects.select_related("crontab")}
    times = {}
    for task in ("evidence.expire_and_remind", "assessments.send_reminders", "policies.send_reminders"):
        assert task in app.tasks
        assert stored[task].enabled
        times[task] = (int(stored[task].crontab.hour), int(stored[task].crontab.minute))
    digest = stored["accounts.send_digests"]
    assert "accounts.send_digests" in app.tasks
    assert digest.enabled
    assert digest.crontab.day_of_week == "*"
    # The digest goes out after the morning's reminders, so those chosen for it arrive the same day.
    assert (int(digest.crontab.hour), int(digest.crontab.minute)) > max(times.values())


# --- notify() respects the choice ---------------------------------------------------------------------
def test_off_stores_nothing_and_sends_nothing(personas, mailoutbox, django_capture_on_commit_callbacks):
    choose(personas.member, task_overdue=Channel.OFF)
    with django_capture_on_commit_callbacks(execute=True):
        assert send(personas, personas.member, dedupe_key="task-overdue:1") is None
    assert not Notification.objects.filter(user=personas.member).exists()
    assert mailoutbox == []


def test_in_app_stores_it_without_an_email(personas, mailoutbox, django_capture_on_commit_callbacks):
    choose(personas.member, task_overdue=Channel.IN_APP)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = send(personas, personas.member)
    assert notification.channel == Channel.IN_APP
    assert callbacks == []
    assert mailoutbox == []


def test_email_stores_it_and_emails_it_at_once_as_text_and_html(
    personas, mailoutbox, django_capture_on_commit_callbacks
):
    choose(personas.member, task_overdue=Channel.EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        notification = send(
            personas, personas.member, title="Task overdue: turn on backups", body="It was due.", url="/plan/tasks/7/"
        )
    assert notification.channel == Channel.EMAIL
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["member@acme.example"]
    assert message.subject == "[Greenlight] Task overdue: turn on backups"
    link = f"{settings.SITE_URL}/go/{personas.organisation.pk}/?next=%2Fplan%2Ftasks%2F7%2F"
    assert link in message.body
    assert f"{settings.SITE_URL}/settings/notifications/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    assert "Acme Bakery Ltd" in html
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_digest_stores_it_for_the_digest_and_does_not_email_it_alone(
    personas, mailoutbox, django_capture_on_commit_callbacks
):
    choose(personas.member, task_overdue=Channel.DIGEST)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = send(personas, personas.member)
    assert notification.channel == Channel.DIGEST
    assert notification.digested_at is None
    assert callbacks == []
    assert mailoutbox == []
    assert digests_send() == 1
    assert len(mailoutbox) == 1


def test_a_sender_can_keep_a_notification_in_the_app(personas, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = send(personas, personas.member, email=False)
    assert notification.channel == Channel.IN_APP
    assert mailoutbox == []


def test_the_same_news_is_stored_once_whatever_the_channel(personas):
    choose(personas.member, task_overdue=Channel.DIGEST)
    assert send(personas, personas.member, dedupe_key="task-overdue:5:2026-11-01") is not None
    assert send(personas, personas.member, dedupe_key="task-overdue:5:2026-11-01") is None
    assert Notification.objects.filter(user=personas.member).count() == 1


def test_someone_who_left_the_organisation_is_not_emailed(personas, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = send(personas, personas.member)
        Membership.objects.filter(user=personas.member, organisation=personas.organisation).delete()
    assert notification.pk is not None
    assert mailoutbox == []


def test_saving_preferences_refuses_unknown_kinds_and_channels(personas):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        notification_preferences_save(user=personas.member, channels={"made_up": Channel.EMAIL})
    with pytest.raises(ValidationError):
        notification_preferences_save(user=personas.member, channels={"task_due": "carrier_pigeon"})
    notification_preferences_save(user=personas.member, channels={"task_due": Channel.OFF})
    notification_preferences_save(user=personas.member, channels={"task_due": Channel.EMAIL})
    assert list(NotificationPreference.objects.filter(user=personas.member).values_list("kind", "channel")) == [
        ("task_due", "email")
    ]


# --- The daily digest --------------------------------------------------------------------------------
def test_the_digest_batches_several_notifications_into_one_email_per_person(personas, mailoutbox):
    MembershipFactory(organisation=personas.other_organisation, user=personas.member, role=Role.MEMBER)
    for title in ("Task due tomorrow: backups", "Task due in 3 days: passwords"):
        send(personas, personas.member, kind="task_due", title=title, url="/plan/")
    notify(
        organisation=personas.other_organisation,
        user=personas.member,
        kind="task_due",
        title="Task due today: the rival's firewall",
    )
    send(personas, personas.owner, kind="task_due", title="For the owner")
    send(personas, personas.member, kind="task_overdue", title="Emailed on its own, not in the digest")

    assert send_digests.delay().get() == 2

    assert sorted(message.to[0] for message in mailoutbox) == ["member@acme.example", "owner@acme.example"]
    message = next(message for message in mailoutbox if message.to == ["member@acme.example"])
    assert message.subject == "[Greenlight] Your daily digest: 3 notifications"
    for expected in ("Task due tomorrow: backups", "Task due in 3 days: passwords", "the rival's firewall"):
        assert expected in message.body
    assert "Emailed on its own" not in message.body
    # Grouped by organisation, each under its name.
    assert message.body.index("Acme Bakery Ltd") < message.body.index("Rival Widgets plc")
    html = message.alternatives[0][0]
    assert "Task due in 3 days: passwords" in html
    assert "the rival&#x27;s firewall" in html
    # Each item opens in its own organisation, whichever one the reader has open.
    assert f'href="{settings.SITE_URL}/go/{personas.organisation.pk}/?next=%2Fplan%2F"' in html
    assert f"{settings.SITE_URL}/go/{personas.other_organisation.pk}/?next=%2F" in message.body


def test_a_second_run_sends_nothing_twice_and_a_later_one_only_what_is_new(personas, mailoutbox):
    send(personas, personas.member, kind="task_due", title="First")
    assert digests_send() == 1
    assert digests_send() == 0
    assert len(mailoutbox) == 1
    send(personas, personas.member, kind="task_due", title="Second")
    assert digests_send() == 1
    assert "Second" in mailoutbox[1].body
    assert "First" not in mailoutbox[1].body


def test_nothing_is_sent_when_nothing_waits(personas, mailoutbox):
    send(personas, personas.member, kind="task_overdue")  # emailed, not digested
    assert digests_send() == 0
    assert mailoutbox == []


def test_the_digest_passes_over_what_was_read_or_belongs_to_an_organisation_left(personas, mailoutbox):
    read = send(personas, personas.member, kind="task_due", title="Already read")
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    NotificationFactory(
        organisation=personas.other_organisation,
        user=personas.member,
        kind="task_due",
        channel=Channel.DIGEST,
        title="From an organisation they left",
    )
    assert digests_send() == 0
    assert mailoutbox == []
    assert not Notification.objects.filter(user=personas.member, digested_at__isnull=True).exists()


def test_a_long_digest_lists_the_newest_and_counts_the_rest(personas, mailoutbox):
    NotificationFactory.create_batch(
        DIGEST_MAX_ITEMS + 3, organisation=personas.organisation, user=personas.member, channel=Channel.DIGEST
    )
    assert digests_send() == 1
    assert f"{DIGEST_MAX_ITEMS + 3} notifications" in mailoutbox[0].subject
    assert "And 3 more waiting in Greenlight." in mailoutbox[0].body


def test_a_failed_digest_is_kept_for_the_next_run(personas, mailoutbox, settings, caplog):
    send(personas, personas.member, kind="task_due", title="Waiting")
    send(personas, personas.owner, kind="task_due", title="Also waiting")
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    with caplog.at_level(logging.ERROR, logger="accounts.notifications"):
        assert digests_send() == 0
    assert "could not be sent" in caplog.text
    assert Notification.objects.filter(channel=Channel.DIGEST, digested_at__isnull=True).count() == 2
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert digests_send() == 2
    assert len(mailoutbox) == 2


# --- A mail server that is down ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_failing_mail_server_does_not_break_a_request_that_notifies(personas, client_for, mail_server_down, caplog):
    """A real commit, so the email task runs (eagerly) inside the request, as it does without a worker."""
    from policies.models import PolicyStatus
    from policies.tests.factories import PolicyFactory, PolicyVersionFactory

    policy = PolicyFactory(organisation=personas.organisation, title="Acceptable use")
    PolicyVersionFactory(organisation=personas.organisation, policy=policy)
    browser = client_for(personas.member)
    with caplog.at_level(logging.ERROR, logger="accounts.tasks"):
        response = browser.post(reverse("policy_submit", args=[policy.pk]))
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_REVIEW
    # The approvers still see it in the app; the failure is logged, not shown.
    waiting = Notification.objects.filter(kind="policy_awaiting_approval", emailed_at__isnull=True)
    assert set(waiting.values_list("user__email", flat=True)) == {
        "owner@acme.example",
        "admin@acme.example",
        "consultant@acme.example",
    }
    assert "Could not email notification" in caplog.text


# --- The settings page -------------------------------------------------------------------------------
def test_the_page_offers_the_kinds_your_roles_receive_with_your_choices_ticked(personas, client_for):
    choose(personas.member, task_due=Channel.OFF)
    page = text_of(client_for(personas.member).get(URL))
    assert 'aria-current="page">Notifications</a>' in page
    assert "Task due soon" in page
    assert re.search(r'name="task_due" value="off"[^>]*checked', page)
    assert not re.search(r'name="task_due" value="digest"[^>]*checked', page)
    assert re.search(r'name="task_overdue" value="email"[^>]*checked', page)
    assert "Question for a consultant" not in page  # consultants only
    assert "Policy awaiting approval" not in page  # approvers only
    consultant_page = text_of(client_for(personas.consultant).get(URL))
    assert "Question for a consultant" in consultant_page
    assert "Policy awaiting approval" in consultant_page


def test_a_role_in_any_organisation_counts(personas, client_for):
    MembershipFactory(organisation=personas.other_organisation, user=personas.viewer, role=Role.ADMIN)
    page = text_of(client_for(personas.viewer).get(URL))
    assert "Assessment not touched for 30 days" in page


def _all_choices(user_kinds: list[str], **overrides: str) -> dict[str, str]:
    return {kind: overrides.get(kind, KINDS[kind].default) for kind in user_kinds}


MEMBER_KINDS = [key for key, kind in KINDS.items() if Role.MEMBER in kind.roles]


def test_saving_the_form_stores_every_choice_and_redirects(personas, client_for):
    data = _all_choices(MEMBER_KINDS, task_due=Channel.EMAIL, evidence_expiring=Channel.OFF)
    response = client_for(personas.member).post(URL, data)
    assert response.status_code == 302
    assert response.url == URL
    stored = dict(NotificationPreference.objects.filter(user=personas.member).values_list("kind", "channel"))
    assert stored == data
    assert channel_for(user=personas.member, kind="evidence_expiring") == Channel.OFF


def test_saving_with_htmx_returns_the_form_with_the_new_choices_and_a_message(personas, client_for):
    data = _all_choices(MEMBER_KINDS, task_due=Channel.IN_APP)
    response = client_for(personas.member).post(URL, data, **HTMX)
    fragment = text_of(response)
    assert response.status_code == 200
    assert fragment.strip().startswith('<section class="card" id="preferences"')
    assert re.search(r'name="task_due" value="in_app"[^>]*checked', fragment)
    assert "Notification preferences saved." in fragment


def test_an_invalid_choice_is_refused_and_nothing_is_saved(personas, client_for):
    data = _all_choices(MEMBER_KINDS, task_due="fax")
    del data["task_overdue"]
    browser = client_for(personas.member)
    response = browser.post(URL, data)
    page = text_of(response)
    assert response.status_code == 400
    assert "Choose how to receive “Task due soon”." in page
    assert "Choose how to receive “Task overdue”." in page
    assert not NotificationPreference.objects.filter(user=personas.member).exists()
    assert browser.post(URL, data, **HTMX).status_code == 200  # htmx swaps only 2xx: the errors show in place


def test_an_empty_form_says_what_is_missing(personas, client_for):
    response = client_for(personas.member).post(URL, {})
    assert response.status_code == 400
    assert "Choose how to receive “Task due soon”." in text_of(response)


def test_kinds_a_role_cannot_receive_cannot_be_set_through_the_page(personas, client_for):
    data = _all_choices(MEMBER_KINDS)
    data["assistant_escalation"] = Channel.OFF
    client_for(personas.member).post(URL, data)
    assert not NotificationPreference.objects.filter(user=personas.member, kind="assistant_escalation").exists()


def test_the_page_is_for_signed_in_members_and_takes_get_and_post_only(personas, client_for):
    anonymous = client_for(None).get(URL)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("account_login"))
    without_organisation = client_for(UserFactory(email="new@nowhere.example")).get(URL)
    assert without_organisation.status_code == 302
    assert without_organisation.url == reverse("organisation_create")
    assert client_for(personas.viewer).get(URL).status_code == 200
    assert client_for(personas.outsider).get(URL).status_code == 200  # their own preferences
    assert client_for(personas.member).put(URL).status_code == 405


def test_one_persons_choices_never_touch_anothers(personas, client_for):
    choose(personas.owner, task_due=Channel.EMAIL)
    client_for(personas.member).post(URL, _all_choices(MEMBER_KINDS, task_due=Channel.OFF))
    assert channel_for(user=personas.owner, kind="task_due") == Channel.EMAIL
    assert channel_for(user=personas.member, kind="task_due") == Channel.OFF


def test_the_page_query_count_is_pinned(personas, client_for, django_assert_num_queries):
    browser = client_for(personas.owner)
    browser.get(URL)  # settle the session
    # session, user, memberships, preferences
    with django_assert_num_queries(4):
        browser.get(URL)
    choose(personas.owner, **dict.fromkeys(KINDS, Channel.IN_APP))
    with django_assert_num_queries(4):
        browser.get(URL)
    owner_kinds = [key for key, kind in KINDS.items() if Role.OWNER in kind.roles]
    # session, user, memberships, preferences, and one upsert for every choice (the message shows in the fragment)
    with django_assert_num_queries(5):
        browser.post(URL, _all_choices(owner_kinds), **HTMX)
