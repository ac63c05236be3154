"""The evidence register through its pages: who sees and does what, every filter and sort, paging,
bulk actions (including ids of another organisation), bad parameters and pinned query counts."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.html import escape

from accounts.tests.factories import MembershipFactory, UserFactory
from assessments.tests.factories import FrameworkAdoptionFactory
from compliance.tests.factories import ControlFactory, FrameworkFactory
from evidence.models import Evidence, EvidenceForm, EvidenceSource, EvidenceStatus
from evidence.tests.factories import EvidenceFactory, EvidenceRevisionFactory
from evidence.views.register import PAGE_SIZE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = "evidence_list"
BULK = "evidence_bulk"
TODAY = date.today()


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def titles_in(response) -> list[str]:
    """The titles of the rows shown, in order (unescaped back to the stored text)."""
    return [
        html.unescape(title)
        for title in re.findall(r'<td class="register-item">\s*<a href="[^"]+">([^<]+)</a>', response.content.decode())
    ]


@pytest.fixture
def browser_for(client_for):
    def make(user):
        browser = client_for(user)
        browser.get(reverse(LIST))  # settles the session's current organisation
        return browser

    return make


@pytest.fixture
def item(personas):
    def make(**fields):
        return EvidenceFactory(organisation=personas.organisation, **fields)

    return make


@pytest.fixture
def library():
    """Two frameworks of three controls each; the organisation adopts the first."""
    adopted = FrameworkFactory(slug="cyber-basics", name="Cyber Basics (Test Scheme)", position=1)
    other = FrameworkFactory(slug="privacy-rules", name="Privacy Rules", position=2)
    return {
        "adopted": adopted,
        "other": other,
        "adopted_controls": [ControlFactory(group__framework=adopted, ref=f"CB.{n}") for n in range(1, 4)],
        "other_controls": [ControlFactory(group__framework=other, ref=f"PR.{n}") for n in range(1, 4)],
    }


@pytest.fixture
def adopted(personas, library):
    FrameworkAdoptionFactory(organisation=personas.organisation, framework=library["adopted"])
    return library


# --- Who may see and do what ----------------------------------------------------------------------
def test_anonymous_people_are_sent_to_sign_in(client_for):
    for name, method in ((LIST, "get"), (BULK, "post")):
        response = getattr(client_for(None), method)(reverse(name))
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]


def test_people_without_an_organisation_are_asked_to_create_one(client_for, db):
    response = client_for(UserFactory()).get(reverse(LIST))
    assert response.status_code == 302
    assert response["Location"] == reverse("organisation_create")


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer", "consultant"])
def test_every_role_reads_the_register(personas, browser_for, item, role):
    evidence = item(title="Firewall rules export")
    response = browser_for(getattr(personas, role)).get(reverse(LIST))
    assert response.status_code == 200
    assert escape(evidence.title) in response.content.decode()
    assert f'href="/evidence/{evidence.pk}/"' in response.content.decode()


def test_viewers_see_no_checkboxes_bulk_actions_or_add_button(personas, browser_for, item):
    item()
    page = browser_for(personas.viewer).get(reverse(LIST)).content.decode()
    assert 'name="ids"' not in page
    assert 'id="register-bulk"' not in page
    assert reverse("evidence_new") not in page
    assert reverse("evidence_connections") in page


def test_members_select_rows_but_only_approvers_are_offered_accept(personas, browser_for, item):
    item()
    member_page = browser_for(personas.member).get(reverse(LIST)).content.decode()
    owner_page = browser_for(personas.owner).get(reverse(LIST)).content.decode()
    assert 'name="ids"' in member_page
    assert reverse("evidence_new") in member_page
    assert '<option value="accept">' not in member_page
    assert '<option value="accept">' in owner_page


def test_a_viewer_posting_a_bulk_action_is_forbidden(personas, browser_for, item):
    evidence = item(status=EvidenceStatus.DRAFT)
    response = browser_for(personas.viewer).post(reverse(BULK), {"action": "submit", "ids": [evidence.pk]})
    assert response.status_code == 403
    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.DRAFT


def test_a_member_posting_accept_is_forbidden(personas, browser_for, item):
    evidence = item(status=EvidenceStatus.SUBMITTED)
    response = browser_for(personas.member).post(reverse(BULK), {"action": "accept", "ids": [evidence.pk]})
    assert response.status_code == 403
    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.SUBMITTED


def test_outsiders_see_only_their_own_organisations_evidence(personas, browser_for, item):
    ours = item(title="Acme bakery firewall export")
    theirs = EvidenceFactory(organisation=personas.other_organisation, title="Rival widgets firewall export")
    page = browser_for(personas.outsider).get(reverse(LIST)).content.decode()
    assert escape(theirs.title) in page
    assert escape(ours.title) not in page
    assert f"/evidence/{ours.pk}/" not in page


def test_an_outsider_gets_404_for_an_item_the_register_does_not_show_them(personas, browser_for, item):
    ours = item()
    response = browser_for(personas.outsider).get(reverse("evidence_detail", args=[ours.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "method"), [(LIST, "post"), (LIST, "put"), (BULK, "get")])
def test_wrong_methods_are_refused(personas, browser_for, name, method):
    response = getattr(browser_for(personas.owner), method)(reverse(name))
    assert response.status_code == 405


# --- The header -----------------------------------------------------------------------------------
def test_header_counts_the_whole_register(personas, browser_for, item):
    item(status=EvidenceStatus.ACCEPTED, valid_until=TODAY + timedelta(days=200))  # current
    item(status=EvidenceStatus.SUBMITTED, valid_until=TODAY + timedelta(days=10))  # current, expiring, awaiting
    item(status=EvidenceStatus.DRAFT, valid_until=TODAY + timedelta(days=30))  # expiring
    item(status=EvidenceStatus.EXPIRED, valid_until=TODAY - timedelta(days=1))  # expired
    item(status=EvidenceStatus.ACCEPTED, valid_until=None)  # current: no end date
    EvidenceFactory(organisation=personas.other_organisation, status=EvidenceStatus.SUBMITTED)
    page = text_of(browser_for(personas.owner).get(reverse(LIST)))
    assert "<strong>5</strong> items in all" in page
    assert "<strong>3</strong> current" in page
    assert "<strong>2</strong> expiring within 30 days" in page
    assert "<strong>1</strong> expired" in page
    assert "<strong>1</strong> awaiting review" in page


def test_an_empty_register_explains_what_evidence_is_and_how_to_start(personas, browser_for):
    page = text_of(browser_for(personas.member).get(reverse(LIST)))
    assert "No evidence yet" in page
    assert "Add your first evidence" in page
    assert reverse("evidence_connections") in page
    assert 'id="register-filters"' not in page


def test_no_match_for_the_filters_says_so_and_offers_to_clear_them(personas, browser_for, item):
    item(title="Firewall rules export")
    page = text_of(browser_for(personas.owner).get(reverse(LIST), {"q": "nothing like this"}))
    assert "No evidence matches these filters" in page
    assert "No evidence yet" not in page
    assert 'id="register-filters"' in page


# --- What a row shows -------------------------------------------------------------------------------
def test_a_row_shows_what_the_item_is_its_controls_dates_status_and_quality(personas, browser_for, item, adopted):
    controls = adopted["adopted_controls"] + adopted["other_controls"][:2]
    note = item(title="Board minutes", form=EvidenceForm.NOTE, status=EvidenceStatus.ACCEPTED, quality=82,
                valid_until=TODAY + timedelta(days=12))  # fmt: skip
    note.controls.set(controls)
    link = item(title="Intranet page", form=EvidenceForm.LINK, url="https://www.intranet.example.co.uk/security",
                valid_until=TODAY - timedelta(days=3))  # fmt: skip
    revision = EvidenceRevisionFactory(organisation=personas.organisation, original_name="firewall.txt",
                                       evidence__title="Firewall export")  # fmt: skip
    Evidence.objects.filter(pk=revision.evidence_id).update(current_revision=revision)
    page = text_of(browser_for(personas.owner).get(reverse(LIST)))
    assert "Cyber Basics CB.1" in page
    assert "Cyber Basics CB.3" in page
    assert "and 2 more" in page
    assert "Privacy Rules PR.1" not in page
    assert "Expires in 12 days" in page
    assert "Expired</span>" in page
    assert "intranet.example.co.uk" in page
    assert escape(link.url) not in page
    assert f"firewall.txt · {revision.size} bytes" in page
    assert "Written note" in page
    assert 'register-score-strong">82' in page
    assert TODAY.strftime("%-d %B %Y") in page


# --- Filters and sorts -----------------------------------------------------------------------------
def test_search_matches_title_and_description(personas, browser_for, item):
    item(title="Firewall rules export", description="From the office router")
    item(title="Training record", description="Includes firewall awareness")
    item(title="Supplier contract", description="Payroll")
    shown = titles_in(browser_for(personas.owner).get(reverse(LIST), {"q": "firewall"}))
    assert sorted(shown) == ["Firewall rules export", "Training record"]


def test_framework_filter_shows_items_mapped_to_any_of_its_controls(personas, browser_for, item, adopted):
    mapped = item(title="Mapped to the adopted framework")
    mapped.controls.add(adopted["adopted_controls"][1])
    elsewhere = item(title="Mapped elsewhere")
    elsewhere.controls.add(adopted["other_controls"][0])
    item(title="Not mapped")
    browser = browser_for(personas.owner)
    assert titles_in(browser.get(reverse(LIST), {"framework": "cyber-basics"})) == [mapped.title]
    assert titles_in(browser.get(reverse(LIST), {"framework": "privacy-rules"})) == [elsewhere.title]


def test_frameworks_are_offered_adopted_first_and_controls_only_once_one_is_chosen(personas, browser_for, adopted):
    EvidenceFactory(organisation=personas.organisation)
    browser = browser_for(personas.owner)
    page = text_of(browser.get(reverse(LIST)))
    assert page.index('<optgroup label="Your frameworks">') < page.index("Cyber Basics (Test Scheme)</option>")
    assert page.index("Cyber Basics (Test Scheme)</option>") < page.index("Privacy Rules</option>")
    assert 'id="register-control"' not in page
    page = text_of(browser.get(reverse(LIST), {"framework": "privacy-rules"}))
    assert 'id="register-control"' in page
    assert f'<option value="{adopted["other_controls"][0].pk}">PR.1' in page


def test_control_filter_and_a_control_alone_chooses_its_framework(personas, browser_for, item, adopted):
    control = adopted["other_controls"][2]
    wanted = item(title="Mapped to the control")
    wanted.controls.add(control)
    sibling = item(title="Mapped to a sibling control")
    sibling.controls.add(adopted["other_controls"][0])
    response = browser_for(personas.owner).get(reverse(LIST), {"control": control.pk})
    assert titles_in(response) == [wanted.title]
    page = text_of(response)
    assert '<option value="privacy-rules" selected>' in page
    assert f'<option value="{control.pk}" selected>' in page


def test_a_control_of_another_framework_than_the_chosen_one_is_dropped(personas, browser_for, item, adopted):
    mapped = item(title="Mapped to the adopted framework")
    mapped.controls.add(adopted["adopted_controls"][0])
    query = {"framework": "cyber-basics", "control": adopted["other_controls"][0].pk}
    response = browser_for(personas.owner).get(reverse(LIST), query, **HTMX)
    assert titles_in(response) == [mapped.title]
    assert response["HX-Push-Url"] == reverse(LIST, query={"framework": "cyber-basics"})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "draft"}, {"draft"}),
        ({"status": "accepted"}, {"accepted"}),
        ({"type": "policy"}, {"policy"}),
        ({"source": "google_workspace"}, {"google"}),
        ({"source": "manual"}, {"draft", "accepted", "policy", "nobody", "expired", "soon", "later"}),
        ({"expiry": "expired"}, {"expired"}),
        ({"expiry": "30"}, {"soon"}),
        ({"expiry": "90"}, {"soon", "later"}),
        ({"expiry": "current"}, {"accepted", "policy", "nobody", "soon", "later", "google"}),
    ],
)
def test_each_filter_narrows_the_rows(personas, browser_for, item, query, expected):
    far = TODAY + timedelta(days=300)
    item(title="draft", status=EvidenceStatus.DRAFT, valid_until=far)
    item(title="accepted", status=EvidenceStatus.ACCEPTED, valid_until=far)
    item(title="policy", evidence_type="policy", valid_until=far)
    item(title="nobody", valid_until=far)
    item(title="expired", status=EvidenceStatus.EXPIRED, valid_until=TODAY - timedelta(days=2))
    item(title="soon", valid_until=TODAY + timedelta(days=20))
    item(title="later", valid_until=TODAY + timedelta(days=60))
    item(title="google", source=EvidenceSource.GOOGLE_WORKSPACE, source_key="google.mfa", valid_until=far)
    shown = titles_in(browser_for(personas.owner).get(reverse(LIST), query))
    assert set(shown) == expected


def test_owner_filter_by_person_and_by_nobody(personas, browser_for, item):
    mine = item(title="Owned by the member", owner=personas.member)
    item(title="Owned by the owner", owner=personas.owner)
    orphan = item(title="Owned by nobody", owner=None)
    browser = browser_for(personas.owner)
    assert titles_in(browser.get(reverse(LIST), {"owner": personas.member.pk})) == [mine.title]
    assert titles_in(browser.get(reverse(LIST), {"owner": "0"})) == [orphan.title]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["Bravo", "Alpha", "Charlie"]),  # newest collected first
        ("collected_on", ["Charlie", "Alpha", "Bravo"]),
        ("valid_until", ["Alpha", "Charlie", "Bravo"]),  # soonest first, no end date last
        ("title", ["Alpha", "Bravo", "Charlie"]),
        ("-quality", ["Charlie", "Bravo", "Alpha"]),
        ("quality", ["Alpha", "Bravo", "Charlie"]),
        ("status", ["Alpha", "Charlie", "Bravo"]),  # accepted, draft, submitted
        ("owner", ["Charlie", "Bravo", "Alpha"]),  # Ada, Bea, Cy
    ],
)
def test_each_sort_orders_the_rows(personas, browser_for, item, sort, expected):
    ada, bea, cy = (
        MembershipFactory(organisation=personas.organisation, user=UserFactory(full_name=name)).user
        for name in ("Ada Lovelace", "Bea Baker", "Cy Young")
    )
    item(title="Alpha", collected_on=TODAY - timedelta(days=5), valid_until=TODAY + timedelta(days=5),
         quality=10, status=EvidenceStatus.ACCEPTED, owner=cy)  # fmt: skip
    item(title="Bravo", collected_on=TODAY - timedelta(days=1), valid_until=None,
         quality=50, status=EvidenceStatus.SUBMITTED, owner=bea)  # fmt: skip
    item(title="Charlie", collected_on=TODAY - timedelta(days=9), valid_until=TODAY + timedelta(days=50),
         quality=90, status=EvidenceStatus.DRAFT, owner=ada)  # fmt: skip
    response = browser_for(personas.owner).get(reverse(LIST), {"sort": sort} if sort else {})
    assert titles_in(response) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"framework": "no-such-framework"},
        {"control": "abc"},
        {"control": "99999999"},
        {"control": "-4"},
        {"control": "²"},
        {"control": "99999999999999999999999"},
        {"status": "lost"},
        {"type": "<script>"},
        {"owner": "abc"},
        {"owner": "99999999"},
        {"expiry": "tomorrow"},
        {"source": "ftp"},
        {"sort": "password"},
        {"sort": "-owner__password"},
        {"page": "abc"},
        {"page": "-3"},
        {"page": "99999999999999999999"},
        {"q": "x" * 500},
    ],
)
def test_invalid_filter_values_are_ignored(personas, browser_for, item, query):
    evidence = item(title="Still shown")
    response = browser_for(personas.owner).get(reverse(LIST), query)
    assert response.status_code == 200
    assert titles_in(response) == [evidence.title]


def test_an_owner_from_another_organisation_is_not_a_filter(personas, browser_for, item):
    evidence = item(title="Still shown", owner=personas.member)
    response = browser_for(personas.owner).get(reverse(LIST), {"owner": personas.outsider.pk}, **HTMX)
    assert titles_in(response) == [evidence.title]
    assert response["HX-Push-Url"] == reverse(LIST)


# --- Paging and fragments ---------------------------------------------------------------------------
def test_pages_hold_25_rows_and_links_keep_the_filters(personas, browser_for, item):
    for n in range(PAGE_SIZE + 5):
        item(title=f"Draft number {n:02}", status=EvidenceStatus.DRAFT)
    item(title="Accepted one", status=EvidenceStatus.ACCEPTED)
    browser = browser_for(personas.owner)
    first = browser.get(reverse(LIST), {"status": "draft", "sort": "title"})
    assert len(titles_in(first)) == PAGE_SIZE
    next_url = reverse(LIST, query={"status": "draft", "sort": "title", "page": "2"})
    assert f'href="{escape(next_url)}"' in first.content.decode()
    assert "Showing <strong>1–25</strong> of <strong>30</strong>" in text_of(first)
    second = browser.get(next_url)
    assert titles_in(second) == [f"Draft number {n:02}" for n in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert "Page 2 of 2" in text_of(second)


def test_a_page_past_the_end_shows_the_last_page(personas, browser_for, item):
    for _ in range(PAGE_SIZE + 1):
        item()
    response = browser_for(personas.owner).get(reverse(LIST), {"page": "7"}, **HTMX)
    assert len(titles_in(response)) == 1
    assert response["HX-Push-Url"] == reverse(LIST, query={"page": "2"})


def test_an_htmx_request_gets_only_the_results_with_out_of_band_updates(personas, browser_for, item, adopted):
    item(title="Firewall rules export", status=EvidenceStatus.DRAFT)
    response = browser_for(personas.owner).get(
        reverse(LIST), {"status": "draft", "framework": "privacy-rules", "junk": "1"}, **HTMX
    )
    page = response.content.decode()
    assert "<html" not in page
    assert 'id="register-filters"' not in page
    assert page.lstrip().startswith('<section id="register-results"')
    assert 'id="register-control-field"' in page
    assert 'hx-swap-oob="true"' in page
    assert 'id="register-live"' in page
    assert 'id="messages"' in page
    assert 'id="register-counts"' not in page  # the header does not change with the filters
    assert response["HX-Push-Url"] == reverse(LIST, query={"framework": "privacy-rules", "status": "draft"})


def test_a_history_restore_gets_the_whole_page(personas, browser_for, item):
    item()
    response = browser_for(personas.owner).get(
        reverse(LIST), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


# --- Bulk actions -----------------------------------------------------------------------------------
def bulk(browser, data, **headers):
    return browser.post(reverse(BULK), data, **headers)


def test_bulk_submit_changes_drafts_and_skips_the_rest(personas, browser_for, item):
    draft = item(status=EvidenceStatus.DRAFT)
    rejected = item(status=EvidenceStatus.REJECTED)
    accepted = item(status=EvidenceStatus.ACCEPTED)
    response = bulk(
        browser_for(personas.member), {"action": "submit", "ids": [draft.pk, rejected.pk, accepted.pk]}, **HTMX
    )
    assert response.status_code == 200
    statuses = dict(Evidence.objects.values_list("pk", "status"))
    assert statuses == {draft.pk: "submitted", rejected.pk: "submitted", accepted.pk: "accepted"}
    page = text_of(response)
    assert "Submit for review: 2 of 3 item(s) changed." in page
    assert "1 skipped" in page


def test_bulk_accept_by_an_approver(personas, browser_for, item):
    submitted = item(status=EvidenceStatus.SUBMITTED)
    draft = item(status=EvidenceStatus.DRAFT)
    bulk(browser_for(personas.consultant), {"action": "accept", "ids": [submitted.pk, draft.pk]}, **HTMX)
    submitted.refresh_from_db()
    draft.refresh_from_db()
    assert (submitted.status, submitted.reviewed_by) == (EvidenceStatus.ACCEPTED, personas.consultant)
    assert draft.status == EvidenceStatus.DRAFT


def test_bulk_set_owner_and_clear_it(personas, browser_for, item):
    first, second = item(owner=None), item(owner=personas.owner)
    browser = browser_for(personas.member)
    bulk(browser, {"action": "owner", "bulk_owner": personas.viewer.pk, "ids": [first.pk, second.pk]}, **HTMX)
    assert set(Evidence.objects.values_list("owner", flat=True)) == {personas.viewer.pk}
    bulk(browser, {"action": "owner", "bulk_owner": "0", "ids": [first.pk]}, **HTMX)
    first.refresh_from_db()
    assert first.owner is None


def test_bulk_set_owner_needs_a_choice_and_a_member(personas, browser_for, item):
    evidence = item(owner=personas.owner)
    browser = browser_for(personas.member)
    page = text_of(bulk(browser, {"action": "owner", "bulk_owner": "", "ids": [evidence.pk]}, **HTMX))
    assert "Choose the new owner" in page
    page = text_of(bulk(browser, {"action": "owner", "bulk_owner": personas.outsider.pk, "ids": [evidence.pk]}, **HTMX))
    assert "must be a member of the organisation" in page
    evidence.refresh_from_db()
    assert evidence.owner == personas.owner


def test_bulk_map_to_a_control(personas, browser_for, item, adopted):
    control = adopted["adopted_controls"][0]
    already, fresh = item(), item()
    already.controls.add(control)
    response = bulk(
        browser_for(personas.member),
        {"action": "map", "bulk_control": control.pk, "ids": [already.pk, fresh.pk]},
        **HTMX,
    )
    assert set(fresh.controls.all()) == {control}
    assert "1 of 2 item(s) changed" in text_of(response)
    page = text_of(browser_for(personas.member).get(reverse(LIST)))
    assert f'<option value="{control.pk}">CB.1' in page  # offered in the bulk control list


def test_bulk_delete_removes_rows_and_files(personas, browser_for, django_capture_on_commit_callbacks):
    revision = EvidenceRevisionFactory(organisation=personas.organisation)
    name = revision.file.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(
            browser_for(personas.member), {"delete": "1", "action": "", "ids": [revision.evidence_id]}, **HTMX
        )
    assert not Evidence.objects.exists()
    assert not default_storage.exists(name)
    assert "Delete: 1 of 1 item(s) changed." in text_of(response)


def test_bulk_delete_button_asks_for_confirmation(personas, browser_for, item):
    item()
    page = browser_for(personas.member).get(reverse(LIST)).content.decode()
    assert re.search(r'name="delete" value="1"[^>]*data-confirm="Delete the selected evidence', page)


def test_bulk_actions_ignore_ids_of_another_organisation(personas, browser_for, item):
    ours = item(status=EvidenceStatus.DRAFT)
    theirs = EvidenceFactory(organisation=personas.other_organisation, status=EvidenceStatus.DRAFT)
    browser = browser_for(personas.owner)
    response = bulk(browser, {"action": "submit", "ids": [ours.pk, theirs.pk]}, **HTMX)
    assert "1 of 1 item(s) changed" in text_of(response)
    theirs.refresh_from_db()
    assert theirs.status == EvidenceStatus.DRAFT
    response = bulk(browser, {"delete": "1", "ids": [theirs.pk]}, **HTMX)
    assert "Select at least one item." in text_of(response)
    assert Evidence.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "", "ids": ["1"]}, "Choose what to do with the selected items."),
        ({"action": "submit"}, "Select at least one item first."),
        ({"action": "submit", "ids": ["abc", "-1"]}, "Select at least one item first."),
        ({"action": "explode", "ids": ["1"]}, "Choose what to do with the selected items."),
        ({"action": "map", "ids": ["1"]}, "Choose the control to map the selected items to."),
        ({"action": "map", "bulk_control": "99999999", "ids": ["{pk}"]}, "not in the library"),
        ({"action": "map", "bulk_control": "99999999999999999999999", "ids": ["{pk}"]}, "Choose the control"),
        ({"action": "owner", "bulk_owner": "99999999999999999999999", "ids": ["{pk}"]}, "Choose the new owner"),
        ({"action": "submit", "ids": ["99999999999999999999999"]}, "Select at least one item first."),
    ],
)
def test_incomplete_bulk_requests_say_what_is_missing(personas, browser_for, item, data, message):
    evidence = item(status=EvidenceStatus.DRAFT)
    data = {
        key: [v.format(pk=evidence.pk) for v in value] if isinstance(value, list) else value
        for key, value in data.items()
    }
    response = bulk(browser_for(personas.member), data, **HTMX)
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    evidence.refresh_from_db()
    assert evidence.status == EvidenceStatus.DRAFT


def test_after_a_bulk_action_the_table_keeps_its_filters_and_the_header_updates(personas, browser_for, item):
    drafts = [item(title=f"Draft {n}", status=EvidenceStatus.DRAFT) for n in range(3)]
    item(title="Accepted one", status=EvidenceStatus.ACCEPTED)
    data = {"action": "submit", "ids": [drafts[0].pk], "status": "draft", "sort": "title"}
    response = bulk(browser_for(personas.member), data, **HTMX)
    assert titles_in(response) == ["Draft 1", "Draft 2"]
    page = text_of(response)
    assert 'id="register-counts"' in page
    assert "<strong>1</strong> awaiting review" in page
    assert '<input type="hidden" name="status" value="draft">' in page


def test_without_javascript_a_bulk_action_redirects_back_to_the_same_filters(personas, browser_for, item):
    draft = item(status=EvidenceStatus.DRAFT)
    response = bulk(
        browser_for(personas.member), {"action": "submit", "ids": [draft.pk], "status": "draft", "page": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(LIST, query={"status": "draft"})


# --- Query counts ------------------------------------------------------------------------------------
def _fill(personas, library, count: int) -> None:
    controls = library["adopted_controls"] + library["other_controls"]
    people = [personas.owner, personas.member, None]
    for n in range(count):
        evidence = EvidenceFactory(organisation=personas.organisation, owner=people[n % 3],
                                   status=list(EvidenceStatus)[n % 5])  # fmt: skip
        evidence.controls.set(controls[: n % 5])
    revision = EvidenceRevisionFactory(organisation=personas.organisation)
    Evidence.objects.filter(pk=revision.evidence_id).update(current_revision=revision)


PAGES = [
    # (label, query, headers, queries). Every request: session, user and membership (3). Then the header
    # counts (not for htmx), the frameworks, their controls (for htmx only the chosen framework's), the
    # members, the filtered count (not when unfiltered: the header counted), one page of rows and their
    # controls. A control on its own also looks up its framework.
    ("full page", {}, {}, 9),
    ("framework, status and expiry", {"framework": "cyber-basics", "status": "submitted", "expiry": "90"}, {}, 10),
    ("a control from a control page", {"control": "{control}"}, {}, 11),
    ("page two, sorted by owner (htmx)", {"page": "2", "sort": "owner"}, HTMX, 8),
    ("framework and status (htmx)", {"framework": "cyber-basics", "status": "submitted"}, HTMX, 9),
]


@pytest.mark.parametrize(("label", "query", "headers", "queries"), PAGES, ids=[page[0] for page in PAGES])
def test_query_count_is_pinned_and_does_not_grow_with_the_register(
    personas, browser_for, adopted, django_assert_num_queries, label, query, headers, queries
):
    query = {key: value.format(control=adopted["adopted_controls"][0].pk) for key, value in query.items()}
    browser = browser_for(personas.owner)
    for size in (5, 40):
        _fill(personas, adopted, size - Evidence.objects.count())
        response = browser.get(reverse(LIST), query, **headers)  # warm-up
        assert titles_in(response), "every scenario should show rows, or the prefetch would be skipped"
        with django_assert_num_queries(queries):
            browser.get(reverse(LIST), query, **headers)
