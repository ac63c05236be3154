"""The evidence quality score against examples worked out by hand, and the freshness periods behind it."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction

import pytest

from evidence.kinds import FRESHNESS_DAYS, EvidenceType, default_valid_until, freshness_days
from evidence.quality import (
    COMPLETENESS,
    FRESHNESS,
    RELEVANCE,
    VERIFIABILITY,
    QualityFacts,
    band_for,
    freshness_points,
    is_meaningful_title,
    quality_of,
    round_half_up,
)

TODAY = date(2026, 11, 22)


def facts(**changes: object) -> QualityFacts:
    """A complete, fresh, fully relevant item collected automatically: 100 points before `changes`."""
    complete = QualityFacts(
        title="Two-step verification enforced for all users",
        description="Google Workspace admin setting showing 2-step verification enforced for every user.",
        evidence_type=EvidenceType.CONFIGURATION,
        source="google_workspace",
        form="file",
        file_kind="json",
        signed=False,
        has_owner=True,
        collected_on=TODAY - timedelta(days=3),
        valid_until=TODAY + timedelta(days=60),
        mapped_controls=3,
        mapped_in_scope=3,
        today=TODAY,
    )
    return replace(complete, **changes)  # type: ignore[arg-type]


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# The whole score


def test_complete_fresh_automated_item_scores_100():
    quality = quality_of(facts())
    assert quality.score == 100
    assert quality.band == "strong"
    assert [(part.key, part.points, part.out_of) for part in quality.parts] == [
        (COMPLETENESS, 30, 30),
        (FRESHNESS, 30, 30),
        (RELEVANCE, 20, 20),
        (VERIFIABILITY, 20, 20),
    ]
    assert all(part.to_raise == "" and part.gain == 0 for part in quality.parts)
    assert quality.suggestions == []


def test_bare_note_scores_low_with_the_right_suggestions_biggest_gain_first():
    note = facts(
        title="Note",
        description="",
        evidence_type=EvidenceType.OTHER,
        source="manual",
        form="note",
        file_kind=None,
        has_owner=False,
        collected_on=TODAY,
        valid_until=None,
        mapped_controls=0,
        mapped_in_scope=0,
    )
    quality = quality_of(note)
    # completeness 5 (collected date only) + freshness 30 (today) + relevance 0 + verifiability 3
    assert [part.points for part in quality.parts] == [5, 30, 0, 3]
    assert quality.score == 38
    assert quality.band == "weak"
    assert quality.suggestions == [
        "Describe what it shows in at least 40 characters (+10). "
        "Give it a title that says what it shows, not a file name (+5). "
        "Name an owner (+5). "
        "Set a valid-until date, such as 21 May 2027 (+5).",
        "Map it to the controls it supports in your frameworks (+20).",
        "Attach the document or an export instead of a note (+9).",
    ]
    assert quality.part(COMPLETENESS).explanation == (
        "Has a collected date. Missing a meaningful title, a description of at least 40 characters, "
        "an owner and a valid-until date."
    )
    assert quality.part(RELEVANCE).explanation == "Not mapped to any control."


def test_complete_item_explains_what_was_counted():
    quality = quality_of(facts(collected_on=date(2026, 10, 8), valid_until=None, evidence_type="screenshot"))
    assert quality.part(COMPLETENESS).explanation == (
        "Has a meaningful title, a description, an owner and a collected date. Missing a valid-until date."
    )
    assert quality.part(COMPLETENESS).to_raise == "Set a valid-until date, such as 6 January 2027 (+5)."
    assert quality.part(FRESHNESS).explanation == (
        "Collected on 8 October 2026, 45 days ago. "
        "Screenshot evidence stays fresh for 90 days, so this is fresh until 6 January 2027."
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "IMG_0042.png"},
        {"description": "2SV on."},
        {"has_owner": False},
        {"collected_on": None},
        {"valid_until": None},
        {"mapped_in_scope": 1},
        {"source": "manual", "signed": True},
        {"source": "manual", "form": "link", "file_kind": None},
        {"collected_on": days_ago(80), "valid_until": None},
        {"valid_until": days_ago(1)},
    ],
)
def test_score_is_the_sum_of_the_parts_and_the_band_follows_it(changes):
    quality = quality_of(facts(**changes))
    assert quality.score == sum(part.points for part in quality.parts)
    assert quality.band == band_for(quality.score)
    assert quality.score < 100


def test_to_raise_is_empty_exactly_when_a_part_is_full_across_many_combinations():
    combinations = itertools.product(
        ["Firewall rules for the office", "IMG_0042.png"],
        ["", "A long enough description of what this evidence shows."],
        [True, False],
        [None, days_ago(10), days_ago(70), days_ago(400)],
        [None, TODAY + timedelta(days=5), days_ago(2)],
        [(0, 0), (4, 2), (3, 3), (2, 0)],
        [("google_workspace", "file", "json", False), ("manual", "file", "pdf", True), ("manual", "file", "png", False),
         ("manual", "link", None, False), ("manual", "note", None, False), ("manual", "file", "zip", False)],
    )  # fmt: skip
    for title, description, owner, collected, valid_until, (mapped, in_scope), (
        source,
        form,
        kind,
        signed,
    ) in combinations:
        quality = quality_of(
            facts(
                title=title,
                description=description,
                has_owner=owner,
                collected_on=collected,
                valid_until=valid_until,
                mapped_controls=mapped,
                mapped_in_scope=in_scope,
                source=source,
                form=form,
                file_kind=kind,
                signed=signed,
            )
        )
        assert quality.score == sum(part.points for part in quality.parts)
        assert 0 <= quality.score <= 100
        for part in quality.parts:
            assert 0 <= part.points <= part.out_of
            assert (part.to_raise == "") == (part.points == part.out_of), part
            assert (part.gain > 0) == bool(part.to_raise), part
            assert part.points + part.gain <= part.out_of, part
            # the points the text promises add up to the gain used to rank it
            assert sum(int(points) for points in re.findall(r"\+(\d+)\)", part.to_raise)) == part.gain, part
        gain_of = {part.to_raise: part.gain for part in quality.parts if part.to_raise}
        assert sorted(quality.suggestions) == sorted(gain_of)
        gains = [gain_of[text] for text in quality.suggestions]
        assert gains == sorted(gains, reverse=True)


def test_suggestions_are_ordered_by_gain():
    # completeness: missing owner (+5); freshness: 0 (+30); relevance 10 (+10); verifiability link 6 (+6)
    quality = quality_of(
        facts(has_owner=False, valid_until=days_ago(1), mapped_controls=4, mapped_in_scope=2, source="manual",
              form="link", file_kind=None)
    )  # fmt: skip
    assert quality.suggestions == [
        "Collect a current version to replace it (+30).",
        "Remove the 2 mappings to controls outside your adopted frameworks (+10).",
        "Attach the document or an export instead of a link (+6).",
        "Name an owner (+5).",
    ]


@pytest.mark.parametrize(
    ("score", "band"), [(100, "strong"), (75, "strong"), (74, "fair"), (50, "fair"), (49, "weak"), (0, "weak")]
)
def test_bands(score, band):
    assert band_for(score) == band


# Completeness


@pytest.mark.parametrize(
    "title",
    [
        "IMG_0042.png",
        "IMG_0042",
        "DSC01234.JPG",
        "Screenshot 2026-11-21 at 10.42.13",
        "Screen Shot 2026-11-21 at 10.42.13 am",
        "scan0001.pdf",
        "Access control policy.pdf",
        "firewall-export.json",
        "Untitled document",
        "Copy of final draft v2",
        "Policy",
        "  MFA     ",
        "2026-11-21 0042",
        "",
    ],
)
def test_file_names_short_and_default_names_are_not_meaningful_titles(title):
    assert not is_meaningful_title(title)


@pytest.mark.parametrize(
    "title",
    [
        "Firewall",
        "Two-step verification enforced for all users",
        "Backup log November 2026",
        "Cyber Essentials certificate v1.2",
        "Screenshot of the router firewall rules",
        "Data retention document",
        "Politique d'accès",
    ],
)
def test_descriptive_titles_are_meaningful(title):
    assert is_meaningful_title(title)


def test_file_name_title_costs_five_points_with_a_suggestion():
    part = quality_of(facts(title="IMG_0042.png")).part(COMPLETENESS)
    assert part.points == 25
    assert part.explanation == (
        "Has a description, an owner, a collected date and a valid-until date. Missing a meaningful title."
    )
    assert part.to_raise == "Give it a title that says what it shows, not a file name (+5)."


def test_description_needs_forty_characters_after_collapsing_whitespace():
    forty = "x" * 20 + " " + "y" * 19
    assert quality_of(facts(description=forty)).part(COMPLETENESS).points == 30
    assert quality_of(facts(description=forty[:-1] + "   \n\n   ")).part(COMPLETENESS).points == 20


def test_missing_dates_and_owner_each_cost_five():
    part = quality_of(facts(has_owner=False, collected_on=None, valid_until=None)).part(COMPLETENESS)
    assert part.points == 15
    assert part.to_raise == "Name an owner (+5). Record the date it was collected (+5). Set a valid-until date (+5)."


# Freshness


@pytest.mark.parametrize(
    ("age", "points"),
    [
        (0, 30),
        (30, 30),
        (45, 30),  # half-way through the 90 days: still full
        (46, 29),  # 30 × 44/45 = 29.3
        (60, 20),  # 30 × 30/45
        (68, 15),  # 30 × 22/45 = 14.7
        (89, 1),  # 30 × 1/45 = 0.7
        (90, 0),
        (200, 0),
    ],
)
def test_screenshot_stays_full_for_half_its_90_days_then_falls_to_zero(age, points):
    quality = quality_of(facts(evidence_type="screenshot", collected_on=days_ago(age), valid_until=None))
    assert quality.part(FRESHNESS).points == points


def test_stale_item_explains_when_it_went_stale_and_suggests_replacing_it():
    part = quality_of(facts(evidence_type="screenshot", collected_on=days_ago(60), valid_until=None)).part(FRESHNESS)
    assert part.to_raise == "Collect a current version to replace it (+10)."
    part = quality_of(facts(evidence_type="log", collected_on=days_ago(40), valid_until=None)).part(FRESHNESS)
    assert part.points == 0
    assert part.explanation == (
        "Collected on 13 October 2026, 40 days ago. Log export evidence stays fresh for 30 days, "
        "so this went stale on 12 November 2026."
    )


def test_past_valid_until_scores_zero_freshness_whatever_the_age():
    part = quality_of(facts(collected_on=days_ago(2), valid_until=date(2026, 11, 21))).part(FRESHNESS)
    assert part.points == 0
    assert part.explanation == "Past its valid-until date of 21 November 2026."
    assert part.to_raise == "Collect a current version to replace it (+30)."


def test_valid_until_before_the_end_of_the_period_ends_the_fall_early():
    # Screenshot valid for 60 days: full to day 45, then 30 × (60 - 50)/(60 - 45) = 20 on day 50.
    collected = days_ago(50)
    part = quality_of(
        facts(evidence_type="screenshot", collected_on=collected, valid_until=collected + timedelta(days=60))
    ).part(FRESHNESS)
    assert part.points == 20
    assert part.explanation == "Collected on 3 October 2026, 50 days ago. It is valid until 2 December 2026."


def test_valid_until_inside_the_first_half_starts_the_fall_half_way_to_it():
    # Valid for 30 days: full to day 15, then 30 × (30 - 20)/(30 - 15) = 20 on day 20.
    assert freshness_points(age=10, period=90, valid_for=30) == 30
    assert freshness_points(age=20, period=90, valid_for=30) == 20
    assert freshness_points(age=30, period=90, valid_for=30) == 0


def test_valid_until_after_the_period_does_not_extend_freshness():
    assert freshness_points(age=60, period=90, valid_for=400) == 20
    assert freshness_points(age=90, period=90, valid_for=400) == 0


def test_collected_date_in_the_future_counts_as_today():
    assert freshness_points(age=-5, period=90, valid_for=None) == 30


def test_no_collected_date_scores_zero_freshness():
    part = quality_of(facts(collected_on=None)).part(FRESHNESS)
    assert part.points == 0
    assert part.explanation == "No collected date, so its age is unknown."
    assert part.to_raise == "Record the date it was collected (up to +30)."


def test_annual_certificate_fades_over_its_second_half_year():
    # 365 days: full to day 182.5, then 30 × (365 - 300)/(365 - 182.5) = 10.7
    assert (
        quality_of(facts(evidence_type="certificate", collected_on=days_ago(182), valid_until=None))
        .part(FRESHNESS)
        .points
        == 30
    )
    assert (
        quality_of(facts(evidence_type="certificate", collected_on=days_ago(300), valid_until=None))
        .part(FRESHNESS)
        .points
        == 11
    )


# Relevance


@pytest.mark.parametrize(
    ("mapped", "in_scope", "points"),
    [
        (0, 0, 0),
        (4, 2, 10),  # 20 × 2/4
        (4, 4, 20),
        (1, 1, 20),
        (3, 0, 5),  # mapped to something, even if outside the adopted frameworks
        (8, 1, 5),  # 20 × 1/8 = 2.5, raised to the floor of 5
        (8, 5, 13),  # 20 × 5/8 = 12.5, rounded half up
        (3, 2, 13),  # 13.3
    ],
)
def test_relevance_is_the_share_of_mapped_controls_in_scope(mapped, in_scope, points):
    assert quality_of(facts(mapped_controls=mapped, mapped_in_scope=in_scope)).part(RELEVANCE).points == points


def test_relevance_explanations_and_suggestions():
    half = quality_of(facts(mapped_controls=4, mapped_in_scope=2)).part(RELEVANCE)
    assert half.explanation == "Mapped to 4 controls, 2 of them in your adopted frameworks."
    assert half.to_raise == "Remove the 2 mappings to controls outside your adopted frameworks (+10)."
    outside = quality_of(facts(mapped_controls=1, mapped_in_scope=0)).part(RELEVANCE)
    assert outside.explanation == "Mapped to 1 control, outside your adopted frameworks."
    assert outside.to_raise == (
        "Map it to a control in your adopted frameworks and remove the 1 mapping to controls outside "
        "your adopted frameworks (+15)."
    )
    none = quality_of(facts(mapped_controls=3, mapped_in_scope=0)).part(RELEVANCE)
    assert none.explanation == "Mapped to 3 controls, none of them in your adopted frameworks."
    full = quality_of(facts(mapped_controls=3, mapped_in_scope=3)).part(RELEVANCE)
    assert full.explanation == "Mapped to 3 controls, all of them in your adopted frameworks."
    assert full.to_raise == ""


# Verifiability


@pytest.mark.parametrize(
    ("changes", "points", "to_raise"),
    [
        ({"source": "google_workspace"}, 20, ""),
        ({"source": "microsoft_365", "form": "note", "file_kind": None}, 20, ""),
        ({"source": "manual", "file_kind": "pdf", "signed": True}, 16,
         "Collect it automatically through a Google Workspace or Microsoft 365 connection (+4)."),
        ({"source": "manual", "file_kind": "pdf"}, 12, "Attach a digitally signed copy (+4)."),
        ({"source": "manual", "file_kind": "xlsx"}, 12, "Attach a digitally signed copy (+4)."),
        ({"source": "manual", "file_kind": "csv", "evidence_type": "register"}, 12,
         "Attach a digitally signed copy (+4)."),
        ({"source": "manual", "file_kind": "zip", "evidence_type": "log"}, 12, "Attach a digitally signed copy (+4)."),
        ({"source": "manual", "file_kind": "png", "evidence_type": "screenshot"}, 8,
         "Attach an export or a PDF instead of a picture (+4)."),
        ({"source": "manual", "file_kind": "jpeg", "evidence_type": "configuration"}, 8,
         "Attach an export or a PDF instead of a picture (+4)."),
        ({"source": "manual", "file_kind": "zip", "evidence_type": "policy"}, 8,
         "Attach the document or an export (+4)."),
        ({"source": "manual", "form": "link", "file_kind": None}, 6,
         "Attach the document or an export instead of a link (+6)."),
        ({"source": "manual", "form": "note", "file_kind": None}, 3,
         "Attach the document or an export instead of a note (+9)."),
    ],
)  # fmt: skip
def test_verifiability_by_how_the_evidence_was_obtained(changes, points, to_raise):
    part = quality_of(facts(**changes)).part(VERIFIABILITY)
    assert (part.points, part.to_raise) == (points, to_raise)


def test_automated_source_is_named():
    part = quality_of(facts(source="microsoft_365")).part(VERIFIABILITY)
    assert part.explanation == "Collected automatically from Microsoft 365."


# Facts that cannot be scored


@pytest.mark.parametrize(
    "changes",
    [
        {"mapped_controls": 2, "mapped_in_scope": 3},
        {"mapped_controls": 2, "mapped_in_scope": -1},
        {"evidence_type": "selfie"},
        {"form": "video"},
        {"source": ""},
    ],
)
def test_impossible_facts_are_refused(changes):
    with pytest.raises(ValueError):
        facts(**changes)


def test_round_half_up_not_bankers_rounding():
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(25, 2)) == 13
    assert round_half_up(Fraction(7, 3)) == 2


# Evidence types and freshness periods


def test_every_evidence_type_has_a_freshness_period():
    assert set(FRESHNESS_DAYS) == set(EvidenceType.values)
    assert FRESHNESS_DAYS["screenshot"] == 90
    assert FRESHNESS_DAYS["log"] == 30
    assert FRESHNESS_DAYS["certificate"] == 365
    assert FRESHNESS_DAYS["contract"] == 730


@pytest.mark.parametrize(
    ("evidence_type", "collected", "valid_until"),
    [
        ("screenshot", date(2026, 11, 22), date(2027, 2, 20)),
        ("log", date(2026, 11, 22), date(2026, 12, 22)),
        ("certificate", date(2026, 11, 22), date(2027, 11, 22)),
        ("contract", date(2026, 11, 22), date(2028, 11, 21)),  # 2028 is a leap year
        ("register", date(2026, 11, 22), date(2027, 5, 21)),
    ],
)
def test_default_valid_until_adds_the_freshness_period(evidence_type, collected, valid_until):
    assert default_valid_until(evidence_type, collected) == valid_until


def test_unknown_evidence_type_has_no_period():
    with pytest.raises(ValueError, match="Unknown evidence type 'selfie'"):
        freshness_days("selfie")
