"""The policy studio through its pages: the view matrix, the pages' content and pinned query counts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.audit import Actor
from accounts.roles import Role
from accounts.tests.factories import MembershipFactory, UserFactory
from policies import services
from policies.models import GenerationJob, JobStatus, Policy, PolicyStatus
from policies.tests.factories import PolicyAcknowledgementFactory, PolicyFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def policy(draft):
    return draft()


@pytest.fixture
def browser_for(client_for):
    def make(user):
        browser = client_for(user)
        browser.get(reverse("policy_list"))  # settle the session's current organisation
        return browser

    return make


def _urls(policy: Policy) -> dict[str, tuple[str, str]]:
    """Every policy URL, with its method and the capability its action needs."""
    version = policy.versions.order_by("-number").first()
    job = policy.jobs.first()
    return {
        "policy_list": ("get", reverse("policy_list")),
        "policy_detail": ("get", reverse("policy_detail", args=[policy.pk])),
        "policy_edit": ("get", reverse("policy_edit", args=[policy.pk])),
        "policy_compare": ("get", reverse("policy_compare", args=[policy.pk])),
        "policy_job": ("get", reverse("policy_job", args=[job.pk])),
        "policy_version_pdf": ("get", reverse("policy_version_pdf", args=[version.pk])),
        "policy_version_docx": ("get", reverse("policy_version_docx", args=[version.pk])),
        "policy_draft": ("post", reverse("policy_draft")),
        "policy_redraft": ("post", reverse("policy_redraft", args=[policy.pk])),
        "policy_preview": ("post", reverse("policy_preview", args=[policy.pk])),
        "policy_submit": ("post", reverse("policy_submit", args=[policy.pk])),
        "policy_review": ("post", reverse("policy_review", args=[policy.pk])),
        "policy_publish": ("post", reverse("policy_publish", args=[policy.pk])),
        "policy_retire": ("post", reverse("policy_retire", args=[policy.pk])),
        "policy_new_version": ("post", reverse("policy_new_version", args=[policy.pk])),
        "policy_acknowledge": ("post", reverse("policy_acknowledge", args=[policy.pk])),
        "policy_job_cancel": ("post", reverse("policy_job_cancel", args=[job.pk])),
    }


EDIT_ACTIONS = {"policy_draft", "policy_redraft", "policy_preview", "policy_submit", "policy_new_version",
                "policy_acknowledge", "policy_job_cancel", "policy_edit"}  # fmt: skip
APPROVE_ACTIONS = {"policy_review", "policy_publish", "policy_retire"}


def test_every_policy_url_is_in_the_matrix(policy):
    from policies.urls import urlpatterns

    assert {pattern.name for pattern in urlpatterns} == set(_urls(policy))


@pytest.mark.parametrize("name", ["policy_list", "policy_detail", "policy_compare", "policy_job"])
@pytest.mark.parametrize("role", ["owner", "member", "viewer", "consultant"])
def test_members_of_every_role_read_the_pages(personas, policy, browser_for, name, role):
    _method, url = _urls(policy)[name]
    assert browser_for(getattr(personas, role)).get(url).status_code == 200


@pytest.mark.parametrize("name", sorted(EDIT_ACTIONS | APPROVE_ACTIONS))
def test_viewers_are_refused_every_change(personas, policy, browser_for, name):
    method, url = _urls(policy)[name]
    assert getattr(browser_for(personas.viewer), method)(url).status_code == 403


@pytest.mark.parametrize("name", sorted(APPROVE_ACTIONS))
def test_members_cannot_approve_publish_or_retire(personas, policy, browser_for, name):
    _method, url = _urls(policy)[name]
    assert browser_for(personas.member).post(url).status_code == 403
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.DRAFT


OBJECT_PAGES = {"policy_detail", "policy_compare", "policy_job", "policy_version_pdf", "policy_version_docx"}


@pytest.mark.parametrize("name", sorted((EDIT_ACTIONS | APPROVE_ACTIONS | OBJECT_PAGES) - {"policy_draft"}))
def test_outsiders_get_404_for_another_organisations_policy(personas, policy, browser_for, name):
    method, url = _urls(policy)[name]
    assert getattr(browser_for(personas.outsider), method)(url).status_code == 404


@pytest.mark.parametrize("name", ["policy_list", "policy_detail", "policy_edit", "policy_submit", "policy_job"])
def test_anonymous_visitors_are_sent_to_sign_in(policy, client_for, name):
    method, url = _urls(policy)[name]
    response = getattr(client_for(None), method)(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize(
    "name",
    [
        "policy_list",
        "policy_detail",
        "policy_submit",
        "policy_review",
        "policy_preview",
        "policy_job_cancel",
        "policy_version_pdf",
        "policy_compare",
    ],
)
def test_wrong_method_is_refused(personas, policy, browser_for, name):
    method, url = _urls(policy)[name]
    wrong = "post" if method == "get" else "get"
    assert getattr(browser_for(personas.owner), wrong)(url).status_code == 405


def test_malformed_ids_are_not_found(personas, browser_for):
    browser = browser_for(personas.owner)
    for url in ("/policies/abc/", "/policies/jobs/0x1/", "/policies/versions/-1/pdf/", "/policies/999999/"):
        assert browser.get(url).status_code == 404, url


# --- The list ----------------------------------------------------------------------------------------
def test_list_offers_the_templates_that_fit_and_explains_the_others(
    personas, test_library, bakery_profile, browser_for
):
    page = text_of(browser_for(personas.member).get(reverse("policy_list")))
    assert "House Rules Policy" in page
    assert 'Draft it<span class="visually-hidden">: House Rules Policy</span>' in page
    assert "1 policy not suggested for your business" in page
    assert "<strong>Website Notice</strong>: only needed if your business runs a website." in page

    viewer_page = text_of(browser_for(personas.viewer).get(reverse("policy_list")))
    assert "House Rules Policy" in viewer_page
    assert "Draft it" not in viewer_page


def test_drafting_from_the_list_opens_the_new_policy(
    personas, test_library, bakery_profile, browser_for, django_capture_on_commit_callbacks
):
    browser = browser_for(personas.member)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(reverse("policy_draft"), {"template": "house-rules"})
    policy = Policy.objects.get(organisation=personas.organisation)
    assert response.status_code == 302
    assert response.url == reverse("policy_detail", args=[policy.pk])
    assert policy.versions.count() == 1
    page = text_of(browser.get(response.url))
    assert "This policy sets out how Acme Bakery Ltd, company number 01234567, keeps" in page
    # House rules are no longer offered: the policy exists.
    assert "Draft it" not in text_of(browser.get(reverse("policy_list")))


def test_drafting_an_unknown_template_says_so(personas, test_library, browser_for):
    response = browser_for(personas.member).post(reverse("policy_draft"), {"template": "made-up"}, follow=True)
    assert "Choose one of the policy templates to draft." in text_of(response)
    assert not Policy.objects.exists()


def test_list_shows_status_version_review_date_and_acknowledgements(personas, policy, browser_for):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    services.policy_review(policy=policy, actor=Actor(personas.owner), approve=True)
    services.policy_publish(policy=policy, actor=Actor(personas.owner))
    services.policy_acknowledge(policy=policy, actor=Actor(personas.member))
    policy.refresh_from_db()
    page = text_of(browser_for(personas.owner).get(reverse("policy_list")))
    assert '<span class="badge badge-success">Published</span>' in page
    assert f"{policy.review_date.day} {policy.review_date:%B %Y}" in page
    assert "Read by staff: </span>1 of 3" in page


def test_list_filters_by_status_and_htmx_gets_only_the_results(personas, browser_for):
    PolicyFactory(organisation=personas.organisation, title="Draft thing")
    PolicyFactory(organisation=personas.organisation, title="Retired thing", status=PolicyStatus.RETIRED)
    browser = browser_for(personas.owner)
    response = browser.get(reverse("policy_list"), {"status": "retired"}, **HTMX)
    body = text_of(response)
    assert "Retired thing" in body
    assert "Draft thing" not in body
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="policy-results">')
    assert "No policies match" in text_of(browser.get(reverse("policy_list"), {"status": "approved"}))


# --- A policy ----------------------------------------------------------------------------------------
def test_policy_page_renders_sanitised_markdown_with_section_origins(personas, policy, browser_for):
    version = policy.versions.get()
    services.version_save(
        version=version,
        bodies={"rules": "- **Bold** rule\n\n<script>alert(1)</script>[link](javascript:alert(1))"},
        revision=1,
        actor=Actor(personas.member),
    )
    page = text_of(browser_for(personas.viewer).get(reverse("policy_detail", args=[policy.pk])))
    assert "<li><strong>Bold</strong> rule</li>" in page
    assert "<script>alert" not in page
    assert "javascript:" not in page
    assert "Edited by a person" in page
    assert "From the template" in page


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("member", ["Edit draft", "Send for review"], ["Retire this policy", ">Approve<"]),
        ("owner", ["Edit draft", "Send for review", "Retire this policy"], [">Approve<"]),
        ("viewer", [], ["Edit draft", "Send for review", "Retire this policy", "What next"]),
    ],
)
def test_draft_actions_follow_the_role(personas, policy, browser_for, role, shown, hidden):
    page = text_of(browser_for(getattr(personas, role)).get(reverse("policy_detail", args=[policy.pk])))
    for text in shown:
        assert text in page, text
    for text in hidden:
        assert text not in page, text


def test_reviewers_approve_from_the_page_with_a_comment(personas, policy, browser_for):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    member_page = text_of(browser_for(personas.member).get(reverse("policy_detail", args=[policy.pk])))
    assert "Waiting for an owner, admin or consultant" in member_page
    consultant = browser_for(personas.consultant)
    assert ">Approve<" in text_of(consultant.get(reverse("policy_detail", args=[policy.pk])))
    response = consultant.post(
        reverse("policy_review", args=[policy.pk]), {"decision": "approve", "comment": "Fine by me."}, follow=True
    )
    page = text_of(response)
    assert "Approved “House Rules Policy”" in page
    assert "approved by consultant@acme.example" in page.lower() or "Fine by me." in page
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.APPROVED


def test_sending_back_without_a_comment_explains_why_it_was_refused(personas, policy, browser_for):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    response = browser_for(personas.admin).post(
        reverse("policy_review", args=[policy.pk]), {"decision": "send_back", "comment": ""}, follow=True
    )
    assert "Say what needs to change before sending the policy back." in text_of(response)


def test_owners_see_who_has_not_acknowledged_and_members_confirm(personas, policy, browser_for):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    services.policy_review(policy=policy, actor=Actor(personas.owner), approve=True)
    services.policy_publish(policy=policy, actor=Actor(personas.owner))
    member = browser_for(personas.member)
    url = reverse("policy_detail", args=[policy.pk])
    assert "I have read this policy" in text_of(member.get(url))
    assert "Not yet confirmed" not in text_of(member.get(url))
    member.post(reverse("policy_acknowledge", args=[policy.pk]))
    assert "You confirmed you have read version 1." in text_of(member.get(url))
    owner_page = text_of(browser_for(personas.owner).get(url))
    assert "<strong>1 of 3</strong> staff have confirmed version 1." in owner_page
    not_yet = owner_page.split("Not yet confirmed")[1].split("Confirmed")[0]
    # Names may hold an apostrophe (O'Sullivan), which the page escapes.
    assert escape(personas.owner.display_name) in not_yet
    assert escape(personas.member.display_name) not in not_yet


def test_an_earlier_version_can_be_read_and_the_published_one_is_pointed_out(personas, policy, browser_for):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    services.policy_review(policy=policy, actor=Actor(personas.owner), approve=True)
    services.policy_publish(policy=policy, actor=Actor(personas.owner))
    services.policy_new_version(policy=policy, actor=Actor(personas.member))
    browser = browser_for(personas.member)
    page = text_of(browser.get(reverse("policy_detail", args=[policy.pk])))
    assert "Version 1 is the published version staff follow." in page
    earlier = text_of(browser.get(reverse("policy_detail", args=[policy.pk]), {"version": 1}))
    assert "Version 1 (an earlier version)" in earlier


# --- Drafting progress -------------------------------------------------------------------------------
def test_running_job_polls_every_second_and_shows_the_section(personas, test_library, browser_for):
    job = services.policy_draft_start(
        organisation=personas.organisation, template_key="house-rules", actor=Actor(personas.member)
    )
    GenerationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, progress=40, message="Drafting section 3 of 5: Card payments"
    )
    browser = browser_for(personas.member)
    page = text_of(browser.get(reverse("policy_detail", args=[job.policy_id])))
    assert f'hx-get="/policies/jobs/{job.pk}/?from=policy" hx-trigger="every 1s"' in page
    assert "Drafting section 3 of 5: Card payments" in page
    assert 'value="40"' in page
    fragment = browser.get(reverse("policy_job", args=[job.pk]), {"from": "policy"}, **HTMX)
    # The swapped-in panel keeps polling as the policy page's, so the page reloads when the draft is ready.
    assert f'hx-get="/policies/jobs/{job.pk}/?from=policy" hx-trigger="every 1s"' in text_of(fragment)
    assert "HX-Refresh" not in fragment.headers


def test_a_finished_job_stops_polling_and_reloads_the_policy_page(personas, policy, browser_for):
    job = policy.jobs.get()
    response = browser_for(personas.member).get(reverse("policy_job", args=[job.pk]), {"from": "policy"}, **HTMX)
    assert "hx-trigger" not in text_of(response)
    assert "Draft ready" in text_of(response)
    assert response.headers["HX-Refresh"] == "true"


def test_cancel_from_the_progress_panel(personas, test_library, browser_for):
    job = services.policy_draft_start(
        organisation=personas.organisation, template_key="house-rules", actor=Actor(personas.member)
    )
    response = browser_for(personas.member).post(reverse("policy_job_cancel", args=[job.pk]), **HTMX)
    assert "Drafting cancelled" in text_of(response)
    assert "hx-trigger" not in text_of(response)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_a_failed_job_shows_its_error_and_a_retry(personas, policy, browser_for):
    GenerationJob.objects.create(
        organisation=personas.organisation,
        policy=policy,
        status=JobStatus.FAILED,
        error="No AI provider could answer. Any earlier draft is unchanged.",
    )
    page = text_of(browser_for(personas.member).get(reverse("policy_detail", args=[policy.pk])))
    assert "The draft could not be written" in page
    assert "No AI provider could answer." in page
    assert f'action="/policies/{policy.pk}/redraft/"' in page
    assert "Try again" in page


# --- Editing -----------------------------------------------------------------------------------------
def _edit_data(version, **bodies):
    data = {"revision": version.revision, "number": version.number}
    data.update({f"body-{s['key']}": s["body"] for s in version.sections})
    data.update({f"body-{key}": value for key, value in bodies.items()})
    return data


def test_editor_has_a_textarea_and_live_preview_per_section(personas, policy, browser_for):
    page = text_of(browser_for(personas.member).get(reverse("policy_edit", args=[policy.pk])))
    version = policy.versions.get()
    assert page.count("<textarea") == len(version.sections)
    assert f'hx-post="/policies/{policy.pk}/preview/" hx-trigger="input changed delay:600ms"' in page
    assert 'hx-params="body-rules"' in page


def test_saving_from_the_editor(personas, policy, browser_for):
    version = policy.versions.get()
    response = browser_for(personas.member).post(
        reverse("policy_edit", args=[policy.pk]), _edit_data(version, rules="Only **us**.")
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.sections[1]["body"] == "Only **us**."
    assert version.revision == 2


def test_a_stale_save_is_refused_and_the_text_is_given_back(personas, policy, browser_for):
    version = policy.versions.get()
    stale = _edit_data(version, rules="My careful rewrite of the rules")
    services.version_save(version=version, bodies={"rules": "Someone else's"}, revision=1, actor=Actor(personas.owner))
    response = browser_for(personas.member).post(reverse("policy_edit", args=[policy.pk]), stale)
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone else saved this draft while you were editing" in page
    assert "My careful rewrite of the rules</textarea>" in page
    version.refresh_from_db()
    assert version.sections[1]["body"] == "Someone else's"


def test_an_oversized_save_is_refused_with_the_text_kept(personas, policy, browser_for):
    version = policy.versions.get()
    huge = "word " * (services.MAX_VERSION_BYTES // 5 + 10)
    response = browser_for(personas.member).post(
        reverse("policy_edit", args=[policy.pk]), _edit_data(version, rules=huge)
    )
    assert response.status_code == 400
    assert "too long to save" in text_of(response)


def test_a_published_policy_cannot_be_opened_in_the_editor(personas, policy, browser_for):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    response = browser_for(personas.member).get(reverse("policy_edit", args=[policy.pk]))
    assert response.status_code == 302
    assert response.url == reverse("policy_detail", args=[policy.pk])


def test_preview_returns_sanitised_html(personas, policy, browser_for):
    response = browser_for(personas.member).post(
        reverse("policy_preview", args=[policy.pk]),
        {"body-rules": "## Heading\n\n**Bold** <img src=x onerror=alert(1)><script>alert(1)</script>"},
        **HTMX,
    )
    body = text_of(response)
    assert "<h2>Heading</h2>" in body
    assert "<strong>Bold</strong>" in body
    assert "<img" not in body
    assert "<script>alert" not in body
    assert "onerror" not in body


# --- Comparing versions ------------------------------------------------------------------------------
def test_compare_shows_changed_words_and_sections(personas, policy, browser_for):
    services.policy_submit(policy=policy, actor=Actor(personas.member))
    services.policy_review(policy=policy, actor=Actor(personas.owner), approve=True)
    services.policy_publish(policy=policy, actor=Actor(personas.owner))
    new = services.policy_new_version(policy=policy, actor=Actor(personas.member))
    rules = new.sections[1]["body"].replace("1 working day", "4 hours")
    services.version_save(version=new, bodies={"rules": rules}, revision=1, actor=Actor(personas.member))
    response = browser_for(personas.viewer).get(reverse("policy_compare", args=[policy.pk]), {"old": 1, "new": 2})
    page = text_of(response)
    assert "1 section changed." in page
    assert '<del class="diff-removed">1 working day ' in page
    assert '<ins class="diff-added">4 hours ' in page
    assert page.count("No changes") == len(new.sections) - 1
    missing = browser_for(personas.viewer).get(reverse("policy_compare", args=[policy.pk]), {"old": 1, "new": 9})
    assert missing.status_code == 404


# --- Exports -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind", "magic"), [("policy_version_pdf", "pdf", b"%PDF"), ("policy_version_docx", "docx", b"PK")]
)
def test_exports_download_as_attachments(personas, policy, browser_for, name, kind, magic):
    version = policy.versions.get()
    response = browser_for(personas.viewer).get(reverse(name, args=[version.pk]))
    assert response.status_code == 200
    assert response.content.startswith(magic)
    assert response["Content-Disposition"] == f'attachment; filename="house-rules-policy-v1.{kind}"'


# --- Query counts ------------------------------------------------------------------------------------
def _many_policies(personas, count: int) -> None:
    for number in range(count):
        policy = PolicyFactory(
            organisation=personas.organisation, status=PolicyStatus.PUBLISHED, title=f"Policy {number:03d}"
        )
        version = PolicyVersionFactory(organisation=personas.organisation, policy=policy, number=1)
        PolicyVersion_publish(version)
        PolicyAcknowledgementFactory(organisation=personas.organisation, version=version, user=personas.member)


def PolicyVersion_publish(version) -> None:
    from django.utils import timezone

    version.published_at = timezone.now()
    version.save(update_fields=["published_at"])


@pytest.mark.parametrize("count", [1, 200])
def test_policy_list_query_count_is_constant(personas, test_library, browser_for, django_assert_num_queries, count):
    _many_policies(personas, count)
    browser = browser_for(personas.owner)
    with django_assert_num_queries(7):
        response = browser.get(reverse("policy_list"))
    assert len(response.context["policies"]) == count


@pytest.mark.parametrize("versions", [1, 15])
def test_policy_page_query_count_is_constant(personas, policy, browser_for, django_assert_num_queries, versions):
    for number in range(2, versions + 1):
        PolicyVersionFactory(organisation=personas.organisation, policy=policy, number=number)
    for _ in range(versions):
        MembershipFactory(organisation=personas.organisation, role=Role.MEMBER, user=UserFactory())
    Policy.objects.filter(pk=policy.pk).update(status=PolicyStatus.PUBLISHED)
    PolicyVersion_publish(policy.versions.get(number=1))
    PolicyAcknowledgementFactory(
        organisation=personas.organisation, version=policy.versions.get(number=1), user=personas.member
    )
    browser = browser_for(personas.owner)
    with django_assert_num_queries(11):
        response = browser.get(reverse("policy_detail", args=[policy.pk]))
    assert len(response.context["page"].versions) == versions


@pytest.mark.parametrize(("name", "queries"), [("policy_job", 4), ("policy_edit", 5), ("policy_compare", 6)])
def test_other_pages_query_counts_are_pinned(personas, policy, browser_for, django_assert_num_queries, name, queries):
    _method, url = _urls(policy)[name]
    browser = browser_for(personas.member)
    params = {"old": 1, "new": 1} if name == "policy_compare" else None
    with django_assert_num_queries(queries):
        assert browser.get(url, params).status_code == 200
