"""The bundled library against the public reference facts in shared/reference/frameworks/.

Identifiers, titles and counts must match the references; every assessable control must carry our
guidance, at least one question and typical evidence; every mapping must point at real controls.
"""

from __future__ import annotations

import json
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from compliance.models import Control, ControlGroup, ControlMapping, Framework

# shared/ sits beside the project checkout, on developers' machines and in CI alike.
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "frameworks"
FRAMEWORK_SLUGS = ["uk-gdpr", "cyber-essentials", "iso27001-2022", "soc2-tsc-2017", "nist-csf-2.0", "pci-dss-4.0.1"]


def reference(name: str) -> dict:
    path = REFERENCE / name
    if not path.exists():
        pytest.fail(f"reference file {path} is missing: shared/ must sit beside the checkout")
    return json.loads(path.read_text())


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]


def live_controls(slug: str) -> dict[str, Control]:
    return {control.ref: control for control in Control.objects.live().filter(framework__slug=slug)}


def test_all_six_frameworks_are_bundled():
    assert sorted(Framework.objects.values_list("slug", flat=True)) == sorted(FRAMEWORK_SLUGS)


def test_iso27001_annex_a_matches_the_reference():
    facts = reference("iso27001-2022-annex-a.json")
    controls = live_controls("iso27001-2022")
    for item in facts["controls"]:
        assert item["id"] in controls, f"Annex A {item['id']} missing"
        assert controls[item["id"]].title == item["title"]
    by_theme = Counter(controls[item["id"]].group.ref for item in facts["controls"])
    assert by_theme == {"A.5": 37, "A.6": 8, "A.7": 14, "A.8": 34}
    # Clauses 4-10 carry a "C" so that clause 5.1 and Annex A control 5.1 never share a ref.
    clause_refs = {f"C{clause['id']}" for clause in facts["management_system_clauses"]["clauses"]}
    groups = set(ControlGroup.objects.filter(framework__slug="iso27001-2022").values_list("ref", flat=True))
    assert clause_refs <= set(controls) | groups


def test_cyber_essentials_matches_the_reference_and_marks_the_auto_fail_rules():
    facts = reference("cyber-essentials.json")
    controls = live_controls("cyber-essentials")
    requirement_ids = [req["id"] for theme in facts["themes"] for req in theme["requirements"]]
    assert len(requirement_ids) == facts["counts"]["requirement_points_listed_here"]
    for theme in facts["themes"]:
        assert ControlGroup.objects.filter(framework__slug="cyber-essentials", ref=theme["id"]).exists()
        for requirement in theme["requirements"]:
            assert requirement["id"] in controls, f"{requirement['id']} missing"
            assert controls[requirement["id"]].group.ref == theme["id"]
    auto_fail = [control for control in controls.values() if control.auto_fail]
    text = " ".join(f"{c.title} {c.description}".lower() for c in auto_fail)
    assert len(auto_fail) >= 2
    assert "multi-factor" in text or "mfa" in text
    assert "14 days" in text
    assert Framework.objects.get(slug="cyber-essentials").version_label == "Danzell"


def test_uk_gdpr_has_the_articles_in_force_in_the_uk_and_none_omitted():
    facts = reference("uk-gdpr.json")
    controls = live_controls("uk-gdpr")
    in_force = {a["article"] for a in facts["articles"] if a["uk_status"] == "in_force"}
    omitted = {a["article"] for a in facts["articles"] if a["uk_status"] == "omitted"}
    inserted = {a["article"] for a in facts["inserted_uk_articles"]}
    articles = {ref for ref in controls if ref[0].isdigit()}
    assert articles == in_force | inserted
    assert not articles & omitted
    for ref in ("22A", "22B", "22C", "22D", "DPA-FEE", "PECR-COOKIES", "PECR-MARKETING", "DPA-COMPLAINTS"):
        assert ref in controls, f"{ref} missing"
    assert "72 hours" in controls["33"].guidance


def test_soc2_has_all_61_criteria():
    facts = reference("soc2-tsc-2017.json")
    controls = live_controls("soc2-tsc-2017")
    criteria = [criterion for group in facts["groups"] for criterion in group["criteria"]]
    assert len(criteria) == 61
    for criterion in criteria:
        assert criterion["id"] in controls, f"{criterion['id']} missing"
        assert controls[criterion["id"]].title == criterion["short_title"]


def test_nist_csf_has_6_functions_22_categories_106_subcategories():
    facts = reference("nist-csf-2.0.json")
    controls = live_controls("nist-csf-2.0")
    groups = {g.ref: g for g in ControlGroup.objects.filter(framework__slug="nist-csf-2.0")}
    subcategories = []
    for function in facts["functions"]:
        assert groups[function["id"]].kind == "function"
        for category in function["categories"]:
            assert groups[category["id"]].parent.ref == function["id"]
            subcategories.extend(category["subcategory_ids"])
    assert len(groups) == 6 + 22
    assert len(subcategories) == 106
    assert set(subcategories) == set(controls)


def test_pci_dss_has_the_12_principal_requirements_with_sub_requirements():
    facts = reference("pci-dss-v4.json")
    framework = Framework.objects.get(slug="pci-dss-4.0.1")
    assert framework.version == "4.0.1"
    requirement_ids = [req["id"] for goal in facts["goals"] for req in goal["requirements"]]
    assert len(requirement_ids) == 12
    for requirement_id in requirement_ids:
        group = ControlGroup.objects.get(framework=framework, ref=requirement_id)
        assert Control.objects.live().filter(group=group).exists(), (
            f"requirement {requirement_id} has no sub-requirements"
        )


@pytest.mark.parametrize("slug", FRAMEWORK_SLUGS)
def test_every_assessable_control_has_guidance_a_question_and_evidence(slug):
    for control in Control.objects.live().filter(framework__slug=slug, assessable=True).prefetch_related("questions"):
        assert len(control.guidance.split()) >= 40, f"{slug} {control.ref}: guidance too thin"
        assert control.questions.all(), f"{slug} {control.ref}: no question"
        assert control.typical_evidence, f"{slug} {control.ref}: no typical evidence"


@pytest.mark.parametrize(
    ("source", "target", "at_least"),
    [
        ("cyber-essentials", "iso27001-2022", 25),
        ("iso27001-2022", "soc2-tsc-2017", 40),
        ("iso27001-2022", "nist-csf-2.0", 60),
        ("uk-gdpr", "iso27001-2022", 8),
    ],
)
def test_required_mappings_exist(source, target, at_least):
    count = ControlMapping.objects.filter(source__framework__slug=source, target__framework__slug=target).count()
    assert count >= at_least


def test_uk_gdpr_article_32_maps_to_iso27001():
    assert (
        ControlMapping.objects.filter(
            source__framework__slug="uk-gdpr", source__ref="32", target__framework__slug="iso27001-2022"
        ).count()
        >= 3
    )


def test_reloading_the_library_keeps_organisations_references():
    control = Control.objects.get(framework__slug="cyber-essentials", ref="FW.1")
    call_command("load_frameworks", "--force", stdout=StringIO())
    assert Control.objects.get(framework__slug="cyber-essentials", ref="FW.1").pk == control.pk
