"""More of the pages end to end in Debian's Chromium, on the real stack (the API app on loopback, the
time-skipping Temporal server with the worker, PostgreSQL): a typed case note, allocating and reassigning
from the dashboard, linking a report to an open case while logging it, the inbox's tasks answered on the
case, and the partner agency's read-only pages (issue 13). Every page visited passes axe-core and is
photographed (into docs/screens/ with ASB_SCREENSHOTS=1), as in tests/test_web_browser.py.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy.engine import make_url

from api.serve import serving
from asb.simulate import start_time_skipping
from casefile.db import Store
from tests.api_support import Tokens, make_app
from tests.test_web_browser import ARGS, AXE, CHROMIUM, _free_port, looked_at, sign_in
from worker import build_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Served:
    url: str
    tokens: Tokens


@pytest.fixture(scope="module")
async def served(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """The app on a database and time-skipping server of its own (as tests/test_web_browser.py's), with
    the local signing key, so a test can set up through the API what the pages do not offer (sharing)."""
    env = await start_time_skipping()
    admin = psycopg.connect(make_url(postgres_url).set(drivername="postgresql", database="postgres")
                            .render_as_string(hide_password=False), autocommit=True)
    name = f"asb_web_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    store = Store(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    try:
        store.upgrade()
        queue = f"web-{uuid.uuid4().hex[:8]}"
        state: Path = tmp_path_factory.mktemp("browser-work-state")
        async with build_worker(env.client, store, tmp_path_factory.mktemp("browser-work-outbox"), task_queue=queue):
            app = make_app(env, store, queue, state)
            port = _free_port()
            async with serving(app, "127.0.0.1", port):
                yield Served(f"http://127.0.0.1:{port}", Tokens(state))
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


async def log_report(browser: Browser, url: str, *, reporter: str, officer: str | None = None, hate: bool = False,
                     reported: str | None = None, role: str = "intake", person: str = "i1",
                     attach_to: str | None = None) -> str:
    """Log a report on the intake page (as intake staff unless told), and return the reference it got."""
    context, page = await sign_in(browser, url, role, person)
    await page.goto(f"{url}/web/intake/report")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("When did it last happen?").fill("2026-01-10T22:30")
    await page.get_by_label("Full name").fill(reporter)
    await page.get_by_label("Phone number").fill("07700 900555")
    if hate:
        await page.get_by_label("It was because of who someone is (a hate incident)").check()
    if reported:
        await page.get_by_label("Their name or a description").fill(reported)
    if officer:
        await page.get_by_label("Assign to officer (id)").fill(officer)
    await page.get_by_role("button", name="Continue").click()
    if attach_to:
        await page.get_by_label(re.compile(f"Yes, it is about case {attach_to}")).check()
        await looked_at(page, "intake-attach")
    await page.get_by_role("button", name="Save the report").click()
    reference = (await page.locator("#reference").inner_text()).strip()
    await context.close()
    return reference


async def until(page: Page, found: Any, what: str) -> None:
    """Reload until `found` (a locator) is there: rows written by a case's workflow arrive a moment later."""
    deadline = asyncio.get_running_loop().time() + 60
    while not await found.count():
        assert asyncio.get_running_loop().time() < deadline, what
        await page.wait_for_timeout(250)
        await page.reload()


async def test_an_officer_records_a_typed_note_with_the_people_involved(browser: Browser, served: Served) -> None:
    """Issue 12 item 3 in the browser: a meeting with the police, the reporter there; a note sent with no
    kind and nothing written is refused in GOV.UK's error summary, each problem on its own field."""
    reference = await log_report(browser, served.url, reporter="Nia Noted", officer="o1")
    context, page = await sign_in(browser, served.url, "officer", "o1")
    await page.goto(f"{served.url}/web/cases/{reference}")
    section = page.locator("details#note")
    await section.locator("summary").click()
    await section.get_by_label("Their role").fill("PCSO")
    await section.get_by_role("button", name="Add the note").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Select what kind of note it is")
    await expect(summary).to_contain_text("Enter what happened")
    await expect(summary).to_contain_text("Enter the name or the organisation of the person whose role you gave")
    await expect(page.locator("#note-text-error")).to_contain_text("Enter what happened")
    await summary.get_by_role("link", name="Enter what happened").click()
    await expect(page.locator("#note-text")).to_be_focused()
    await looked_at(page, "case-note-errors")

    section = page.locator("details#note")
    await section.get_by_label("What kind of note is it?").select_option("multi_agency_meeting")
    await section.get_by_label("What happened").fill("Agreed a joint visit to the block next Tuesday")
    await section.get_by_label("Nia Noted (reporter)").check()
    await section.get_by_label("Their name").fill("Sam Patrol")
    await section.get_by_label("Their organisation").fill("Thames Valley Police")
    await section.get_by_role("button", name="Add the note").click()
    await expect(page.get_by_text("Done: The note is added to the case")).to_be_visible()
    note = page.locator("#notes-list li", has_text="Agreed a joint visit")
    await expect(note).to_contain_text("Multi-agency meeting by o1")
    await expect(note).to_contain_text("with Nia Noted, Sam Patrol (PCSO, Thames Valley Police)")
    await page.locator("#notes").scroll_into_view_if_needed()
    await looked_at(page, "case-note")
    await context.close()

    # Intake logs reports but writes no notes: the form is not offered, and a post is refused as by the API.
    context, page = await sign_in(browser, served.url, "intake", "i1")
    await page.goto(f"{served.url}/web/cases/{reference}")
    await expect(page.locator("details#note")).to_have_count(0)
    await context.close()


async def test_a_manager_allocates_and_reassigns_from_the_dashboard_and_the_inbox_links_to_the_case(
    browser: Browser, served: Served
) -> None:
    """A report without an officer is allocated on its dashboard row; a hate case is moved to another officer
    on its row, refused first without a reason (the case's own rule, 003 §9). The officer's hate-case task
    "tell the police" is answered on the case, so the inbox links to that form instead of "Mark as done"."""
    waiting = await log_report(browser, served.url, reporter="Ola Waiting")
    hate = await log_report(browser, served.url, reporter="Pat Hated", officer="o1", hate=True)

    context, page = await sign_in(browser, served.url, "manager", "m1")
    row = page.locator("#unallocated + table tr", has_text=waiting)
    await until(page, row, "the report never waited for allocation")
    await row.get_by_label(f"Officer for case {waiting}").fill("o3")
    await row.get_by_role("button", name=f"Assign case {waiting}").click()
    await expect(page.locator("#assigned")).to_have_text(f"Case {waiting} is now o3's")
    # The allocation task is answered by the case a moment later: the row goes once it is.
    deadline = asyncio.get_running_loop().time() + 60
    while await page.locator("#unallocated + table tr", has_text=waiting).count():
        assert asyncio.get_running_loop().time() < deadline, "the allocation task was never answered"
        await page.wait_for_timeout(250)
        await page.goto(f"{served.url}/web/dashboard")

    row = page.locator("#hate + table tr", has_text=hate)
    await expect(row).to_contain_text("o1")
    await row.get_by_label(f"New officer for case {hate}").fill("o2")
    await row.get_by_role("button", name=f"Reassign case {hate}").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text(f"{hate}: the case refused")
    row = page.locator("#hate + table tr", has_text=hate)
    await expect(page.locator(f"#hate-{hate}-reason-error")).to_contain_text("say why the case moves from o1")
    await expect(row).to_contain_text("o1")  # nothing moved
    await looked_at(page, "dashboard-reassign-refused")
    await row.get_by_label(f"Why it moves (case {hate})").fill("Hate crime specialist")
    await row.get_by_role("button", name=f"Reassign case {hate}").click()
    await expect(page.locator("#assigned")).to_have_text(f"Case {hate} is now o2's")
    await expect(page.locator("#hate + table tr", has_text=hate)).to_contain_text("o2")
    await looked_at(page, "dashboard-reassigned")
    await page.goto(f"{served.url}/web/cases/{hate}")
    await expect(page.get_by_text("Hate crime specialist")).to_be_visible()  # the reason is in the case file
    await context.close()

    # o2's inbox: the police must be told of the hate incident, which is done on the case, not on the task.
    context, page = await sign_in(browser, served.url, "officer", "o2")
    await page.goto(f"{served.url}/web/tasks")
    card = page.locator(".govuk-summary-card", has_text=hate)
    await until(page, card, "the officer never got the task to tell the police")
    await expect(card).to_contain_text("Tell police")
    await expect(card.get_by_role("button", name=re.compile("Mark as done"))).to_have_count(0)
    await looked_at(page, "tasks-answered-on-the-case")
    await card.get_by_role("link", name=re.compile("police")).click()
    form = page.locator("details#record-police-report")
    await expect(form).to_have_attribute("open", "")
    await form.get_by_label("Police reference").fill("TVP-2026-0042")
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_text(re.compile("^Done: "))).to_be_visible()
    await page.goto(f"{served.url}/web/tasks")
    await until(page, page.get_by_text("There are no open tasks for you."), "the task was not answered by the case")
    await context.close()


async def test_a_report_is_linked_to_the_open_case_it_is_about_while_it_is_logged(
    browser: Browser, served: Served
) -> None:
    """The triage page offers the open cases naming the same person; an officer logging the report says it
    is about one, and it is added there as an incident (the same Service.attach as POST /cases/{ref}/attach),
    its own new case closed as a duplicate. Intake staff are shown the cases but the choice is the officer's
    (the API's rule: attaching is an officer's or a manager's decision)."""
    first = await log_report(browser, served.url, reporter="Quinn First", officer="o1", reported="Rex Stomper")

    context, page = await sign_in(browser, served.url, "intake", "i1")
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("Full name").fill("Ria Second")
    await page.get_by_label("Their name or a description").fill("Rex Stomper")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#possible-matches")).to_contain_text(first)
    await expect(page.locator("#possible-matches")).to_contain_text("say so to the case's officer")
    await expect(page.locator("input[name=attach_to]")).to_have_count(0)
    await context.close()

    second = await log_report(browser, served.url, reporter="Sol Third", reported="Rex Stomper", role="officer",
                              person="o1", attach_to=first)
    context, page = await sign_in(browser, served.url, "officer", "o1")
    await page.goto(f"{served.url}/web/cases/{second}")
    await expect(page.locator(".govuk-summary-list").first).to_contain_text("Closed (Duplicate)")
    await page.goto(f"{served.url}/web/cases/{first}")
    await expect(page.get_by_role("cell", name="Sol Third")).to_be_visible()  # the reporter joined the case
    await context.close()


async def test_the_done_page_says_what_became_of_the_linked_report(browser: Browser, served: Served) -> None:
    first = await log_report(browser, served.url, reporter="Tia First", officer="o1", reported="Uma Loud")
    context, page = await sign_in(browser, served.url, "officer", "o1")
    await page.get_by_role("link", name="Log a report").click()
    await page.get_by_label("What kind of behaviour is it?").select_option("noise")
    await page.get_by_label("When did it last happen?").fill("2026-01-11T21:00")
    await page.get_by_label("Full name").fill("Vic Again")
    await page.get_by_label("Their name or a description").fill("Uma Loud")
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label(re.compile(f"Yes, it is about case {first}")).check()
    await page.get_by_role("button", name="Save the report").click()
    linked = page.locator("#linked")
    await expect(linked).to_contain_text(f"Added to case {first} as 1 incident")
    await expect(linked).to_contain_text(f"closed as a duplicate of {first}")
    await looked_at(page, "intake-attached")
    await context.close()


async def partner_sign_in(browser: Browser, url: str, person: str, agency: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
    page = await context.new_page()
    await page.goto(url + "/web/sign-in")
    await page.get_by_label(re.compile("^Partner agency")).check()
    await page.get_by_label("Your staff id").fill(person)
    await page.get_by_label("Your agency (partner agencies only)").select_option(agency)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Cases shared with your agency")).to_be_visible()
    return context, page


async def test_a_partner_agency_sees_only_what_is_shared_with_it(browser: Browser, served: Served) -> None:
    """Issue 12 item 8 in the browser: Victim Support's staff see the case shared with them, the referral to
    them and the person it names, and the incident and note marked shareable; nothing else of it (the
    reported person, the other incident, the unshared note), no other case, and no staff page."""
    api = httpx.AsyncClient(base_url=served.url, timeout=60)
    tokens, officer = served.tokens, served.tokens("officer", "o1")
    reports = []
    for reporter in ("Wyn Shared", "Xan Unshared"):
        body = {"category": "noise", "channel": "phone", "officer": "o1", "incidents_last_month": 3,
                "reporter": {"name": reporter, "phone": "07700 900123", "contact_method": "phone",
                             "consents": {"action": True, "referral": True}},
                "reported_person": {"name": "Yves Nuisance", "address": "9 Low Road, Reading"},
                "incident": {"occurred_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
                             "description": "Yves Nuisance revved a motorbike at midnight"}}
        logged = await api.post("/reports", json=body, headers=tokens("intake", "i1"))
        assert logged.status_code == 201, logged.text
        reports.append(logged.json()["reference"])
    shared, other = reports

    async def command(ref: str, name: str, **args: Any) -> None:
        done = await api.post(f"/cases/{ref}/commands/{name}", json={"args": args}, headers=officer)
        assert done.status_code == 200, done.text

    await command(shared, "make_referral", agency="victim_support", note="Wyn would like a call after 6pm")
    await command(other, "make_referral", agency="victim_support")
    await command(shared, "record_incident", occurred_at=datetime.now(UTC).isoformat(), category="noise",
                  location="the car park")
    note = await api.post(f"/cases/{shared}/notes", headers=officer,
                          json={"kind": "call", "text": "Yves Nuisance's landlord will write to him"})
    assert note.status_code == 201, note.text
    view = (await api.get(f"/cases/{shared}", headers=officer)).json()
    later = next(i for i in view["incidents"] if i["location"] == "the car park")
    referral_note = next(n for n in view["notes"] if n["command"] == "make_referral")
    for item, item_id in (("incident", later["id"]), ("note", referral_note["id"])):
        marked = await api.post(f"/cases/{shared}/shareable", json={"item": item, "id": item_id}, headers=officer)
        assert marked.status_code == 200, marked.text
    assert (await api.post(f"/cases/{shared}/shares", json={"agency": "victim_support"},
                           headers=officer)).status_code == 200
    partner_view = (await api.get(f"/partner/cases/{shared}", headers=tokens("partner", "vs1",
                                                                             agency="victim_support"))).json()
    await api.aclose()

    context, page = await partner_sign_in(browser, served.url, "vs1", "victim_support")
    table = page.locator("#shared-cases")
    await expect(table.get_by_role("link", name=shared)).to_be_visible()
    await expect(table).not_to_contain_text(other)  # referred to them, but not shared
    await looked_at(page, "partner-cases")
    await table.get_by_role("link", name=shared).click()
    await expect(page.get_by_role("heading", name=f"Case {shared}")).to_be_visible()
    main = page.locator("main")
    await expect(page.locator("#referrals + table")).to_contain_text("referral-1")
    await expect(page.locator("#people + table")).to_contain_text("Wyn Shared")
    await expect(page.locator("#people + table")).to_contain_text("07700 900123")
    await expect(page.locator("#incidents + ul")).to_contain_text("the car park")
    await expect(page.locator("#notes + ul")).to_contain_text("Wyn would like a call after 6pm")
    # Never more than the partner API gives: the same incidents and notes, and nobody else's details.
    assert await page.locator("#incidents + ul li").count() == len(partner_view["incidents"]) == 1
    assert await page.locator("#notes + ul li").count() == len(partner_view["notes"]) == 1
    for hidden in ("Yves Nuisance", "9 Low Road", "revved a motorbike", "landlord will write"):
        await expect(main).not_to_contain_text(hidden)
    await expect(main.locator("form")).to_have_count(0)  # read-only
    await looked_at(page, "partner-case")

    # Another case is "not found", as one that does not exist; another agency does not see this one.
    answer = await page.goto(f"{served.url}/web/partner/cases/{other}")
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("heading", name="Case not found")).to_be_visible()
    answer = await page.goto(f"{served.url}/web/cases/{shared}")  # a staff page: refused
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("navigation").get_by_role("link", name="Shared cases")).to_be_visible()
    await context.close()
    context, page = await partner_sign_in(browser, served.url, "tvp1", "police")
    await expect(page.locator("#no-shared-cases")).to_be_visible()
    answer = await page.goto(f"{served.url}/web/partner/cases/{shared}")
    assert answer is not None and answer.status == 404
    await context.close()
