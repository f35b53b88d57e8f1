"""The pages end to end in a real browser: Debian's Chromium driven by Playwright, against the API app
served by uvicorn on loopback, the time-skipping Temporal server with the worker, and PostgreSQL.

Every page visited is checked with axe-core (from the npm registry, installed by scripts/bootstrap into
.venv/npm) for serious or critical violations, and photographed into docs/screens/. Signing in is done
with the keyboard alone, and the public form is sent with JavaScript turned off.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy.engine import make_url

from api.serve import serving
from asb.simulate import start_time_skipping
from casefile.db import Store
from tests.api_support import jpeg, make_app
from worker import build_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
#: Screenshots go to docs/screens/ only when asked (ASB_SCREENSHOTS=1, as when refreshing the README's
#: pictures); otherwise to a scratch folder, so a test run never leaves the checkout modified.
SCREENS = ROOT / "docs" / "screens" if os.environ.get("ASB_SCREENSHOTS") == "1" else Path(
    tempfile.mkdtemp(prefix="asb-screens-"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
async def base_url(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The app on its own PostgreSQL database and its own time-skipping server, so the pages (and their
    screenshots) show only what these tests did, whichever tests ran first; a shared Temporal server
    would see two databases issue the same case references as workflow ids."""
    env = await start_time_skipping()
    admin = psycopg.connect(make_url(postgres_url).set(drivername="postgresql", database="postgres")
                            .render_as_string(hide_password=False), autocommit=True)
    name = f"asb_web_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    store = Store(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    try:
        store.upgrade()
        queue = f"web-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, store, tmp_path_factory.mktemp("browser-outbox"), task_queue=queue):
            app = make_app(env, store, queue, tmp_path_factory.mktemp("browser-state"))
            port = _free_port()
            async with serving(app, "127.0.0.1", port):
                yield f"http://127.0.0.1:{port}"
    finally:
        store.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        await env.shutdown()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/bootstrap installs it)"
    assert AXE.exists(), "axe-core is needed in .venv/npm (scripts/bootstrap installs it)"
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


async def looked_at(page: Page, name: str) -> None:
    """axe-core finds no serious or critical problem on the page; then it is photographed."""
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate("async () => await axe.run(document)")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: accessibility violations {bad}"
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


async def sign_in(browser: Browser, base_url: str, role: str, person: str, shot: str | None = None
                  ) -> tuple[BrowserContext, Page]:
    """Sign in with the keyboard alone: Tab to the role, arrow keys to choose, type the id, Enter."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
    page = await context.new_page()
    await page.goto(base_url + "/")
    await expect(page.get_by_role("heading", name="Sign in to ASB casework")).to_be_visible()
    if shot:
        await looked_at(page, shot)
    await page.locator("#role").focus()
    roles = ["intake", "officer", "manager", "senior_manager", "ops", "auditor"]
    await page.keyboard.press("Space")
    for _ in range(roles.index(role)):
        await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Tab")
    await page.keyboard.type(person)
    await page.keyboard.press("Enter")
    await expect(page.get_by_text(f"id {person})")).to_be_visible()
    return context, page


async def do(page: Page, command: str, fill: dict[str, str] | None = None, check: list[str] | None = None) -> None:
    """Open a command's form on the case page, fill it in and send it."""
    section = page.locator(f"details#{command.replace('_', '-')}")
    await section.locator("summary").click()
    for selector in check or []:
        await section.locator(selector).check()
    for selector, value in (fill or {}).items():
        await section.locator(selector).fill(value)
    await section.locator("button[type=submit]").click()


async def test_a_vulnerable_reporter_is_flagged_from_intake_to_the_case_page_and_the_matrix_is_scored(
    browser: Browser, base_url: str
) -> None:
    """Intake ticks the reporter's vulnerability; the triage shown before saving already counts it (Reading:
    a noise report is low, a vulnerable reporter's case medium); the case page's header warns of it; the
    officer scores Reading's matrix, one question a factor (issue 12 item 4)."""
    context, page = await sign_in(browser, base_url, "intake", "i1")
    await page.goto(f"{base_url}/web/intake/report")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("When did it last happen?").fill("2026-01-10T22:30")
    await page.get_by_label("Describe what happened").fill("Shouting at the door at night")
    await page.get_by_label("Full name").fill("Carol Vulnerable")
    await page.get_by_label("Phone number").fill("07700 900789")
    await page.locator("#reporter-contact-method").check()
    await page.get_by_label("Mental health").check()
    await page.get_by_label("Age").check()
    await page.get_by_label("Assign to officer (id)").fill("o1")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#triage-risk")).to_contain_text("Medium")
    await page.get_by_role("button", name="Save the report").click()
    reference = (await page.locator("#reference").inner_text()).strip()
    await context.close()

    context, page = await sign_in(browser, base_url, "officer", "o1")
    await page.goto(f"{base_url}/web/cases/{reference}")
    await expect(page.locator("#vulnerable-reporter")).to_contain_text("Vulnerable reporter: Age, Mental health")
    section = page.locator("details#record-risk-assessment")
    await section.locator("summary").click()
    await expect(section.get_by_text(re.compile("How persistent is it"))).to_be_visible()
    for radio in ("#record-risk-assessment-scores-persistence-2", "#record-risk-assessment-scores-impact-3",
                  "#record-risk-assessment-scores-vulnerability-3"):
        await section.locator(radio).check()
    next_due = (date.today() + timedelta(days=40)).isoformat()
    await section.locator("#record-risk-assessment-next-assessment-due").fill(next_due)
    await looked_at(page, "case-risk-form")
    await section.locator("button[type=submit]").click()
    await expect(page.get_by_text("Done: Record a risk assessment")).to_be_visible()
    await expect(page.locator("#risk-assessment")).to_contain_text("Medium (score 5: persistence 1, impact 2, "
                                                                    "vulnerability 2)")
    await expect(page.locator("#risk-assessment")).to_contain_text(f"Next due {next_due}")
    await looked_at(page, "case-risk")
    await context.close()


async def test_a_case_from_report_to_closure_in_the_browser(browser: Browser, base_url: str) -> None:
    # Intake logs a report and sees the triage before it is saved.
    context, page = await sign_in(browser, base_url, "intake", "i1", shot="sign-in")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("When did it last happen?").fill("2026-01-10T22:30")
    await page.get_by_label("Where did it happen?").fill("stairwell")
    await page.get_by_label("Describe what happened").fill("Music until 3am every night")
    await page.get_by_label("How many times has it happened in the last month?").fill("9")
    await page.get_by_label("Full name").fill("Alice Browser")
    await page.get_by_label("Phone number").fill("07700 900456")
    await page.get_by_label("Postcode").first.fill("RG1 1AA")
    await page.locator("#reporter-contact-method").check()
    await page.get_by_label("Assign to officer (id)").fill("o1")
    await looked_at(page, "intake-report")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#triage-outcome")).to_have_text("An enquiry")
    await looked_at(page, "intake-triage")
    await page.get_by_role("button", name="Save the report").click()
    reference = (await page.locator("#reference").inner_text()).strip()
    assert re.fullmatch(r"ASB-\d{4}-\d{6}", reference)
    await looked_at(page, "intake-logged")
    await context.close()

    # Another officer may open it but is offered nothing to do on it: the case lists only what this
    # person may do now (issue 11 item 14).
    context, page = await sign_in(browser, base_url, "officer", "o2")
    await page.goto(f"{base_url}/web/cases/{reference}")
    await expect(page.get_by_role("heading", name=f"Case {reference}")).to_be_visible()
    await expect(page.locator("details#record-contact")).to_have_count(0)
    await context.close()

    # The officer finds it among their cases, contacts the reporter, assesses, converts, records an incident.
    context, page = await sign_in(browser, base_url, "officer", "o1")
    await expect(page.get_by_role("link", name=reference)).to_be_visible()
    await looked_at(page, "my-cases")
    await page.get_by_role("link", name=reference).click()
    await expect(page.get_by_role("heading", name=f"Case {reference}")).to_be_visible()
    await expect(page.get_by_role("cell", name="Alice Browser")).to_be_visible()
    # Nothing was done by o2: the first response is still due.
    await expect(page.get_by_role("cell", name="First response")).to_be_visible()
    # Letters go out in the background: reload until the acknowledgement has been sent.
    letter = page.get_by_role("link", name=re.compile(r"Acknowledgement to the reporter \(PDF\)"))
    deadline = asyncio.get_running_loop().time() + 60
    while not await letter.count():
        assert asyncio.get_running_loop().time() < deadline, "the acknowledgement letter was never sent"
        await page.wait_for_timeout(250)
        await page.reload()
    pdf = await page.request.get(base_url + str(await letter.get_attribute("href")))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")
    await looked_at(page, "case")
    await do(page, "record_contact", check=["#record-contact-outcome"])
    await expect(page.get_by_text("Done: Record a contact")).to_be_visible()
    await expect(page.get_by_role("cell", name="First response")).to_have_count(0)
    # Reading's matrix: persistence 2, impact 2, vulnerability 0 (the third, third and first choices): medium.
    await do(page, "record_risk_assessment", check=["#record-risk-assessment-scores-persistence-3",
                                                    "#record-risk-assessment-scores-impact-3",
                                                    "#record-risk-assessment-scores-vulnerability"])
    await expect(page.locator("#risk-assessment")).to_contain_text("Medium (score 4")
    await do(page, "agree_action_plan", fill={"#agree-action-plan-contact-every-days": "14"})
    stale = await context.new_page()  # the same case open in a second tab, from before the conversion
    await stale.goto(f"{base_url}/web/cases/{reference}")
    await do(page, "convert_to_case")
    await expect(page.get_by_text("Done: Convert the enquiry to a case")).to_be_visible()
    await expect(page.locator(".govuk-summary-list").first).to_contain_text("Investigation")
    # The stale tab still offers the conversion: the case refuses it with its own reason, shown in the
    # error summary, and nothing changes.
    await do(stale, "convert_to_case")
    await expect(stale.locator(".govuk-error-summary")).to_contain_text("The case refused")
    await expect(stale.locator(".govuk-summary-list").first).to_contain_text("Investigation")
    await looked_at(stale, "case-refused")
    await stale.close()
    await do(page, "record_incident", fill={"#record-incident-occurred-at": "2026-01-12T23:00"})
    await expect(page.get_by_text("Done: Record an incident")).to_be_visible()
    # The officer adds a photo of the damage (GOV.UK file upload), refused first when it is not one.
    form = page.locator("#evidence-form")
    await form.locator("#evidence-file").set_input_files(
        {"name": "door.jpg", "mimeType": "image/jpeg", "buffer": b"MZ\x90\x00" + b"\x00" * 60})
    await form.locator("#evidence-kind").select_option("photo")
    await form.get_by_role("button", name="Add the file").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("The file is a Windows program")
    await looked_at(page, "case-evidence-refused")
    form = page.locator("#evidence-form")
    photo = jpeg(7)
    await form.locator("#evidence-file").set_input_files({"name": "door.jpg", "mimeType": "image/jpeg",
                                                          "buffer": photo})
    await form.locator("#evidence-kind").select_option("photo")
    await form.locator("#evidence-incident-id").select_option(index=1)
    await form.get_by_label("What does it show? (optional)").fill("The front door after it was kicked in")
    await form.get_by_role("button", name="Add the file").click()
    await expect(page.get_by_text("Done: The file is added to the case")).to_be_visible()
    link = page.locator("#evidence-files").get_by_role("link", name=re.compile("door.jpg"))
    await expect(link).to_be_visible()
    await expect(page.locator("#evidence-files")).to_contain_text("The front door after it was kicked in")
    await page.locator("#evidence").scroll_into_view_if_needed()
    await looked_at(page, "case-evidence")
    download = await page.request.get(base_url + str(await link.get_attribute("href")))
    assert download.status == 200 and await download.body() == photo
    assert download.headers["content-disposition"].startswith('attachment; filename="door.jpg"')
    assert download.headers["x-content-type-options"] == "nosniff"
    # An action for the plan (a date field), and a structured Equality Act assessment (a box for each
    # characteristic considered): both shown on the case (issue 11 items 6 and 9).
    by = (datetime.now(UTC) + timedelta(days=7)).date()
    await do(page, "add_action", fill={"#add-action-what": "Talk to the household at number 16",
                                       "#add-action-due": by.isoformat()})
    await expect(page.get_by_text("Done: Add an action to the plan")).to_be_visible()
    await expect(page.locator("#action-plan + table")).to_contain_text("Talk to the household at number 16")
    form = page.locator("details#record-equality-assessment")
    await form.locator("summary").click()
    for box in ("#record-equality-assessment-step-2", "#record-equality-assessment-considered-2",
                "#record-equality-assessment-conclusion"):
        await form.locator(box).check()
    await form.locator("#record-equality-assessment-adjustments").fill("Meetings at home, with a support worker")
    await looked_at(page, "case-equality-form")  # the open form passes axe too
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_text("Done: Record an Equality Act assessment")).to_be_visible()
    await expect(page.get_by_text("for court application: proportionate. Considered: disability")).to_be_visible()
    await looked_at(page, "case-action-plan")
    # The officer asks for closure.
    await do(page, "request_closure")
    await expect(page.locator(".govuk-error-summary")).to_contain_text("Reason: enter a value")
    await page.locator("#request-closure-reason").select_option("asb_stopped")
    await page.locator("details#request-closure button[type=submit]").click()
    await expect(page.get_by_text("Done: Ask a manager to close the case")).to_be_visible()
    await expect(page.locator("#pending-approvals")).to_have_text(re.compile("Closure approval by a manager"))
    await context.close()

    # A manager rejects it with a reason (a rejection without one is refused).
    context, page = await sign_in(browser, base_url, "manager", "m1")
    await looked_at(page, "dashboard")
    await page.get_by_role("link", name="My tasks").click()
    await expect(page.locator(".govuk-summary-card", has_text=reference)).to_contain_text("Closure approval")
    await looked_at(page, "tasks")
    await page.get_by_role("link", name="Approvals").click()
    card = page.locator(".govuk-summary-card", has_text=reference)
    await expect(card).to_contain_text("ASB stopped")
    await expect(card).to_contain_text("For court application: proportionate. Considered: disability")
    await looked_at(page, "approvals")
    await card.get_by_role("button", name=re.compile("^Reject")).click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("Enter why you are rejecting it")
    card = page.locator(".govuk-summary-card", has_text=reference)
    await card.locator("textarea").fill("Reports came in last week: keep it open")
    await card.get_by_role("button", name=re.compile("^Reject")).click()
    await expect(page.get_by_text("Decision recorded: rejected")).to_be_visible()
    await context.close()

    # The officer asks again; another manager approves, and the case is closed.
    context, page = await sign_in(browser, base_url, "officer", "o1")
    await page.goto(f"{base_url}/web/cases/{reference}")
    await expect(page.get_by_text("Reports came in last week: keep it open")).to_be_visible()
    await page.locator("details#request-closure summary").click()
    await page.locator("#request-closure-reason").select_option("asb_stopped")
    await page.locator("details#request-closure button[type=submit]").click()
    await expect(page.get_by_text("Done: Ask a manager to close the case")).to_be_visible()
    await context.close()
    context, page = await sign_in(browser, base_url, "manager", "m2")
    await page.goto(f"{base_url}/web/approvals")
    card = page.locator(".govuk-summary-card", has_text=reference)
    await card.locator("textarea").fill("Quiet for a month")
    await card.get_by_role("button", name=re.compile("^Approve")).click()
    await expect(page.get_by_text("Decision recorded: approved")).to_be_visible()
    await page.goto(f"{base_url}/web/cases/{reference}")
    await expect(page.locator(".govuk-summary-list").first).to_contain_text("Closed")
    await looked_at(page, "case-closed")
    # The closure letter invites an ASB Case Review: for a month the closed case takes the applicant's
    # reports to the police and the application (issue 11 item 10; 003 §10).
    section = page.locator("details#record-incident")
    await section.locator("summary").click()
    await section.get_by_label("To the police").check()
    await looked_at(page, "case-closed-review")
    await section.locator("button[type=submit]").click()
    await expect(page.get_by_text("Done: Record an incident")).to_be_visible()
    await expect(page.get_by_text("(reported to the police)")).to_be_visible()
    await expect(page.locator("details#request-asb-case-review")).to_have_count(1)
    await context.close()


async def test_a_locked_case_is_invisible_to_another_officer(browser: Browser, base_url: str) -> None:
    context, page = await sign_in(browser, base_url, "intake", "i1")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("Full name").fill("Carol Lockable")
    await page.get_by_label("Phone number").fill("07700 900789")
    await page.get_by_label("Assign to officer (id)").fill("o1")
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("button", name="Save the report").click()
    reference = (await page.locator("#reference").inner_text()).strip()
    await context.close()

    context, page = await sign_in(browser, base_url, "manager", "m1")
    await page.goto(f"{base_url}/web/cases/{reference}")
    await page.get_by_label(re.compile("Why lock it")).fill("The reporter is a member of staff")
    await page.get_by_role("button", name="Lock the case").click()
    await expect(page.get_by_text("Done: The case is locked")).to_be_visible()
    await context.close()

    context, page = await sign_in(browser, base_url, "officer", "o2")
    answer = await page.goto(f"{base_url}/web/cases/{reference}")
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("heading", name="Case not found")).to_be_visible()
    await page.goto(f"{base_url}/web/search?q=Carol+Lockable")
    await expect(page.get_by_role("heading", name="0 results")).to_be_visible()
    await looked_at(page, "search-locked")
    await context.close()

    context, page = await sign_in(browser, base_url, "officer", "o1")  # its own officer still sees it
    await page.goto(f"{base_url}/web/search?q=Carol+Lockable")
    await expect(page.get_by_role("link", name=reference)).to_be_visible()
    await looked_at(page, "search")
    await context.close()


async def test_a_manager_allocates_a_report_that_came_without_an_officer(browser: Browser, base_url: str) -> None:
    """Issue 12 item 7: the report waits on the dashboard and in the manager's tasks with its team; the
    manager assigns it on the case page, then moves it to another officer, giving the reason."""
    context, page = await sign_in(browser, base_url, "intake", "i1")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("Full name").fill("Dev Unallocated")
    await page.get_by_label("Phone number").fill("07700 900321")
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("button", name="Save the report").click()
    reference = (await page.locator("#reference").inner_text()).strip()
    await context.close()

    context, page = await sign_in(browser, base_url, "manager", "m1")
    row = page.locator("#unallocated + table tr", has_text=reference)
    deadline = asyncio.get_running_loop().time() + 60
    while not await row.count():  # the task's row is written by its own workflow
        assert asyncio.get_running_loop().time() < deadline, "the report never waited for allocation"
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(row).to_contain_text("ASB")
    await looked_at(page, "dashboard-allocation")
    await page.get_by_role("link", name="My tasks").click()
    card = page.locator(".govuk-summary-card", has_text=reference)
    await expect(card).to_contain_text("Allocation")
    await looked_at(page, "tasks-allocation")
    await card.get_by_role("link", name=re.compile("Assign or reassign the officer")).click()
    form = page.locator("details#assign-officer")  # the inbox's link opens the case's form
    await expect(form).to_have_attribute("open", "")
    await form.locator("#assign-officer-officer").fill("o1")
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_text("Done: Assign or reassign the officer")).to_be_visible()
    await expect(page.locator(".govuk-summary-list").first).to_contain_text("o1")
    await do(page, "assign_officer", fill={"#assign-officer-officer": "o2",
                                           "#assign-officer-reason": "o1 is on leave for a month"})
    await expect(page.locator(".govuk-summary-list").first).to_contain_text("o2")
    await page.locator("details#assign-officer summary").click()
    await looked_at(page, "case-reassigned")
    await context.close()


async def test_the_public_form_works_with_javascript_off(browser: Browser, base_url: str) -> None:
    context = await browser.new_context(java_script_enabled=False, viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    await page.goto(base_url + "/web/report")
    await expect(page.get_by_text("How we use your information (privacy notice)")).to_be_visible()
    await page.get_by_role("button", name="Send report").click()
    await expect(page.locator(".govuk-error-summary")).to_be_visible()
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("When did it last happen?").fill("2026-01-10T23:15")
    await page.get_by_label("Describe what happened").fill("Shouting in the car park")
    await page.get_by_label("Full name").fill("Dev Public")
    await page.get_by_label("Email address").fill("dev@example.org")
    await page.locator("#reporter-contact-method-2").check()  # email
    await page.get_by_role("button", name="Send report").click()
    await expect(page.get_by_role("heading", name="Report sent")).to_be_visible()
    await expect(page.locator("#promise")).to_have_text(re.compile(r"We will contact you within \d+ working day"))
    await context.close()
    # axe needs scripts: look at the same pages again with JavaScript on.
    context = await browser.new_context(viewport={"width": 1000, "height": 900}, bypass_csp=True)
    page = await context.new_page()
    await page.goto(base_url + "/web/report")
    await looked_at(page, "public-report")
    await page.get_by_role("button", name="Send report").click()
    await looked_at(page, "public-report-errors")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("When did it last happen?").fill("2026-01-11T23:15")
    await page.locator("#anonymous-2").check()
    await page.get_by_role("button", name="Send report").click()
    await expect(page.get_by_role("heading", name="Report sent")).to_be_visible()
    await looked_at(page, "public-report-sent")
    await context.close()


async def tab_to(page: Page, selector: str, limit: int = 200) -> None:
    """Press Tab until the element matching `selector` has the focus: it is reachable by keyboard."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


async def test_the_main_journeys_by_keyboard_alone(browser: Browser, base_url: str) -> None:
    # The public form, JavaScript off: the skip link first, then every field by Tab, typing and Space.
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(base_url + "/web/report")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    await tab_to(page, "#category")
    await page.keyboard.type("noise")  # a focused select picks the option whose text is typed
    await tab_to(page, "#incident-occurred-at")
    # This Chromium's date-time control is month/day/year, hour:minute AM/PM: each part moves on when full.
    await page.keyboard.type("01102026")
    await page.keyboard.press("Tab")
    await page.keyboard.type("1030P")
    assert await page.locator("#incident-occurred-at").input_value() == "2026-01-10T22:30"
    await tab_to(page, "#incident-description")
    await page.keyboard.type("Dogs barking all night")
    await tab_to(page, "#anonymous")  # a radio group is one Tab stop; the arrow keys choose within it
    await page.keyboard.press("ArrowDown")
    await tab_to(page, "button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.locator(".govuk-panel__title, .govuk-error-summary")).to_be_visible()
    problems = await page.locator(".govuk-error-summary").all_inner_texts()
    assert not problems, problems
    await expect(page.get_by_role("heading", name="Report sent")).to_be_visible()
    await context.close()

    # Intake logs a report for o1; o1 records a contact on it by keyboard.
    context, page = await sign_in(browser, base_url, "intake", "i1")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("Full name").fill("Erin Keys")
    await page.get_by_label("Phone number").fill("07700 900111")
    await page.get_by_label("Assign to officer (id)").fill("o1")
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("button", name="Save the report").click()
    reference = (await page.locator("#reference").inner_text()).strip()
    await context.close()
    context, page = await sign_in(browser, base_url, "officer", "o1")
    await page.goto(f"{base_url}/web/cases/{reference}")
    await tab_to(page, "details#record-contact summary")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # the first outcome, "Made"
    await tab_to(page, "details#record-contact button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("Done: Record a contact")).to_be_visible()
    await context.close()
