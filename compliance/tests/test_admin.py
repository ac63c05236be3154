from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.tests.factories import UserFactory
from compliance.library_format import parse_framework
from compliance.models import Control, Framework
from compliance.services import framework_load

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"


@pytest.fixture
def library():
    data = yaml.safe_load((DATA / "tiny.yaml").read_text())
    framework_load(document=parse_framework(data, source="tiny.yaml"))
    return Framework.objects.get(slug="tiny-framework")


@pytest.fixture
def consultant(client_for):
    return client_for(UserFactory(is_staff=True))


@pytest.fixture
def editor(client_for):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="edit_library"))
    return client_for(user)


def test_a_consultant_reads_the_library_but_cannot_change_it(library, consultant):
    control = Control.objects.get(ref="A.1.1")
    assert consultant.get(reverse("admin:compliance_control_changelist")).status_code == 200
    page = consultant.get(reverse("admin:compliance_control_change", args=[control.pk]))
    assert page.status_code == 200
    assert b'name="title"' not in page.content  # read-only view
    response = consultant.post(reverse("admin:compliance_control_change", args=[control.pk]), {"title": "Changed"})
    assert response.status_code == 403
    assert consultant.get(reverse("admin:compliance_framework_import")).status_code == 302


def test_a_library_editor_edits_a_control_and_search_follows(library, editor):
    from compliance.search import search_controls

    control = Control.objects.get(ref="A.1.2")
    form = editor.get(reverse("admin:compliance_control_change", args=[control.pk]))
    assert b'name="title"' in form.content
    data = {
        "framework": library.pk,
        "group": control.group_id,
        "ref": "A.1.2",
        "title": "Backups and disaster recovery",
        "weight": 3,
        "assessable": "on",
        "applies_if": "[]",
        "description": control.description,
        "guidance": "Keep an offline copy of everything important.",
        "typical_evidence": '["Backup report"]',
        "position": control.position,
        "questions-TOTAL_FORMS": 0,
        "questions-INITIAL_FORMS": 0,
        "questions-MIN_NUM_FORMS": 0,
        "questions-MAX_NUM_FORMS": 1000,
        "mappings_out-TOTAL_FORMS": 0,
        "mappings_out-INITIAL_FORMS": 0,
        "mappings_out-MIN_NUM_FORMS": 0,
        "mappings_out-MAX_NUM_FORMS": 1000,
    }
    response = editor.post(reverse("admin:compliance_control_change", args=[control.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [c.ref for c in search_controls("disaster recovery")] == ["A.1.2"]


def test_a_library_editor_imports_a_file_and_sees_what_happened(library, editor):
    data = yaml.safe_load((DATA / "tiny.yaml").read_text())
    data["framework"]["slug"] = "custom-framework"
    upload = SimpleUploadedFile("custom.yaml", yaml.safe_dump(data).encode(), content_type="application/yaml")
    response = editor.post(reverse("admin:compliance_framework_import"), {"file": upload}, follow=True)
    assert Framework.objects.get(slug="custom-framework").origin == "custom"
    assert "custom-framework: 3 new" in response.content.decode().lower()


def test_a_bad_import_shows_the_error_and_loads_nothing(library, editor):
    upload = SimpleUploadedFile(
        "broken.yaml", b"format: greenlight-library/1\nframework: {slug: x}", content_type="application/yaml"
    )
    response = editor.post(reverse("admin:compliance_framework_import"), {"file": upload})
    assert response.status_code == 200
    assert "Nothing was imported. broken.yaml" in response.content.decode()
    assert Framework.objects.count() == 1


def test_export_action_downloads_the_framework_as_yaml(library, consultant):
    response = consultant.post(
        reverse("admin:compliance_framework_changelist"),
        {"action": "export_frameworks", "_selected_action": [library.pk]},
    )
    assert response["Content-Disposition"] == 'attachment; filename="tiny-framework.yaml"'
    assert yaml.safe_load(response.content)["framework"]["slug"] == "tiny-framework"


@pytest.mark.parametrize("extra", [0, 25])
def test_control_changelist_in_constant_queries(library, editor, django_assert_num_queries, extra):
    from compliance.tests.factories import ControlFactory

    group = library.groups.first()
    for _ in range(extra):
        ControlFactory(group=group)
    editor.get(reverse("admin:compliance_control_changelist"))
    with django_assert_num_queries(10):
        editor.get(reverse("admin:compliance_control_changelist"))
