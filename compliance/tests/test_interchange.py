"""Importing CISO Assistant libraries, and exporting our own format for a round trip."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from compliance.exporting import dump_yaml, framework_document
from compliance.library_format import LibraryError, parse_framework
from compliance.models import Control, ControlMapping, Framework
from compliance.services import framework_load, library_import

pytestmark = pytest.mark.django_db

CISO_FRAMEWORK = """
urn: urn:test:risk:library:mini-standard
locale: en
ref_id: MINI
name: Mini standard library
description: A small standard.
copyright: Public domain test data.
version: 2
provider: Test Body
objects:
  framework:
    urn: urn:test:risk:framework:mini-standard
    ref_id: MINI
    name: Mini Standard
    description: A small standard for import tests.
    requirement_nodes:
    - urn: urn:test:risk:req_node:mini-standard:1
      assessable: false
      depth: 1
      ref_id: '1'
      name: Governance
    - urn: urn:test:risk:req_node:mini-standard:1.1
      assessable: true
      depth: 2
      parent_urn: urn:test:risk:req_node:mini-standard:1
      ref_id: '1.1'
      name: Security policy
      description: Have a written security policy.
      annotation: Write it down and review it every year.
    - urn: urn:test:risk:req_node:mini-standard:1.2
      assessable: true
      depth: 2
      parent_urn: urn:test:risk:req_node:mini-standard:1
      ref_id: '1.2'
      name: Roles
      description: Assign security roles.
  threats:
  - urn: urn:test:threat:1
    name: Something we do not import
"""

CISO_MAPPINGS = """
urn: urn:test:risk:library:mini-to-mini2
name: Mapping
objects:
  requirement_mapping_set:
    urn: urn:test:risk:req_mapping_set:mini-to-mini2
    source_framework_urn: urn:test:risk:framework:mini-standard
    target_framework_urn: urn:test:risk:framework:mini-two
    requirement_mappings:
    - source_requirement_urn: urn:test:risk:req_node:mini-standard:1.1
      target_requirement_urn: urn:test:risk:req_node:mini-two:1.1
      relationship: equal
    - source_requirement_urn: urn:test:risk:req_node:mini-standard:1.2
      target_requirement_urn: urn:test:risk:req_node:mini-two:1.1
      relationship: not_related
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def import_text(text: str, source: str = "mini.yaml", slug: str | None = None):
    return library_import(data=yaml.safe_load(text), source=source, slug=slug)


def test_ciso_assistant_framework_imports_with_groups_controls_and_skips_reported():
    report = import_text(CISO_FRAMEWORK)
    framework = Framework.objects.get(slug="mini-standard")
    assert framework.origin == "ciso-assistant"
    assert [c.ref for c in Control.objects.filter(framework=framework)] == ["1.1", "1.2"]
    policy = Control.objects.get(framework=framework, ref="1.1")
    assert policy.group.ref == "1"
    assert policy.guidance == "Write it down and review it every year."
    assert policy.questions.get().text == "Does your organisation meet this requirement: Security policy?"
    assert any("threats" in line for line in report.skipped)


def test_importing_twice_changes_nothing():
    import_text(CISO_FRAMEWORK)
    report = import_text(CISO_FRAMEWORK)
    assert (report.frameworks[0].created, report.frameworks[0].updated) == (0, 0)
    assert Control.objects.filter(framework__slug="mini-standard").count() == 2


def test_ciso_assistant_mappings_resolve_by_urn_and_skip_unrelated():
    import_text(CISO_FRAMEWORK)
    import_text(CISO_FRAMEWORK.replace("mini-standard", "mini-two"), source="mini2.yaml")
    report = import_text(CISO_MAPPINGS, source="map.yaml")
    assert report.mappings == 1
    mapping = ControlMapping.objects.get()
    assert (mapping.source.framework.slug, mapping.target.framework.slug) == ("mini-standard", "mini-two")
    assert any("not_related" in line for line in report.skipped)


def test_mapping_set_for_a_framework_not_in_the_library_is_skipped_with_a_reason():
    report = import_text(CISO_MAPPINGS, source="map.yaml")
    assert report.mappings == 0
    assert "not in the library" in report.skipped[0]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("ref_id: '1.2'", "ref_id: '1.1'", "control ref appears twice"),
        (
            "parent_urn: urn:test:risk:req_node:mini-standard:1\n      ref_id: '1.2'",
            "parent_urn: urn:test:risk:req_node:mini-standard:9\n      ref_id: '1.2'",
            "parent 'urn:test:risk:req_node:mini-standard:9' is unknown",
        ),
    ],
)
def test_bad_ciso_files_load_nothing(old, new, message):
    with pytest.raises(LibraryError, match=message):
        import_text(CISO_FRAMEWORK.replace(old, new))
    assert not Framework.objects.exists()


def test_import_never_overwrites_a_bundled_framework():
    data = yaml.safe_load((Path(__file__).parent / "data" / "tiny.yaml").read_text())
    framework_load(document=parse_framework(data, source="tiny.yaml"))
    with pytest.raises(LibraryError, match="import it under another slug"):
        import_text(CISO_FRAMEWORK, slug="tiny-framework")


def test_export_and_reimport_round_trip():
    data = yaml.safe_load((Path(__file__).parent / "data" / "tiny.yaml").read_text())
    framework_load(document=parse_framework(data, source="tiny.yaml"))
    exported = dump_yaml(framework_document(Framework.objects.get(slug="tiny-framework")))
    round_tripped = parse_framework(yaml.safe_load(exported), source="export.yaml")
    original = parse_framework(data, source="tiny.yaml")
    assert round_tripped.framework == original.framework
    assert round_tripped.groups == original.groups
    assert round_tripped.controls == original.controls


def test_commands_import_and_export(tmp_path):
    path = write(tmp_path, "mini.yaml", CISO_FRAMEWORK)
    out = StringIO()
    call_command("import_library", str(path), stdout=out)
    assert "mini-standard: 2 new" in out.getvalue()
    exported = tmp_path / "export.yaml"
    call_command("export_library", "mini-standard", output=exported, stdout=StringIO())
    assert "Security policy" in exported.read_text()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_library", str(write(tmp_path, "bad.yaml", "objects: [")), stdout=StringIO())
