from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compliance.library_format import LibraryError, parse_framework, parse_mappings, read_yaml
from compliance.models import Control, ControlMapping, Framework, Question
from compliance.services import framework_load, mappings_load

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db


def tiny() -> dict:
    return yaml.safe_load((DATA / "tiny.yaml").read_text())


def load(data: dict, digest: str = "") -> object:
    return framework_load(document=parse_framework(data, source="tiny.yaml", content_hash=digest))


def test_loading_creates_framework_groups_controls_and_questions():
    result = load(tiny())
    framework = Framework.objects.get(slug="tiny-framework")
    assert result.created == 3
    assert framework.groups.count() == 2
    assert framework.groups.get(ref="A.1").parent.ref == "A"
    control = Control.objects.get(framework=framework, ref="A.1.2")
    assert control.applies_if == ["cloud_services"]
    assert list(control.questions.values_list("key", flat=True)) == ["q1", "q2"]
    assert Control.objects.get(ref="A.1.1").auto_fail is True


def test_reloading_an_unchanged_file_is_skipped():
    data, digest = read_yaml(DATA / "tiny.yaml")
    load(data, digest)
    assert load(data, digest).skipped is True


def test_reloading_updates_in_place_and_retires_what_disappeared():
    load(tiny())
    original = Control.objects.get(ref="A.1.2")
    data = tiny()
    data["controls"] = [c for c in data["controls"] if c["ref"] != "A.1.2"]
    data["controls"][0]["title"] = "MFA everywhere"
    result = load(data)
    assert result.retired == 1
    assert result.updated == 2  # A.1.1 retitled, A.2 moved up a place
    retired = Control.objects.get(pk=original.pk)
    assert retired.retired_at is not None
    assert Question.objects.filter(control=retired, retired_at__isnull=True).count() == 0
    assert Control.objects.live().get(ref="A.1.1").title == "MFA everywhere"


def test_a_control_that_comes_back_is_restored_with_the_same_row():
    load(tiny())
    original = Control.objects.get(ref="A.1.2")
    data = tiny()
    data["controls"] = [c for c in data["controls"] if c["ref"] != "A.1.2"]
    load(data)
    result = load(tiny())
    assert result.restored == 1
    assert Control.objects.live().get(ref="A.1.2").pk == original.pk


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["controls"].append(dict(d["controls"][0])), "A.1.1: control ref appears twice"),
        (lambda d: d["groups"][1].update(parent="Z"), "parent group 'Z' is unknown"),
        (lambda d: d["controls"][0].update(group="Z"), "A.1.1: group 'Z' is unknown"),
        (lambda d: d["controls"][0].update(weight=9), "weight must be a whole number from 1 to 5"),
        (
            lambda d: d["controls"][0].update(applies_if=["likes_cake"]),
            "unknown profile fact(s) in applies_if: likes_cake",
        ),
        (lambda d: d["controls"][0].update(questions=[]), "an assessable control needs at least one question"),
        (lambda d: d.update(format="other"), "not a Greenlight library file"),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_the_ref(change, message):
    data = tiny()
    change(data)
    with pytest.raises(LibraryError) as error:
        parse_framework(data, source="tiny.yaml")
    assert message in str(error.value)
    assert str(error.value).startswith("tiny.yaml")


def test_malformed_yaml_names_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("framework: [unclosed")
    with pytest.raises(LibraryError, match=r"broken\.yaml: not valid YAML"):
        read_yaml(broken)


def test_mappings_load_and_a_missing_control_loads_nothing():
    load(tiny())
    other = tiny()
    other["framework"]["slug"] = "other-framework"
    load(other)
    good = {
        "format": "greenlight-library/1",
        "mappings": [
            {
                "source": "tiny-framework:A.1.1",
                "target": "other-framework:A.1.1",
                "relationship": "equal",
                "rationale": "Same.",
            },
        ],
    }
    assert mappings_load(mappings=parse_mappings(good, source="m.yaml"), source="m.yaml") == 1
    bad = {
        "format": "greenlight-library/1",
        "mappings": [
            *good["mappings"],
            {
                "source": "tiny-framework:A.1.2",
                "target": "other-framework:NOPE",
                "relationship": "subset",
                "rationale": "x",
            },
        ],
    }
    with pytest.raises(LibraryError, match="other-framework:NOPE"):
        mappings_load(mappings=parse_mappings(bad, source="m.yaml"), source="m.yaml")
    assert ControlMapping.objects.count() == 1


def test_a_failed_load_leaves_the_framework_as_it_was():
    load(tiny())
    data = tiny()
    data["controls"][0]["title"] = "Changed"
    data["controls"][1]["group"] = "missing"
    with pytest.raises(LibraryError):
        load(data)
    assert Control.objects.get(ref="A.1.1").title == "Multi-factor authentication on cloud services"


def test_reloading_keeps_organisations_answers_even_for_retired_controls(personas):
    from accounts.audit import Actor
    from assessments import services as journey
    from assessments.models import Answer, AnswerStatus

    load(tiny())
    framework = Framework.objects.get(slug="tiny-framework")
    actor = Actor(user=personas.owner)
    journey.framework_adopt(organisation=personas.organisation, framework=framework, target_date=None, actor=actor)
    for ref in ("A.1.1", "A.1.2"):
        journey.answer_save(
            organisation=personas.organisation,
            control=Control.objects.get(ref=ref),
            status=AnswerStatus.IMPLEMENTED,
            actor=actor,
        )
    data = tiny()
    data["controls"] = [c for c in data["controls"] if c["ref"] != "A.1.2"]
    data["controls"][0]["guidance"] = "Use an authenticator app, not text messages."
    load(data)
    answers = {a.control.ref: a for a in Answer.objects.select_related("control")}
    assert set(answers) == {"A.1.1", "A.1.2"}
    assert answers["A.1.2"].control.retired_at is not None
    assert answers["A.1.1"].control.guidance == "Use an authenticator app, not text messages."
