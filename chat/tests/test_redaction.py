from __future__ import annotations

import pytest

from chat.ai.redaction import Redactor, is_card_number, is_uk_phone_number, luhn_valid


def redact(text: str, *, names: tuple[str, ...] = ()) -> str:
    return Redactor(names=names).redact(text)


@pytest.mark.parametrize(
    "email",
    ["jane@example.co.uk", "Jane.Doe+compliance@mail.acme-bakery.com", "it_support@sub.domain.org"],
)
def test_emails_are_redacted(email):
    assert redact(f"Write to {email} today.") == "Write to [EMAIL_1] today."


@pytest.mark.parametrize(
    "phone",
    [
        "020 7946 0958",
        "07700 900123",
        "07700900123",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+447700900123",
        "0044 7700 900123",
        "(020) 7946 0958",
        "01632 960001",
        "0161-496-0000",
    ],
)
def test_uk_phone_numbers_are_redacted(phone):
    assert redact(f"Call {phone} now") == "Call [PHONE_1] now"


@pytest.mark.parametrize(
    "text",
    [
        "ISO 27001 and ISO 27002",
        "Review by 22/11/2026 at 09:30",
        "Cyber Essentials 2026-11-22",
        "We hold 120000 records",
        "Order 0123 is due",
        "Turnover £1,200,000",
    ],
)
def test_ordinary_numbers_are_left_alone(text):
    assert redact(text) == text


@pytest.mark.parametrize("postcode", ["SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB", "W1A 0AX"])
def test_uk_postcodes_are_redacted(postcode):
    assert redact(f"Office at 1 High Street, {postcode}.") == "Office at 1 High Street, [POSTCODE_1]."


def test_postcodes_without_the_space_and_in_lower_case_are_redacted():
    assert redact("sw1a1aa") == "[POSTCODE_1]"


@pytest.mark.parametrize("number", ["AB 12 34 56 C", "AB123456C", "JG103759A", "ce 12 34 56 d"])
def test_national_insurance_numbers_are_redacted(number):
    assert redact(f"NI: {number}.") == "NI: [NI_NUMBER_1]."


@pytest.mark.parametrize("number", ["GB 12 34 56 A", "QQ 12 34 56 C", "AB 12 34 56 E", "DA 12 34 56 A"])
def test_impossible_national_insurance_numbers_are_not(number):
    assert "[NI_NUMBER" not in redact(number)


@pytest.mark.parametrize(
    "card",
    ["4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "3782 822463 10005", "6011111111111117"],
)
def test_card_numbers_passing_luhn_are_redacted(card):
    assert redact(f"Paid with {card}.") == "Paid with [CARD_1]."


def test_sixteen_digits_failing_luhn_are_not_a_card():
    assert redact("Reference 4111 1111 1111 1112.") == "Reference 4111 1111 1111 1112."


def test_a_card_followed_by_a_year_is_still_found():
    assert redact("4111 1111 1111 1111 2026") == "[CARD_1] 2026"


def test_luhn_and_the_detectors_agree_with_known_values():
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert is_card_number("4111111111111111")
    assert not is_card_number("411111111111")  # too short
    assert is_uk_phone_number("+44 (0)20 7946 0958")
    assert not is_uk_phone_number("0123 456")


def test_people_names_are_redacted_whatever_their_case_and_spacing():
    redacted = redact("Priya Sharma approved it; PRIYA  SHARMA's deputy was told.", names=("Priya Sharma",))
    assert redacted == "[NAME_1] approved it; [NAME_1]'s deputy was told."


def test_names_are_matched_as_whole_words_only():
    assert redact("Priya Sharmaine", names=("Priya Sharma",)) == "Priya Sharmaine"


def test_the_longer_of_overlapping_names_wins():
    redactor = Redactor(names=("Jo Ann", "Jo Ann Smith"))
    assert redactor.redact("Jo Ann Smith and Jo Ann") == "[NAME_1] and [NAME_2]"


def test_blank_and_very_short_names_are_ignored():
    assert redact("Al said hello", names=("", "Al", "  ")) == "Al said hello"


def test_the_same_value_gets_the_same_token_across_texts_and_different_values_different_tokens():
    redactor = Redactor()
    first = redactor.redact("a@x.co.uk and b@x.co.uk")
    second = redactor.redact("again A@X.CO.UK")
    assert first == "[EMAIL_1] and [EMAIL_2]"
    assert second == "again [EMAIL_1]"
    assert redactor.replacements == {"[EMAIL_1]": "a@x.co.uk", "[EMAIL_2]": "b@x.co.uk"}


def test_an_email_is_one_token_not_a_name_inside_it():
    assert redact("priya.sharma@acme.co.uk", names=("Priya Sharma",)) == "[EMAIL_1]"


def test_restore_puts_values_back_through_nested_json():
    redactor = Redactor(names=("Priya Sharma",))
    redactor.redact("Priya Sharma, priya@acme.co.uk, 07700 900123, SW1A 1AA")
    output = {
        "owner": "[NAME_1]",
        "contacts": [{"email": "[EMAIL_1]", "phone": "[PHONE_1]"}, "[POSTCODE_1]"],
        "[NAME_1]": {"note": "Ask [NAME_1] ([EMAIL_1])"},
        "count": 3,
        "flag": True,
        "nothing": None,
    }

    assert redactor.restore(output) == {
        "owner": "Priya Sharma",
        "contacts": [{"email": "priya@acme.co.uk", "phone": "07700 900123"}, "SW1A 1AA"],
        "Priya Sharma": {"note": "Ask Priya Sharma (priya@acme.co.uk)"},
        "count": 3,
        "flag": True,
        "nothing": None,
    }


def test_restore_leaves_unknown_tokens_as_they_are():
    redactor = Redactor()
    redactor.redact("a@x.co.uk")
    assert redactor.restore("[EMAIL_1] and [EMAIL_7]") == "a@x.co.uk and [EMAIL_7]"


def test_redacting_text_with_nothing_personal_changes_nothing():
    text = "Patch critical vulnerabilities within 14 days (Cyber Essentials)."
    assert redact(text, names=("Priya Sharma",)) == text
