"""People, parties and the chronology through the API and the pages (issue 12 items 5 and 9), on the real
stack: PostgreSQL, the time-skipping Temporal server and the worker.

An officer edits a reporter's contact details against the version they saw and is refused, naming the
current version, when someone saved first; a locked case's people are not there for another officer;
records that look alike are offered and merged only by an officer's decision, audited, and merges that
cannot be right are refused; parties are added and removed; the chronology downloads as a PDF holding
the case reference. Roles that may not do these are refused before anything is looked up.
"""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path
from typing import Any

import httpx
import pdfplumber
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from casefile.db import Store
from casefile.models import AuditRow, ConsentRow, PartyRow, PersonRow
from tests.api_support import Tokens, client_for, report

_numbers = itertools.count(1)


@pytest.fixture
def as_(app: FastAPI, state_dir: Path) -> Tokens:
    return Tokens(state_dir)


async def signed_in(app: FastAPI, role: str, person: str) -> httpx.AsyncClient:
    """A browser session on the pages, signed in locally as `role`."""
    client = client_for(app)
    page = await client.get("/web/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text
    answer = await client.post("/web/sign-in", data={"csrf_token": csrf.group(1), "role": role, "person": person})
    assert answer.status_code == 303, answer.text
    return client


def _someone(tag: str, **extra: Any) -> dict[str, Any]:
    """A reporter no other test shares details with (matching would otherwise offer them all)."""
    n = next(_numbers)
    return {"name": f"Dana {tag} {n}", "phone": f"07700 9{n:02d}{abs(hash(tag)) % 1000:03d}",
            "contact_method": "phone", "consents": {"action": True}, **extra}


async def _case(api: httpx.AsyncClient, as_: Tokens, **extra: Any) -> tuple[str, dict[str, str]]:
    """Log a report as intake; the case reference and its parties' person ids by role."""
    logged = await api.post("/reports", json=report(**extra), headers=as_("intake", "i1"))
    assert logged.status_code == 201, logged.text
    ref = logged.json()["reference"]
    view = await api.get(f"/cases/{ref}", headers=as_("officer", "o1"))
    assert view.status_code == 200, view.text
    return ref, {p["role"]: p["person_id"] for p in view.json()["parties"]}


async def _person(api: httpx.AsyncClient, who: dict[str, str], person_id: str) -> dict[str, Any]:
    shown = await api.get(f"/people/{person_id}", headers=who)
    assert shown.status_code == 200, shown.text
    person: dict[str, Any] = shown.json()
    return person


def _problem(response: httpx.Response, status: int, says: str, field: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert says in body["detail"], body
    if field is not None:
        assert body["field"] == field, body


async def test_contact_details_are_edited_against_the_version_seen(api: httpx.AsyncClient, as_: Tokens,
                                                                   store: Store) -> None:
    officer, manager = as_("officer", "o1"), as_("manager", "m1")
    ref, people = await _case(api, as_, reporter=_someone("edit"))
    reporter = people["reporter"]
    seen = await _person(api, officer, reporter)
    assert seen["cases"] == [{"case_ref": ref, "role": "reporter", "anonymous": False, "stage": "enquiry",
                              "locked": False}]
    assert {c["kind"]: c["given"] for c in seen["consents"]} == {"action": True}
    version = seen["version"]

    # The officer changes the phone number and asks for large print; text messages are consented to.
    edited = await api.patch(f"/people/{reporter}", headers=officer, json={
        "expected_version": version, "phone": "07700 900999", "large_print": True, "consents": {"sms": True}})
    assert edited.status_code == 200, edited.text
    now = edited.json()
    assert now["phone"] == "07700 900999" and now["large_print"] is True and now["version"] == version + 1
    assert {c["kind"]: c["given"] for c in now["consents"]} == {"action": True, "sms": True}
    case = (await api.get(f"/cases/{ref}", headers=officer)).json()
    assert next(p for p in case["parties"] if p["role"] == "reporter")["large_print"] is True

    # A manager who loaded the person before that edit saves against the old version: refused, nothing changed,
    # and told the version it is at now.
    stale = await api.patch(f"/people/{reporter}", headers=manager,
                            json={"expected_version": version, "phone": "01189 000000"})
    _problem(stale, 409, f"it is now at version {version + 1}, your edit was made against version {version}")
    assert (await _person(api, officer, reporter))["phone"] == "07700 900999"
    # Reloaded, the manager clears the email and names a representative; a consent for this case only.
    representative = (await api.post(f"/cases/{ref}/parties", headers=officer, json={
        "role": "representative", "details": {"name": "Rita Advocate", "phone": "07700 900321"}})).json()
    rep_edit = await api.patch(f"/people/{reporter}", headers=manager, json={
        "expected_version": version + 1, "email": None, "representative_id": representative["person_id"],
        "consents": {"referral": False}, "consent_case": ref})
    assert rep_edit.status_code == 200, rep_edit.text
    assert rep_edit.json()["representative_id"] == representative["person_id"]
    assert {"kind": "referral", "given": False, "case_ref": ref} in [
        {k: c[k] for k in ("kind", "given", "case_ref")} for c in rep_edit.json()["consents"]]

    # A consent alone is an edit too: the next editor's version moves on.
    consent_only = await api.patch(f"/people/{reporter}", headers=officer, json={
        "expected_version": rep_edit.json()["version"], "consents": {"email": False}})
    assert consent_only.status_code == 200, consent_only.text
    assert consent_only.json()["version"] == rep_edit.json()["version"] + 1

    # Bad input is a 422 naming the field, and changes nothing.
    current = consent_only.json()["version"]
    for body, field, says in [
        ({"expected_version": current, "email": "not an email"}, "email", "email"),
        ({"expected_version": current, "contact_method": "pigeon"}, "contact_method", "contact_method"),
        ({"expected_version": current, "representative_id": "P-000000000000"}, "representative_id",
         "no person P-000000000000"),
        ({"expected_version": current, "representative_id": reporter}, "representative_id", "their own"),
        ({"expected_version": current, "large_print": None}, "large_print", "true or false"),
        ({"expected_version": current, "name": None}, "name", "needs a name"),
        ({"expected_version": current}, "(body)", "nothing to change"),
        ({"expected_version": current, "version": 9}, "version", "unknown field"),
        ({"phone": "07700 900111"}, "expected_version", "expected_version"),
        ({"expected_version": current, "consents": {"sms": True}, "consent_case": "ASB-1999-000001"}, None,
         "no case ASB-1999-000001"),
    ]:
        answer = await api.patch(f"/people/{reporter}", headers=officer, json=body)
        expected = 404 if field is None else 422
        _problem(answer, expected, says, field)
    assert (await _person(api, officer, reporter))["version"] == current

    with store.session() as session:
        changes = session.scalars(select(AuditRow).where(AuditRow.entity == "people", AuditRow.entity_id == reporter,
                                                         AuditRow.action == "update")).all()
        assert {(row.actor_role, row.actor_id) for row in changes} == {("officer", "o1"), ("manager", "m1")}
        reads = session.scalar(select(func.count()).select_from(AuditRow).where(
            AuditRow.entity == "people", AuditRow.entity_id == reporter, AuditRow.action == "read"))
        assert reads and reads >= 3  # every look at a person is recorded
        assert session.scalar(select(func.count()).select_from(ConsentRow).where(
            ConsentRow.person_id == reporter, ConsentRow.recorded_by == "m1")) == 1
        assert session.scalar(select(func.count()).select_from(ConsentRow).where(
            ConsentRow.person_id == reporter, ConsentRow.recorded_by == "o1")) == 2


async def test_a_locked_cases_people_are_not_there_for_another_officer(api: httpx.AsyncClient, as_: Tokens,
                                                                       store: Store) -> None:
    ref, people = await _case(api, as_, reporter=_someone("locked", is_employee=True))
    locked = await api.post(f"/cases/{ref}/lock", headers=as_("manager", "m1"),
                            json={"locked": True, "reason": "the reporter works for us"})
    assert locked.status_code == 200, locked.text
    reporter = people["reporter"]
    other = as_("officer", "o2")

    for answer in [
        await api.get(f"/people/{reporter}", headers=other),
        await api.patch(f"/people/{reporter}", headers=other, json={"expected_version": 1, "phone": "07700 900000"}),
        await api.get(f"/people/{reporter}/matches", headers=other),
        await api.post(f"/people/{reporter}/merge", headers=other, json={
            "merge_id": people["reported_person"], "reason": "x", "versions": {"keep": 1, "merge": 1}}),
    ]:
        _problem(answer, 404, f"no person {reporter}")
    unknown = await api.get("/people/P-ffffffffffff", headers=other)
    _problem(unknown, 404, "no person P-ffffffffffff")  # the same answer as for nobody
    _problem(await api.delete(f"/cases/{ref}/parties/{reporter}/reporter", headers=other), 404, f"no case {ref}")
    _problem(await api.get(f"/cases/{ref}/chronology", headers=other), 404, f"no case {ref}")

    # Its officer and the managers see them, and each look is recorded against the locked case.
    assert (await _person(api, as_("officer", "o1"), reporter))["cases"][0]["locked"] is True
    await _person(api, as_("senior_manager", "s1"), reporter)
    with store.session() as session:
        readers = set(session.execute(select(AuditRow.actor_role, AuditRow.actor_id).where(
            AuditRow.case_ref == ref, AuditRow.action == "read", AuditRow.after["purpose"].as_string() == "person:view")
        ).all())
    assert readers == {("officer", "o1"), ("senior_manager", "s1")}


async def test_records_that_look_alike_are_offered_and_merged_only_by_an_officer(
    api: httpx.AsyncClient, as_: Tokens, store: Store
) -> None:
    officer = as_("officer", "o1")
    dana = _someone("twice")
    first, people1 = await _case(api, as_, reporter=dana)
    second, people2 = await _case(api, as_, reporter={**dana, "phone": None, "email": "dana@example.org"})
    keep, merge = people1["reporter"], people2["reporter"]
    assert keep != merge  # intake never merges: a second record was written

    offered = await api.get(f"/people/{keep}/matches", headers=officer)
    assert offered.status_code == 200, offered.text
    matches = {m["match"]["person_id"]: m for m in offered.json()["matches"]}
    assert merge in matches and matches[merge]["match"]["fields"] == ["name"]
    assert matches[merge]["name"] == dana["name"] and matches[merge]["cases"][0]["case_ref"] == second
    keep_version, merge_version = offered.json()["version"], matches[merge]["match"]["version"]

    body = {"merge_id": merge, "reason": "same name; she confirmed both reports by phone",
            "versions": {"keep": keep_version, "merge": merge_version}}
    merged = await api.post(f"/people/{keep}/merge", headers={**officer, "Idempotency-Key": "merge-1"}, json=body)
    assert merged.status_code == 200, merged.text
    out = merged.json()
    assert out["already_merged"] is False and out["moved"]["parties"] == 1 and "email" in out["filled"]
    # A retry with the key (or without) changes nothing; the same key with another request is refused.
    again = await api.post(f"/people/{keep}/merge", headers={**officer, "Idempotency-Key": "merge-1"}, json=body)
    assert again.status_code == 200 and again.json()["already_merged"] is True, again.text
    reused = await api.post(f"/people/{keep}/merge", headers={**officer, "Idempotency-Key": "merge-1"},
                            json={**body, "reason": "another reason"})
    _problem(reused, 422, "already used with a different request", "Idempotency-Key")

    person = await _person(api, officer, keep)
    assert {c["case_ref"] for c in person["cases"]} == {first, second}
    assert person["email"] == "dana@example.org" and person["phone"] == dana["phone"]
    assert (await _person(api, officer, merge))["id"] == keep  # the old id names the person it became
    with store.session() as session:
        audit = session.scalars(select(AuditRow).where(AuditRow.action == "merge", AuditRow.entity == "people",
                                                       AuditRow.entity_id == merge)).all()
        merges = [(row.actor_role, row.actor_id, (row.after or {}).get("into")) for row in audit]
        assert merges == [("officer", "o1", keep)]
        assert session.get(PersonRow, merge).merged_into == keep  # type: ignore[union-attr]


async def test_merges_that_cannot_be_right_are_refused_and_change_nothing(api: httpx.AsyncClient, as_: Tokens,
                                                                          store: Store) -> None:
    manager = as_("manager", "m1")
    ref, people = await _case(api, as_, reporter=_someone("refused", date_of_birth="1980-02-03"))
    reporter, reported = people["reporter"], people["reported_person"]
    _, others = await _case(api, as_, reporter=_someone("refused", date_of_birth="1990-02-03"))
    born_else = others["reporter"]

    def merge(keep: str, gone: str, keep_v: int = 1, gone_v: int = 1, reason: str = "checked") -> Any:
        return api.post(f"/people/{keep}/merge", headers=manager,
                        json={"merge_id": gone, "reason": reason, "versions": {"keep": keep_v, "merge": gone_v}})

    _problem(await merge(reporter, reported), 409, f"one is the reporter and the other the reported person in {ref}")
    _problem(await merge(reporter, born_else), 409, "their dates of birth differ")
    _problem(await merge(reporter, reporter), 409, "cannot be merged into themself")
    _problem(await merge(reporter, "P-eeeeeeeeeeee"), 404, "no person P-eeeeeeeeeeee")
    _problem(await merge(reporter, born_else, reason="   "), 422, "give a reason", "reason")
    # Someone edits the reporter; a merge decided on the version before is refused, naming the current one.
    edited = await api.patch(f"/people/{reporter}", headers=manager, json={"expected_version": 1,
                                                                           "date_of_birth": "1990-02-03"})
    assert edited.status_code == 200, edited.text
    _problem(await merge(reporter, born_else, keep_v=1), 409, "it is now at version 2")
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(PersonRow).where(
            PersonRow.id.in_([reporter, reported, born_else]), PersonRow.merged_into.is_not(None))) == 0
        assert session.scalar(select(func.count()).select_from(AuditRow).where(
            AuditRow.action == "merge", AuditRow.entity_id.in_([reported, born_else]))) == 0


async def test_parties_are_added_and_removed(api: httpx.AsyncClient, as_: Tokens, store: Store) -> None:
    officer, intake = as_("officer", "o1"), as_("intake", "i1")
    ref, people = await _case(api, as_, reporter=_someone("parties"))
    witness = {"role": "witness", "details": {"name": "Wendy Witness", "phone": "07700 900777"}}

    # A new witness, sent twice with one key (a retry after no answer): one person, one party.
    added = await api.post(f"/cases/{ref}/parties", headers={**officer, "Idempotency-Key": "w-1"}, json=witness)
    assert added.status_code == 201, added.text
    wendy = added.json()["person_id"]
    resent = await api.post(f"/cases/{ref}/parties", headers={**officer, "Idempotency-Key": "w-1"}, json=witness)
    assert resent.status_code == 200 and resent.json() == {**added.json(), "created": False}, resent.text
    reused = await api.post(f"/cases/{ref}/parties", headers={**officer, "Idempotency-Key": "w-1"},
                            json={**witness, "role": "reporter"})
    _problem(reused, 422, "already used with a different request", "Idempotency-Key")
    # An unknown second reported person, by intake; someone on file as a reporter of this case too.
    unknown = await api.post(f"/cases/{ref}/parties", headers=intake,
                             json={"role": "reported_person", "details": {"description": "unknown male, flat 3"}})
    assert unknown.status_code == 201, unknown.text
    again = await api.post(f"/cases/{ref}/parties", headers=officer, json={"role": "witness", "person_id": wendy})
    assert again.status_code == 200 and again.json()["created"] is False
    view = (await api.get(f"/cases/{ref}", headers=officer)).json()
    roles = [(p["role"], p["name"]) for p in view["parties"]]
    assert ("witness", "Wendy Witness") in roles and ("reported_person", None) in roles and len(roles) == 4

    # Refused: the reporter as the reported person; the last reporter removed; bad input.
    _problem(await api.post(f"/cases/{ref}/parties", headers=officer,
                            json={"role": "reported_person", "person_id": people["reporter"]}),
             409, "both a reporter and a reported person")
    _problem(await api.delete(f"/cases/{ref}/parties/{people['reporter']}/reporter", headers=officer),
             409, "only reporter")
    _problem(await api.post(f"/cases/{ref}/parties", headers=officer, json={"role": "witness"}), 422,
             "give either person_id")
    _problem(await api.post(f"/cases/{ref}/parties", headers=officer, json={"role": "witness", "details": {}}),
             422, "give a name, or a description", "details")
    _problem(await api.post(f"/cases/{ref}/parties", headers=officer, json={"role": "victim", "person_id": wendy}),
             422, "role", "role")
    _problem(await api.post(f"/cases/{ref}/parties", headers=officer,
                            json={"role": "witness", "person_id": "P-dddddddddddd"}), 404, "no person P-dddddddddddd")
    _problem(await api.delete(f"/cases/{ref}/parties/{wendy}/victim", headers=officer), 422, "role", "role")

    removed = await api.delete(f"/cases/{ref}/parties/{wendy}/witness", headers=officer)
    assert removed.status_code == 200 and removed.json()["removed"] is True, removed.text
    twice = await api.delete(f"/cases/{ref}/parties/{wendy}/witness", headers=officer)
    assert twice.status_code == 200 and twice.json()["removed"] is False
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(PartyRow).where(
            PartyRow.case_ref == ref, PartyRow.role == "witness")) == 0
        assert session.get(PersonRow, wendy) is not None  # the person's record stays
        assert session.scalar(select(func.count()).select_from(PersonRow).where(
            PersonRow.name == "Wendy Witness", PersonRow.id == wendy)) == 1


async def test_the_chronology_downloads_as_a_pdf_and_its_making_is_audited(api: httpx.AsyncClient, as_: Tokens,
                                                                          store: Store) -> None:
    ref, _ = await _case(api, as_, reporter=_someone("chronology"))
    for audience in ("court", "case_conference"):
        got = await api.get(f"/cases/{ref}/chronology", params={"audience": audience}, headers=as_("officer", "o1"))
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"] == (
            f'attachment; filename="{ref}-chronology-{audience.replace("_", "-")}.pdf"')
        with pdfplumber.open(io.BytesIO(got.content)) as pdf:
            text = "\n".join(page.extract_text() or "" for page in pdf.pages)
        assert ref in text and "played loud music" in text
    _problem(await api.get(f"/cases/{ref}/chronology", params={"audience": "press"}, headers=as_("manager", "m1")),
             422, "audience", "audience")
    _problem(await api.get("/cases/ASB-1999-000042/chronology", headers=as_("manager", "m1")), 404,
             "no case ASB-1999-000042")
    with store.session() as session:
        exports = session.scalars(select(AuditRow).where(AuditRow.case_ref == ref, AuditRow.action == "export")).all()
        assert sorted(str((row.after or {}).get("audience")) for row in exports) == ["case_conference", "court"]
        assert {row.actor_id for row in exports} == {"o1"}


async def test_roles_that_may_not_are_refused_before_anything_is_looked_up(api: httpx.AsyncClient,
                                                                           as_: Tokens) -> None:
    ref, people = await _case(api, as_, reporter=_someone("roles"))
    reporter = people["reporter"]
    edit = {"expected_version": 1, "phone": "07700 900000"}
    merge = {"merge_id": people["reported_person"], "reason": "x", "versions": {"keep": 1, "merge": 1}}
    for role in ("intake", "ops", "auditor"):
        who = as_(role, f"{role}1")
        for answer in [
            await api.patch(f"/people/{reporter}", headers=who, json=edit),
            await api.get(f"/people/{reporter}/matches", headers=who),
            await api.post(f"/people/{reporter}/merge", headers=who, json=merge),
            await api.get(f"/cases/{ref}/chronology", headers=who),
            await api.patch("/people/P-nobody", headers=who, json=edit),  # the same answer for nobody
        ]:
            _problem(answer, 403, f"the {role} role may not do this")
        # Reading a person is for all staff.
        assert (await _person(api, who, reporter))["id"] == reporter
    for role in ("ops", "auditor"):
        who = as_(role, f"{role}1")
        _problem(await api.post(f"/cases/{ref}/parties", headers=who, json={"role": "witness", "person_id": reporter}),
                 403, f"the {role} role may not do this")
        _problem(await api.delete(f"/cases/{ref}/parties/{reporter}/reporter", headers=who), 403,
                 f"the {role} role may not do this")
    _problem(await api.get(f"/people/{reporter}"), 401, "bearer token")
    assert (await _person(api, as_("officer", "o1"), reporter))["version"] == 1  # nothing changed


async def test_the_case_page_offers_the_chronology_to_officers_and_managers(app: FastAPI, api: httpx.AsyncClient,
                                                                             as_: Tokens) -> None:
    ref, _ = await _case(api, as_, reporter=_someone("web"))
    officer = await signed_in(app, "officer", "o1")
    page = await officer.get(f"/web/cases/{ref}")
    assert page.status_code == 200 and "Download chronology (PDF)" in page.text
    link = f'/web/cases/{ref}/chronology?audience=court'
    assert f'href="{link}"' in page.text
    pdf = await officer.get(link)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text[:300]
    assert pdf.headers["content-disposition"].startswith("attachment;") and pdf.content.startswith(b"%PDF")
    await officer.aclose()
    ops = await signed_in(app, "ops", "ops1")
    page = await ops.get(f"/web/cases/{ref}")
    assert page.status_code == 200 and "Download chronology" not in page.text
    assert (await ops.get(link)).status_code == 403
    await ops.aclose()


async def test_the_openapi_document_describes_the_people_doors(api: httpx.AsyncClient) -> None:
    doc = (await api.get("/openapi.json")).json()
    wanted = {("/people/{person_id}", "get"): "getPerson", ("/people/{person_id}", "patch"): "editPerson",
              ("/people/{person_id}/matches", "get"): "listPersonMatches",
              ("/people/{person_id}/merge", "post"): "mergePeople", ("/cases/{ref}/parties", "post"): "addCaseParty",
              ("/cases/{ref}/parties/{person_id}/{role}", "delete"): "removeCaseParty",
              ("/cases/{ref}/chronology", "get"): "getCaseChronology"}
    for (path, method), operation_id in wanted.items():
        op = doc["paths"][path][method]
        assert op["operationId"] == operation_id and op["summary"] and op["description"]
        assert {"401", "403", "404", "422"} <= set(op["responses"]), (path, method)
    assert "409" in doc["paths"]["/people/{person_id}"]["patch"]["responses"]
    assert "application/pdf" in doc["paths"]["/cases/{ref}/chronology"]["get"]["responses"]["200"]["content"]
    idempotent = {p["name"] for p in doc["paths"]["/cases/{ref}/parties"]["post"]["parameters"]}
    assert "Idempotency-Key" in idempotent
