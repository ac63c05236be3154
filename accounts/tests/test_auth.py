"""Sign-up, verification, login, password reset and MFA, through allauth's real views."""

from __future__ import annotations

import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.test import Client

from accounts.models import User
from accounts.tests.conftest import links_in, sign_in
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase"


def sign_up(browser: Client, email: str = "founder@bakery.example") -> object:
    return browser.post("/accounts/signup/", {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


def is_signed_in(browser: Client) -> bool:
    return AUTH_SESSION_KEY in browser.session


# --- Sign-up and email verification ---------------------------------------------------------------
def test_sign_up_page_asks_for_email_not_username(client):
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    form = response.context["form"]
    assert "email" in form.fields
    assert "username" not in form.fields


def test_sign_up_with_email_creates_user_and_sends_verification_email(client, mailoutbox):
    response = sign_up(client)

    assert response.status_code == 302
    user = User.objects.get(email="founder@bakery.example")
    assert user.check_password(NEW_PASSWORD)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["founder@bakery.example"]
    assert any(link.startswith("/accounts/confirm-email/") for link in links_in(mailoutbox[0]))
    assert not EmailAddress.objects.get(user=user).verified


def test_sign_up_stores_email_in_lower_case(client):
    sign_up(client, email="Founder@Bakery.Example")

    assert User.objects.filter(email="founder@bakery.example").exists()


def test_sign_up_refuses_an_email_already_registered(client, mailoutbox):
    UserFactory(email="taken@bakery.example")

    sign_up(client, email="TAKEN@bakery.example")

    assert User.objects.filter(email__iexact="taken@bakery.example").count() == 1


def test_with_optional_verification_new_user_lands_on_organisation_creation(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"

    response = sign_up(client)
    landing = client.get(response["Location"], follow=True)

    assert is_signed_in(client)
    assert landing.redirect_chain[-1][0] == "/organisations/new/"
    assert landing.status_code == 200


def test_with_mandatory_verification_user_cannot_log_in_until_they_confirm(client, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"

    response = sign_up(client)
    assert response["Location"] == "/accounts/confirm-email/"
    assert not is_signed_in(client)

    browser = Client()
    response = sign_in(browser, "founder@bakery.example", NEW_PASSWORD)
    assert response["Location"] == "/accounts/confirm-email/"
    assert not is_signed_in(browser)

    (confirm_link,) = [link for link in links_in(mailoutbox[0]) if link.startswith("/accounts/confirm-email/")]
    assert Client().post(confirm_link).status_code == 302
    assert EmailAddress.objects.get(email="founder@bakery.example").verified

    browser = Client()
    response = sign_in(browser, "founder@bakery.example", NEW_PASSWORD)
    assert response.status_code == 302
    assert is_signed_in(browser)


def test_the_confirmation_page_names_the_address_in_our_words(client, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    sign_up(client)
    (confirm_link,) = [link for link in links_in(mailoutbox[0]) if link.startswith("/accounts/confirm-email/")]

    page = Client().get(confirm_link).content.decode()
    expired = Client().get("/accounts/confirm-email/not-a-real-key/").content.decode()

    assert "<h1>Confirm your email address</h1>" in page
    assert "<strong>founder@bakery.example</strong> is your address" in page
    assert '<button type="submit" class="button">Confirm my address</button>' in page
    assert "This confirmation link has expired or has already been used." in expired


def test_mangled_confirmation_link_does_not_verify(client, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    sign_up(client)
    (confirm_link,) = [link for link in links_in(mailoutbox[0]) if link.startswith("/accounts/confirm-email/")]

    Client().post(confirm_link.rstrip("/") + "x/")

    assert not EmailAddress.objects.get(email="founder@bakery.example").verified


# --- Login and logout -----------------------------------------------------------------------------
def test_login_with_email_and_password_signs_in(client):
    UserFactory(email="baker@bakery.example")

    response = sign_in(client, "Baker@Bakery.Example")

    assert response.status_code == 302
    assert is_signed_in(client)


def test_login_with_wrong_password_shows_an_error(client):
    UserFactory(email="baker@bakery.example")

    response = sign_in(client, "baker@bakery.example", "not-the-password")

    assert response.status_code == 200
    assert b"The email address and/or password you specified are not correct." in response.content
    assert not is_signed_in(client)


def test_repeated_failed_logins_are_rate_limited(client):
    UserFactory(email="baker@bakery.example")
    for _ in range(5):
        sign_in(client, "baker@bakery.example", "not-the-password")

    response = sign_in(client, "baker@bakery.example", DEFAULT_PASSWORD)

    assert b"Too many failed login attempts" in response.content
    assert not is_signed_in(client)


def test_logout_signs_out(client):
    UserFactory(email="baker@bakery.example")
    sign_in(client, "baker@bakery.example")

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert not is_signed_in(client)


def test_pages_send_anonymous_visitors_to_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")


def test_the_headers_links_between_sign_in_and_sign_up_keep_where_the_visitor_was_going(client):
    # An invited person lands on sign-in with ?next=/invitations/...; switching to sign-up must keep it.
    target = "/invitations/some-token/"
    login_page = client.get("/accounts/login/", {"next": target}).content.decode()
    signup_page = client.get("/accounts/signup/", {"next": target}).content.decode()

    assert '<a href="/accounts/signup/?next=%2Finvitations%2Fsome-token%2F">Create account</a>' in login_page
    assert '<a href="/accounts/login/?next=%2Finvitations%2Fsome-token%2F">Sign in</a>' in signup_page, (
        "the header's sign-in link should carry ?next="
    )


# --- Password reset -------------------------------------------------------------------------------
def test_password_reset_email_link_sets_a_new_password(client, mailoutbox):
    user = UserFactory(email="baker@bakery.example")

    response = client.post("/accounts/password/reset/", {"email": "baker@bakery.example"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    (reset_link,) = [link for link in links_in(mailoutbox[0]) if "/password/reset/key/" in link]

    # allauth moves the key from the URL into the session and redirects to a keyless form.
    form_page = client.get(reset_link, follow=True)
    assert form_page.status_code == 200
    assert "form" in form_page.context
    response = client.post(form_page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert sign_in(Client(), "baker@bakery.example", NEW_PASSWORD).status_code == 302


def test_password_reset_link_works_once(client, mailoutbox):
    UserFactory(email="baker@bakery.example")
    client.post("/accounts/password/reset/", {"email": "baker@bakery.example"})
    (reset_link,) = [link for link in links_in(mailoutbox[0]) if "/password/reset/key/" in link]
    form_page = client.get(reset_link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = Client().get(reset_link, follow=True)

    assert again.context["token_fail"]


def test_password_reset_for_unknown_address_sends_no_reset_link(client, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "nobody@bakery.example"})

    # Enumeration prevention: the page looks the same, and no reset link is sent to anyone.
    assert response.status_code == 302
    assert not any("/password/reset/key/" in link for message in mailoutbox for link in links_in(message))


# --- Two-factor authentication (TOTP and recovery codes) -------------------------------------------
def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def a_wrong_code(secret: str) -> str:
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD
    valid = {format_hotp_value(hotp_value(secret, counter + step)) for step in range(-2, 3)}
    return next(code for code in (f"{n:06}" for n in range(1_000_000)) if code not in valid)


def activate_totp(browser: Client) -> str:
    # allauth asks for the password again before a security change, as it would in the browser.
    page = browser.get("/accounts/2fa/totp/activate/")
    assert page["Location"].startswith("/accounts/reauthenticate/")
    browser.post(page["Location"], {"password": DEFAULT_PASSWORD})
    page = browser.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = browser.session[SECRET_SESSION_KEY]
    response = browser.post("/accounts/2fa/totp/activate/", {"code": current_code(secret)})
    assert response.status_code == 302
    return secret


def test_activating_totp_with_a_correct_code_enables_it_and_generates_recovery_codes(sign_in_as):
    user = UserFactory(email="baker@bakery.example")
    browser = sign_in_as("baker@bakery.example")

    activate_totp(browser)

    assert set(Authenticator.objects.filter(user=user).values_list("type", flat=True)) == {
        Authenticator.Type.TOTP,
        Authenticator.Type.RECOVERY_CODES,
    }
    codes = RecoveryCodes(Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES))
    assert len(codes.get_unused_codes()) == 10


def test_activating_totp_with_a_wrong_code_is_refused(sign_in_as):
    user = UserFactory(email="baker@bakery.example")
    browser = sign_in_as("baker@bakery.example")
    browser.post("/accounts/reauthenticate/", {"password": DEFAULT_PASSWORD})
    browser.get("/accounts/2fa/totp/activate/")
    secret = browser.session[SECRET_SESSION_KEY]

    response = browser.post("/accounts/2fa/totp/activate/", {"code": a_wrong_code(secret)})

    assert response.status_code == 200
    assert response.context["form"].errors["code"] == ["Incorrect code."]
    assert not Authenticator.objects.filter(user=user).exists()


def test_with_totp_enabled_login_requires_a_valid_code(sign_in_as):
    UserFactory(email="baker@bakery.example")
    secret = activate_totp(sign_in_as("baker@bakery.example"))
    browser = Client()

    response = sign_in(browser, "baker@bakery.example")
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert not is_signed_in(browser)
    assert browser.get("/").status_code == 302

    wrong = browser.post("/accounts/2fa/authenticate/", {"code": a_wrong_code(secret)})
    assert wrong.status_code == 200
    assert not is_signed_in(browser)

    right = browser.post("/accounts/2fa/authenticate/", {"code": current_code(secret)})
    assert right.status_code == 302
    assert is_signed_in(browser)


def test_a_recovery_code_completes_login_once(sign_in_as):
    user = UserFactory(email="baker@bakery.example")
    activate_totp(sign_in_as("baker@bakery.example"))
    recovery = RecoveryCodes(Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES))
    code = recovery.get_unused_codes()[0]

    first = Client()
    sign_in(first, "baker@bakery.example")
    assert first.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    assert is_signed_in(first)

    second = Client()
    sign_in(second, "baker@bakery.example")
    response = second.post("/accounts/2fa/authenticate/", {"code": code})
    assert response.status_code == 200
    assert not is_signed_in(second)
