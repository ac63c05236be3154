"""The API docs page in a real browser: Redoc, served from our static files, renders the real schema
under the site's strict Content Security Policy, with no violation reported."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every violation the page reports, including ones Chromium does not log to the console.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def view(page, name: str) -> None:
    """What a visitor sees in the window (the whole reference is tens of thousands of pixels long)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def first_scoped_operation(schema: dict) -> dict:
    for operations in schema["paths"].values():
        for operation in operations.values():
            if "x-required-scope" in operation:
                return operation
    raise AssertionError("No operation in the schema needs a scope")


def test_docs_render_the_schema_without_csp_violations(live_server, page):
    page.add_init_script(RECORD_VIOLATIONS)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    external: list[str] = []
    page.on(
        "request",
        lambda request: (
            external.append(request.url)
            if request.url.startswith("http") and not request.url.startswith(live_server.url)
            else None
        ),
    )

    page.goto(f"{live_server.url}/api/docs/")

    expect(page.get_by_role("heading", name="Greenlight API", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="evidence:read")).to_be_visible()
    # Redoc has read the schema: its menu lists the groups of operations.
    reference = page.locator("#redoc")
    expect(reference.locator(".api-content")).to_be_visible()
    expect(reference.get_by_text("Greenlight API").first).to_be_visible()
    menu = reference.locator(".menu-content")
    for tag in ("organisations", "evidence", "readiness"):
        expect(menu.get_by_text(tag, exact=True).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    view(page, "api-docs-01-intro")
    page.locator("#pagination").evaluate("element => element.scrollIntoView()")
    view(page, "api-docs-02-conventions")
    page.locator("#reference").evaluate("element => element.scrollIntoView()")
    view(page, "api-docs-03-reference")

    # An operation's scope shows in the reference (Redoc reads it from the operation's description).
    schema = page.request.get(f"{live_server.url}/api/schema/?format=json").json()
    operation = first_scoped_operation(schema)
    anchor = f"tag/{operation['tags'][0]}/operation/{operation['operationId']}"
    page.goto(f"{live_server.url}/api/docs/#{anchor}")
    section = page.locator(f"[id='{anchor}']")
    expect(section.get_by_text("Scope:")).to_be_visible()
    expect(section.get_by_text(operation["x-required-scope"], exact=True).first).to_be_visible()
    view(page, "api-docs-04-operation")

    # Search runs in Redoc's worker, the one thing this page's policy allows beyond the site's.
    page.get_by_placeholder("Search...").fill("evidence")
    results = page.locator("[data-role='search:results'] li")
    expect(results.first).to_be_visible()
    expect(results.filter(has_text="evidence").first).to_be_visible()
    view(page, "api-docs-05-search")

    violations = page.evaluate("window.__cspViolations")
    csp_messages = [text for text in messages if "Content Security Policy" in text]
    assert violations == [], "\n".join(violations)
    assert csp_messages == [], csp_messages
    assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
    assert external == [], external
