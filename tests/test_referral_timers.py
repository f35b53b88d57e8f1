"""A referral's follow-up on Temporal's time-skipping server, with the real workflow, task workflow and
activities on PostgreSQL (issue 12 item 8; 003 §9; 004 §3.3): the task when the follow-up is due,
answered by the referral's outcome, and the referral's row in the case file."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from asb.scenario import Scenario
from asb.simulate import play
from casefile.db import Store
from casefile.models import ReferralRow, TaskRow
from profiles import load
from tests.scenarios import MANAGER, of, report, step

START = "2026-03-02T09:30:00+00:00"  # a Monday
_numbers = itertools.count(1)


async def _run(env: WorkflowEnvironment, store: Store, queue: str, until: str, steps: list[dict[str, Any]]
               ) -> tuple[str, list[dict[str, Any]]]:
    """Play the steps as `asb simulate` does; the case's reference and its timeline."""
    reference = f"REF-2026-{next(_numbers) + 700000:06d}"
    scenario = Scenario.model_validate({"profile": "reading", "start": START, "until": until, "steps": steps,
                                        "reference": reference})
    return reference, await play(env, store, scenario, load("reading"), task_queue=queue)


async def _task_rows(store: Store, case_ref: str, kind: str, want: int = 1) -> list[TaskRow]:
    """The task's row, once its workflow has written its latest state (an activity after a signal)."""
    for _ in range(200):
        with store.session() as session:
            rows = list(session.scalars(select(TaskRow).where(TaskRow.case_ref == case_ref, TaskRow.kind == kind)))
            if len(rows) >= want and all(r.status != "open" for r in rows[:want]):
                return rows
        await asyncio.sleep(0.05)
    return rows


async def test_a_follow_up_falls_due_as_a_task_that_the_outcome_answers(
    fresh_env: WorkflowEnvironment, store: Store, fresh_task_queue: str
) -> None:
    case_ref, timeline = await _run(fresh_env, store, fresh_task_queue, "2026-03-12T00:00:00+00:00", [
        report(START),
        step("2026-03-02T10:00:00+00:00", "make_referral", agency="victim_support", consent_ref="C-987654321",
             follow_up="2026-03-06"),
        step("2026-03-09T11:00:00+00:00", "record_referral_outcome", referral="referral-1", outcome="accepted",
             note="first appointment on 12 March"),
    ])
    assert [d["due"] for d in of(timeline, "deadline", kind="referral_follow_up")] == ["2026-03-06T17:00:00+00:00"]
    tasks = of(timeline, "task", kind="referral_follow_up")
    assert [(t["at"], t["role"], t["approval"]) for t in tasks] == [
        ("2026-03-06T17:00:00+00:00", "officer", "referral_follow_up:referral-1")]
    assert of(timeline, "referral_outcome", id="referral-1", outcome="accepted")
    assert of(timeline, "decision", kind="referral_follow_up", decision="accepted",
              approval="referral_follow_up:referral-1")
    assert not of(timeline, "escalation", kind="referral_follow_up")
    assert "first appointment" not in str(timeline)  # the note stays in the case file

    with store.session() as session:
        row = session.scalars(select(ReferralRow).where(ReferralRow.case_ref == case_ref)).one()
        assert row.referral_id == "referral-1" and row.made_at.isoformat() == "2026-03-02T10:00:00+00:00"
        assert (row.agency, row.purpose, row.basis, row.made_by) == (
            "victim_support", "victim_support", "consent", "o1")
        assert row.consent_id is None  # the scenario names a consent the case file does not hold
        assert (row.outcome, row.outcome_by, row.follow_up) == ("accepted", "o1", None)
        assert row.note_ref is None and row.outcome_note_ref is not None
    task = (await _task_rows(store, case_ref, "referral_follow_up"))[0]
    assert (task.status, task.decision, task.decided_by) == ("done", "accepted", "o1")


async def test_a_follow_up_left_unanswered_goes_to_the_manager(
    fresh_env: WorkflowEnvironment, store: Store, fresh_task_queue: str
) -> None:
    """Nobody recorded what became of the referral: after the profile's 5 working days the task goes up
    the escalation chain (004 §3.12), and a safeguarding referral made without consent is followed up too."""
    _ref, timeline = await _run(fresh_env, store, fresh_task_queue, "2026-03-20T00:00:00+00:00", [
        report(START),
        step("2026-03-02T10:00:00+00:00", "make_referral", MANAGER, agency="adult_social_care",
             basis="safeguarding", person_id="p1", follow_up="2026-03-04"),
    ])
    assert [t["at"][:10] for t in of(timeline, "task", kind="referral_follow_up")] == ["2026-03-04"]
    # Raised at 17:00 on Wednesday 4 March, it counts from Thursday: 5 working days end on Thursday 12 March.
    assert [(e["at"], e["role"]) for e in of(timeline, "escalation", kind="referral_follow_up")] == [
        ("2026-03-12T17:00:00+00:00", "manager")]
    assert of(timeline, "referral", basis="safeguarding", person_id="p1", follow_up="2026-03-04")


@pytest.fixture
def own_store(postgres_url: str) -> Iterator[Store]:
    """A case file of this test's own on the PostgreSQL server: a chronology redacts the names of everyone
    else in the case file, and the session's shared one holds whatever other tests (and schemathesis)
    invented."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    name = f"asb_chron_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(make_url(postgres_url).set(drivername="postgresql", database="postgres")
                            .render_as_string(hide_password=False), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    own = Store(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    try:
        own.upgrade()
        yield own
    finally:
        own.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


async def test_the_case_conference_chronology_shows_referrals_and_the_court_bundle_does_not(
    fresh_env: WorkflowEnvironment, own_store: Store, tmp_path: Path
) -> None:
    """003 stage 1: the chronology records "referrals to agencies for support" and what is forthcoming; a
    referral tells the person's needs, so, like a risk assessment, it stays out of a court bundle."""
    from casefile.audit import act_as
    from casefile.chronology import build_chronology
    from casefile.models import PartyRow, PersonRow
    from worker import build_worker

    store = own_store
    alice, bob = f"P-alice-{next(_numbers)}", f"P-bob-{next(_numbers)}"
    async with build_worker(fresh_env.client, store, tmp_path / "outbox", task_queue="chronology-referrals"):
        case_ref, _timeline = await _run(fresh_env, store, "chronology-referrals", "2026-03-04T00:00:00+00:00", [
            report(START, reporter={"id": alice, "contact": {"method": "phone"}}, reported_person={"id": bob}),
            step("2026-03-02T10:00:00+00:00", "make_referral", agency="cmht", consent_ref="C-1",
                 follow_up="2026-03-20", note="struggling to sleep; asked for help"),
            step("2026-03-03T10:00:00+00:00", "make_referral", agency="police", basis="crime", person_id=bob),
            step("2026-03-03T11:00:00+00:00", "record_referral_outcome", referral="referral-2", outcome="accepted"),
        ])
    with store.session() as session, session.begin():  # a scenario has no people: give the case its two
        act_as(session, "intake", "i1")
        session.add_all([PersonRow(id=alice, name="Alice Example"), PersonRow(id=bob, name="Bob Neighbour")])
        session.flush()
        session.add_all([PartyRow(case_ref=case_ref, person_id=alice, role="reporter"),
                         PartyRow(case_ref=case_ref, person_id=bob, role="reported_person")])
    with store.session() as session:
        conference = build_chronology(session, case_ref, audience="case_conference")
        court = build_chronology(session, case_ref, audience="court")
    said = [(e.summary, e.detail) for e in conference.entries]
    assert ("Referral to cmht (mental health) for the reporter, Alice Example, with their consent",
            "struggling to sleep; asked for help") in said
    assert ("Referral to police (police) for the reported person, Bob Neighbour, to report a crime, without "
            "consent", None) in said
    assert ("Referral referral-2: accepted", None) in said
    assert [e.summary for e in conference.forthcoming if e.source.startswith("referral")] == [
        "Referral follow-up due: cmht (referral-1)"]
    court_text = " ".join(f"{e.summary} {e.detail or ''}" for e in [*court.entries, *court.forthcoming])
    assert "Referral" not in court_text and "struggling to sleep" not in court_text
