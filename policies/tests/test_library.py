"""Policy templates are checked whole before use, and the shipped library passes every check."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from policies.library import PLACEHOLDERS, PolicyLibraryError, load_library, parse_template, read_template
from policies.tests.conftest import TEST_LIBRARY

GOOD = yaml.safe_load((TEST_LIBRARY / "house-rules.yaml").read_text())

# The placeholder list in FORMAT.md, which template writers follow.
FORMAT_PLACEHOLDERS = {
    line.split("`{")[1].split("}`")[0]
    for line in (TEST_LIBRARY.parents[2] / "library" / "FORMAT.md").read_text().splitlines()
    if line.startswith("| `{")
}


def _problems(change) -> list[str]:
    data = copy.deepcopy(GOOD)
    change(data)
    with pytest.raises(PolicyLibraryError) as error:
        parse_template(data, source="house-rules.yaml", expected_key="house-rules")
    return error.value.problems


def test_a_valid_template_parses_with_its_sections_and_conditions():
    template = read_template(TEST_LIBRARY / "house-rules.yaml")
    assert template.key == "house-rules"
    assert template.review_months == 24
    assert [section.key for section in template.sections][:2] == ["purpose", "rules"]
    assert template.section("purpose").rewrite is True
    assert template.section("card-payments").when.facts == ("card_payments",)
    assert template.section("cyber-essentials").when.frameworks == ("cyber-essentials",)
    assert template.control_keys == [("cyber-essentials", "UA.4"), ("uk-gdpr", "32")]


def test_the_placeholder_vocabulary_matches_the_format_document():
    assert PLACEHOLDERS == FORMAT_PLACEHOLDERS


def test_unknown_placeholder_is_an_error_naming_the_section():
    problems = _problems(lambda d: d["sections"][1].update(body="Ask {office_manager} first."))
    assert problems == ["house-rules.yaml, section rules: unknown placeholder {office_manager}"]


def test_stray_brace_is_an_error():
    problems = _problems(lambda d: d["sections"][1].update(body="Keep it {safe."))
    assert any("stray brace" in problem for problem in problems)


def test_control_missing_from_the_framework_library_is_an_error():
    problems = _problems(lambda d: d["controls"].append("iso27001-2022:99.99"))
    assert problems == ["house-rules.yaml: control 'iso27001-2022:99.99' is not in the framework library"]


def test_unknown_facts_frameworks_and_keys_are_errors():
    def change(data):
        data["applies_if"] = ["owns_a_boat"]
        data["sections"][2]["when"] = {"facts": ["has_a_dog"], "frameworks": ["hipaa"], "sometimes": True}
        data["sections"][3]["colour"] = "green"
        data["publisher"] = "us"

    problems = _problems(change)
    assert "house-rules.yaml: applies_if names unknown profile fact 'owns_a_boat'" in problems
    assert "house-rules.yaml, section card-payments: when names unknown profile fact 'has_a_dog'" in problems
    assert "house-rules.yaml, section card-payments: when names unknown framework 'hipaa'" in problems
    assert "house-rules.yaml, section card-payments: when has unknown key 'sometimes'" in problems
    assert "house-rules.yaml, section cyber-essentials: unknown key 'colour'" in problems
    assert "house-rules.yaml: unknown key 'publisher'" in problems


def test_structure_errors_are_all_reported_at_once():
    def change(data):
        data["format"] = "greenlight-policy/2"
        data["key"] = "other-name"
        data["review_months"] = "yearly"
        data["sections"][1]["key"] = "purpose"
        data["sections"][2]["rewrite"] = "yes"
        data["sections"][3]["body"] = "  "

    problems = _problems(change)
    assert len(problems) == 6
    assert "house-rules.yaml, section purpose: key is used twice" in problems


def test_a_broken_file_stops_the_library_loading_with_every_problem(tmp_path):
    (tmp_path / "house-rules.yaml").write_text((TEST_LIBRARY / "house-rules.yaml").read_text())
    (tmp_path / "broken.yaml").write_text("format: greenlight-policy/1\nkey: [not, a, key\n")
    with pytest.raises(PolicyLibraryError, match=r"broken\.yaml: is not valid YAML"):
        load_library(tmp_path)


def test_library_is_read_once_and_again_after_a_file_changes(tmp_path):
    path = tmp_path / "house-rules.yaml"
    path.write_text((TEST_LIBRARY / "house-rules.yaml").read_text())
    first = load_library(tmp_path)
    assert load_library(tmp_path) is first
    path.write_text(path.read_text().replace("House Rules Policy", "House Rules"))
    os.utime(path, ns=(1, 1))
    assert load_library(tmp_path)["house-rules"].title == "House Rules"


def test_the_shipped_library_loads_every_template_cleanly():
    templates = load_library()
    assert len(templates) >= 1
    for template in templates.values():
        assert len(template.sections) >= 5, template.key
        assert template.controls, template.key
        # Prose sections are offered to the model; the rules are not.
        assert any(section.rewrite for section in template.sections), template.key
        assert not all(section.rewrite for section in template.sections), template.key
