"""Risk and vulnerability through the doors (issue 12 item 4), on the real stack: PostgreSQL, the
time-skipping Temporal server and the worker.

A reporter's vulnerability flags are kept on the person in the case file and shown on every view of the
case (the API's case view, so `asb case show`, and the case page's header); the workflow learns only that
the reporter is vulnerable, which raises the case's risk. A risk assessment is the profile's matrix,
scored factor by factor; a score the matrix does not have is refused naming it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from casefile.db import Store
from casefile.editing import update_person
from casefile.models import PartyRow
from tests.api_support import Tokens, client_for, report
from tests.polling import eventually


@pytest.fixture
def as_(app: FastAPI, state_dir: Path) -> Tokens:
    return Tokens(state_dir)


async def _case(api: httpx.AsyncClient, who: dict[str, str], ref: str) -> dict[str, Any]:
    response = await api.get(f"/cases/{ref}", headers=who)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def _command(api: httpx.AsyncClient, who: dict[str, str], ref: str, command: str,
                   **args: Any) -> httpx.Response:
    return await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=who)


def _reporter_id(store: Store, ref: str) -> str:
    with store.session() as session:
        person = session.scalars(select(PartyRow.person_id).where(PartyRow.case_ref == ref,
                                                                  PartyRow.role == "reporter")).one()
        return str(person)


async def test_a_vulnerable_reporter_is_on_the_case_view_and_raises_the_risk(
    api: httpx.AsyncClient, as_: Tokens
) -> None:
    intake, officer = as_("intake", "i1"), as_("officer", "o1")
    body = report()
    body["reporter"]["vulnerabilities"] = ["mental_health", "age"]
    logged = await api.post("/reports", json=body, headers=intake)
    assert logged.status_code == 201, logged.text
    ref = logged.json()["reference"]
    # Reading: a noise report is low risk; a vulnerable reporter's case is at least medium (003 §10).
    assert logged.json()["status"]["risk"] == "medium", logged.json()

    view = await _case(api, officer, ref)
    assert view["vulnerable_reporter"] is True
    assert view["reporter_vulnerabilities"] == ["age", "mental_health"]
    reporter = next(p for p in view["parties"] if p["role"] == "reporter")
    assert reporter["vulnerabilities"] == ["age", "mental_health"]
    # The case file's row and timeline follow once the workflow's step is recorded.
    view = await eventually(lambda: _case(api, officer, ref), lambda v: v["case"]["risk"] == "medium",
                            what="the case row's risk")
    assert {"event": "risk", "risk": "medium", "why": "vulnerable reporter"}.items() <= next(
        e for e in view["timeline"] if e["event"] == "risk").items()

    # The assessment scores Reading's matrix; the case file answers that the reporter is vulnerable.
    done = await _command(api, officer, ref, "record_risk_assessment",
                          scores={"persistence": 1, "impact": 1, "vulnerability": 2})
    assert done.status_code == 200, done.text
    view = await _case(api, officer, ref)
    latest = view["risk_assessments"][0]
    assert (latest["level"], latest["label"], latest["total"], latest["reporter_vulnerable"]) == (
        "medium", "medium", 4, True)
    assert latest["scores"] == {"persistence": 1, "impact": 1, "vulnerability": 2}
    assert latest["next_due"] is not None
    assert view["status"]["deadlines"]["risk_review"]


async def test_a_flag_added_later_is_shown_and_the_next_assessment_carries_it(
    api: httpx.AsyncClient, as_: Tokens, store: Store
) -> None:
    intake, officer = as_("intake", "i1"), as_("officer", "o1")
    logged = await api.post("/reports", json=report(), headers=intake)
    ref = logged.json()["reference"]
    assert (await _case(api, officer, ref))["vulnerable_reporter"] is False

    # The officer records the reporter's disability through the versioned edit of the person.
    with store.session() as session, session.begin():
        update_person(session, _reporter_id(store, ref), {"vulnerabilities": ["physical_disability"]},
                      expected_version=1, role="officer", actor_id="o1")
    view = await _case(api, officer, ref)
    assert view["vulnerable_reporter"] is True and view["reporter_vulnerabilities"] == ["physical_disability"]

    # Scores of 1 of 9 are low; the reporter's flag makes the assessment (and the case) medium.
    done = await _command(api, officer, ref, "record_risk_assessment",
                          scores={"persistence": 1, "impact": 0, "vulnerability": 0})
    assert done.status_code == 200, done.text
    assert done.json()["status"]["risk"] == "medium"
    assessed = next(e for e in (await _case(api, officer, ref))["timeline"] if e["event"] == "risk_assessment")
    assert (assessed["level"], assessed["scored"], assessed["vulnerable"]) == ("medium", "low", True)
    # Which flags the person carries never reaches the workflow: only that the reporter is vulnerable.
    assert "physical_disability" not in str(assessed)


async def test_bad_scores_and_flags_are_422_naming_the_field(api: httpx.AsyncClient, as_: Tokens,
                                                              store: Store) -> None:
    intake, officer = as_("intake", "i1"), as_("officer", "o1")
    body = report()
    body["reporter"]["vulnerabilities"] = ["sad"]
    refused = await api.post("/reports", json=body, headers=intake)
    assert refused.status_code == 422 and refused.json()["field"] == "reporter.vulnerabilities.0", refused.text

    ref = (await api.post("/reports", json=report(), headers=intake)).json()["reference"]
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"scores": {"persistence": 1, "impact": 1, "vulnerability": 0, "noise": 2}}, "args.scores.noise",
         "unknown risk factor 'noise'"),
        ({"scores": {"persistence": 1, "impact": 1}}, "args.scores.vulnerability", "no score for 'vulnerability'"),
        ({"scores": {"persistence": 1, "impact": 1, "vulnerability": 4}}, "args.scores.vulnerability",
         "score from 0 to 3"),
        ({"level": "low", "reporter_vulnerable": False}, "args.reporter_vulnerable", "set by the API"),
        ({"level": "low", "next_assessment_due": "2020-01-01"}, "args.next_assessment_due", "is not after today"),
        ({}, "args.scores", "give the factor scores"),
    ]
    for args, field, says in cases:
        answer = await _command(api, officer, ref, "record_risk_assessment", **args)
        assert answer.status_code == 422, (args, answer.text)
        assert answer.json()["field"] == field and says in answer.json()["detail"], (args, answer.json())
    view = await _case(api, officer, ref)
    assert view["risk_assessments"] == []  # nothing was recorded
    with store.session() as session, session.begin(), pytest.raises(ValueError, match="unknown vulnerability"):
        update_person(session, _reporter_id(store, ref), {"vulnerabilities": ["free text about their health"]},
                      expected_version=1, role="officer", actor_id="o1")


async def test_the_case_page_header_warns_of_a_vulnerable_reporter_and_scores_the_matrix(
    app: FastAPI, api: httpx.AsyncClient, as_: Tokens
) -> None:
    body = report()
    body["reporter"]["vulnerabilities"] = ["learning_disability"]
    ref = (await api.post("/reports", json=body, headers=as_("intake", "i1"))).json()["reference"]
    async with client_for(app) as page:
        sign_in = await page.get("/web/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in.text)
        assert token
        signed = await page.post("/web/sign-in", data={"csrf_token": token.group(1), "role": "officer",
                                                       "person": "o1"})
        assert signed.status_code == 303
        case = await page.get(f"/web/cases/{ref}")
        assert case.status_code == 200
        header = case.text.split('<h2 class="govuk-heading-m">Summary</h2>')[0]
        assert 'id="vulnerable-reporter"' in header and "Vulnerable reporter: Learning disability" in header
        # The risk assessment form asks each question of Reading's matrix, one input per factor.
        for factor in ("persistence", "impact", "vulnerability"):
            assert f'name="scores.{factor}"' in case.text
        assert 'name="reporter_vulnerable"' not in case.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', case.text)
        assert csrf
        posted = await page.post(f"/web/cases/{ref}/commands/record_risk_assessment", data={
            "csrf_token": csrf.group(1), "scores.persistence": "3", "scores.impact": "3", "scores.vulnerability": "1"})
        assert posted.status_code == 303, posted.text
        shown = await page.get(f"/web/cases/{ref}")
        assessment = re.search(r'id="risk-assessment">(.*?)</dd>', shown.text, re.S)
        assert assessment and "High" in assessment.group(1) and "score 7" in assessment.group(1)
