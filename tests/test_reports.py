"""The management reports (issue 14 item 3) over a year of cases written to the case file, each figure
checked against the numbers worked by hand below; and their doors: `asb report`, the API (JSON and CSV),
the closure survey's single-use link.

The reports only read the case file, so the year is written as rows (the end-to-end run through the real
workflow is tests/test_reports_workflow.py). Every case here has this module's own profile name, and the
reports count one profile's cases, so nothing another test writes to the shared case file is counted.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from casefile import reports as r
from casefile import surveys
from casefile.db import Store
from casefile.models import (
    CaseReviewOutcomeRow,
    CaseRow,
    ContactRow,
    EventRow,
    IncidentRow,
    LegalActionRow,
    SurveyAnswerRow,
)
from policy.model import Profile, Reporting
from profiles import load

RUN = uuid.uuid4().hex[:6]
PROFILE: Profile = load("reading").model_copy(update={"name": f"rpt-{RUN}", "reporting": Reporting(homes=2000)})
YEAR = r.Period.reporting_year(2025)  # 1 April 2025 to 31 March 2026
#: "Now" for the reports: the last case's first response is not yet due.
NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ref(n: int) -> str:
    return f"R{RUN}-{n:03d}"


def _case(session: Any, n: int, opened: str, risk: str | None, *, hate: bool = False, closed: str | None = None,
          reason: str | None = None, outcome: str = "enquiry", stage: str = "enquiry",
          stages: tuple[tuple[str, str], ...] = ()) -> None:
    session.add(CaseRow(reference=ref(n), profile=PROFILE.name, stage="closed" if closed else stage, outcome=outcome,
                        risk=risk, category="noise", hate=hate, opened_at=at(opened),
                        closed_at=at(closed) if closed else None, closure_reason=reason))
    session.flush()
    seq = 0

    def event(when: str, kind: str, **data: Any) -> None:
        nonlocal seq
        seq += 1
        session.add(EventRow(case_ref=ref(n), seq=seq, at=at(when), kind=kind, data={"event": kind, **data}))

    event(opened, "triage", outcome=outcome, risk=risk, category="noise")
    event(opened, "stage", stage="enquiry")
    for when, name in stages:
        event(when, "stage", stage=name)
    if closed:
        event(closed, "closed", reason=reason)
        event(closed, "stage", stage="closed")


def _contact(session: Any, n: int, when: str) -> None:
    session.add(ContactRow(case_ref=ref(n), at=at(when), outcome="made", method="phone", by="o1"))


def _event(session: Any, n: int, when: str, event: str, **data: Any) -> None:
    session.add(EventRow(case_ref=ref(n), seq=None, at=at(when), kind=event, data={"event": event, **data}))


def _incident(session: Any, n: int, when: str, strand: str | None, status: str = "confirmed") -> None:
    session.add(IncidentRow(case_ref=ref(n), occurred_at=at(when), category="harassment", hate_strand=strand,
                            recorded_at=at(when), status=status))


@pytest.fixture(scope="module")
def year(store: Store) -> Store:
    """A year of cases, April 2025 to March 2026 (times in UTC; working days by England's calendar)."""
    with store.session() as s, s.begin():
        # 1: high, Mon 7 Apr: 1 working day, counted from the next working day: due end of Tue 8 Apr.
        #    Answered the same afternoon: met. Closed 7 May (30 days).
        _case(s, 1, "2025-04-07T10:00:00", "high", closed="2025-05-07T10:00:00", reason="asb_stopped",
              stages=(("2025-04-08T10:00:00", "investigation"),))
        _contact(s, 1, "2025-04-07T15:00:00")
        # 2: medium, received on Good Friday (18 Apr), a bank holiday: received on Tue 22 Apr (Easter Monday
        #    is one too), 3 working days after it: due end of Fri 25 Apr. Answered Fri 25 Apr at 16:00: met.
        _case(s, 2, "2025-04-18T10:00:00", "medium", stages=(("2025-05-01T10:00:00", "investigation"),),
              closed="2025-08-18T10:00:00", reason="no_reports")
        _contact(s, 2, "2025-04-25T15:00:00")
        # 3: low, hate (race), never answered: missed. Open at the year's end, in investigation.
        _case(s, 3, "2025-06-02T10:00:00", "low", hate=True, stages=(("2025-06-10T10:00:00", "investigation"),))
        _incident(s, 3, "2025-06-01T20:00:00", "race")
        _incident(s, 3, "2025-07-01T20:00:00", "race")
        _incident(s, 3, "2025-07-02T20:00:00", "race", status="pending")  # never recorded: not counted
        # 4: medium, Tue 1 Jul, due end of Fri 4 Jul, answered Thu 10 Jul: missed. Closed 1 Sep (62 days).
        _case(s, 4, "2025-07-01T10:00:00", "medium", closed="2025-09-01T10:00:00", reason="insufficient_evidence")
        _contact(s, 4, "2025-07-10T10:00:00")
        # 5: high, hate (disability, then race), answered the same day: met. Closed 15 Oct (30 days).
        _case(s, 5, "2025-09-15T10:00:00", "high", hate=True, closed="2025-10-15T10:00:00", reason="asb_stopped")
        _contact(s, 5, "2025-09-15T14:00:00")
        _incident(s, 5, "2025-09-14T20:00:00", "disability")
        _incident(s, 5, "2025-09-20T20:00:00", "race")
        # 6: medium, closed two days later as a duplicate of a live case: not an NM01 case.
        _case(s, 6, "2025-11-03T10:00:00", "medium", closed="2025-11-05T10:00:00", reason="duplicate")
        _contact(s, 6, "2025-11-04T10:00:00")
        # 7: low, Mon 1 Dec, due Mon 8 Dec, answered next day: met; in legal at the year's end.
        _case(s, 7, "2025-12-01T10:00:00", "low", stages=(("2025-12-10T10:00:00", "investigation"),
                                                          ("2026-02-01T10:00:00", "legal")))
        _contact(s, 7, "2025-12-02T10:00:00")
        # 8: early support: no case (000), counted nowhere.
        _case(s, 8, "2026-01-10T10:00:00", "low", outcome="early_support", closed="2026-01-10T10:00:00",
              reason="not_asb")
        # 9: high, Mon 30 Mar 2026, due Tue 31 Mar, not answered, not yet due at NOW: pending.
        _case(s, 9, "2026-03-30T10:00:00", "high")
        # 10: opened before the year, still open in enquiry (medium).
        _case(s, 10, "2025-03-20T10:00:00", "medium")
        _incident(s, 10, "2025-03-19T20:00:00", "race")  # before the year
        # 11: opened after the year.
        _case(s, 11, "2026-04-02T10:00:00", "high")
        s.flush()
        # The survey: three answers in the year, one after it.
        for n, answer, channel, when in ((1, "very_satisfied", "link", "2025-05-20T10:00:00"),
                                         (4, "fairly_dissatisfied", "phone", "2025-09-10T10:00:00"),
                                         (5, "fairly_satisfied", "paper", "2025-10-30T10:00:00"),
                                         (2, "very_dissatisfied", "phone", "2026-04-03T10:00:00")):
            s.add(SurveyAnswerRow(case_ref=ref(n), person_id="p", satisfaction=answer, channel=channel,
                                  answered_at=at(when)))
        # ASB Case Reviews: case 4 refused once for the threshold then accepted, held with recommendations;
        # case 7 accepted (a second application while it is under way is not a new one), held without.
        _event(s, 4, "2025-08-01T10:00:00", "rejected", command="request_asb_case_review", role="intake",
               reason="the ASB Case Review threshold is not met: 2 incidents within 6 months of the first report")
        _event(s, 4, "2025-08-10T10:00:00", "asb_case_review", applicant="individual", status="requested")
        _event(s, 4, "2025-08-30T10:00:00", "task_resolved", task="t", kind="asb_case_review", decision="done",
               by="m2")
        s.add(CaseReviewOutcomeRow(case_ref=ref(4), held_on=date(2025, 8, 30), recommendations=True,
                                   recorded_at=at("2025-08-30T12:00:00"), recorded_by="m2"))
        _event(s, 7, "2026-01-05T10:00:00", "asb_case_review", applicant="group", status="requested")
        _event(s, 7, "2026-01-06T10:00:00", "rejected", command="request_asb_case_review", role="intake",
               reason="an ASB Case Review is already under way")
        _event(s, 7, "2026-02-01T10:00:00", "task_resolved", task="t", kind="asb_case_review", decision="done",
               by="m2")
        s.add(CaseReviewOutcomeRow(case_ref=ref(7), held_on=date(2026, 2, 1), recommendations=False,
                                   recorded_at=at("2026-02-01T12:00:00"), recorded_by="m2"))
        # Legal actions: a legal warning concluded, an injunction rejected, an injunction approved.
        s.add(LegalActionRow(case_ref=ref(4), kind="legal_warning", status="concluded",
                             proposed_at=at("2025-08-15T10:00:00")))
        s.add(LegalActionRow(case_ref=ref(5), kind="injunction", status="rejected",
                             proposed_at=at("2025-10-01T10:00:00")))
        s.add(LegalActionRow(case_ref=ref(7), kind="injunction", status="approved",
                             proposed_at=at("2026-02-01T10:00:00")))
    return store


def build(store: Store, name: str, period: r.Period = YEAR, profile: Profile = PROFILE) -> r.Report:
    with store.session() as session:
        return r.build(session, name, profile, period, NOW)


def test_first_response_compliance_by_risk(year: Store) -> None:
    """High 1 working day, medium 3, low 5 (reading's standard, 003 §8). By hand:
    high: 1 met (same day), 5 met (same day), 9 pending -> 2 met of 2 judged, 100%;
    medium: 2 met (Good Friday, due Fri 25 Apr), 4 missed (due Fri 4 Jul, answered 10 Jul), 6 met -> 66.7%;
    low: 3 missed (never), 7 met -> 50%; all: 5 met, 2 missed, 1 pending -> 5/7 = 71.4%."""
    report = build(year, "first-response")
    assert report.rows == [
        ["high", 1, 3, 2, 0, 1, 100.0],
        ["medium", 3, 3, 2, 1, 0, 66.7],
        ["low", 5, 2, 1, 1, 0, 50.0],
        ["all", None, 8, 5, 2, 1, 71.4],
    ]
    assert report.period.start == date(2025, 4, 1) and report.period.end == date(2026, 3, 31)
    assert any("working days" in rule for rule in report.rules)


def test_open_cases_at_the_end_of_the_year_by_stage_risk_and_age(year: Store) -> None:
    """Open at midnight ending 31 March 2026: 9 (enquiry, high, 1 day), 10 (enquiry, medium, opened 20 Mar
    2025: over 180), 3 (investigation, low, since 2 Jun: over 180), 7 (legal, low, since 1 Dec: 120 days)."""
    report = build(year, "open-cases")
    assert report.rows == [
        ["enquiry", "high", "0-30 days", 1],
        ["enquiry", "medium", "over 180 days", 1],
        ["investigation", "low", "over 180 days", 1],
        ["legal", "low", "91-180 days", 1],
    ]
    assert report.figures["open"] == 4
    # At the end of April 2025: 1 (investigation), 2 (enquiry until 1 May), 10.
    april = build(year, "open-cases", r.Period.month("2025-04"))
    assert april.rows == [["enquiry", "medium", "0-30 days", 1], ["enquiry", "medium", "31-90 days", 1],
                          ["investigation", "high", "0-30 days", 1]]


def test_closures_by_reason_with_the_median_duration(year: Store) -> None:
    """Closed in the year: 1 (30 days, asb_stopped), 5 (30, asb_stopped), 2 (122, no_reports), 4 (62,
    insufficient_evidence), 6 (2, duplicate: listed, not in the total). Median of 30, 30, 62, 122 is 46."""
    report = build(year, "closures")
    assert report.rows == [
        ["asb_stopped", 2, 30.0],
        ["duplicate", 1, 2.0],
        ["insufficient_evidence", 1, 62.0],
        ["no_reports", 1, 122.0],
        ["all (not duplicates)", 4, 46.0],
    ]


def test_nm01_per_thousand_homes_for_the_reporting_year(year: Store) -> None:
    """Opened in the year: 1, 2, 3, 4, 5, 6, 7, 9 (8 is early support; 10 and 11 outside it); 6 is a
    duplicate: 7 cases, of which 3 and 5 involve hate. 2,000 homes: 7 / 2 = 3.5 and 2 / 2 = 1.0."""
    report = build(year, "nm01")
    assert report.rows == [["NM01(1) ASB cases", 7, 2000, 3.5], ["NM01(2) hate incident cases", 2, 2000, 1.0]]
    with pytest.raises(r.ReportError, match="reporting year"):
        build(year, "nm01", r.Period.month("2025-04"))
    with pytest.raises(r.ReportError, match="reporting.homes"):
        build(year, "nm01", profile=PROFILE.model_copy(update={"reporting": Reporting()}))


def test_tp12_from_the_closure_survey(year: Store) -> None:
    """In the year: very satisfied, fairly dissatisfied, fairly satisfied: 2 of 3 satisfied, 66.7%."""
    report = build(year, "tp12")
    assert report.rows[-1] == ["TP12 satisfied (very or fairly)", 2, 66.7]
    assert [row[1] for row in report.rows[:5]] == [1, 1, 0, 1, 0]


def test_asb_case_review_register(year: Store) -> None:
    """Applications: case 4's refused one and accepted one, case 7's accepted (its repeat is not one): 3;
    met the threshold 2; held 2; led to recommendations 1."""
    report = build(year, "case-review-register")
    assert report.rows == [["applications received", 3], ["met the threshold", 2], ["reviews held", 2],
                           ["led to recommendations", 1]]


def test_hate_incidents_by_strand(year: Store) -> None:
    """Race: case 3's two recorded incidents and case 5's second (case 3's pending one and case 10's before
    the year are not counted): 3 incidents on 2 cases. Disability: 1 on case 5. All: 4 incidents, 2 cases."""
    report = build(year, "hate-strands")
    assert report.rows == [["race", 3, 2], ["religion", 0, 0], ["sexual_orientation", 0, 0], ["disability", 1, 1],
                           ["transgender", 0, 0], ["all", 4, 2]]


def test_legal_actions_by_kind_and_outcome(year: Store) -> None:
    report = build(year, "legal-actions")
    assert report.rows == [["injunction", 2, 0, 1, 1, 0], ["legal_warning", 1, 0, 0, 0, 1], ["all", 3, 0, 1, 1, 1]]


def test_csv_states_the_period_and_rules_and_never_starts_a_formula(year: Store) -> None:
    report = build(year, "closures")
    rows = list(csv.reader(io.StringIO(report.to_csv())))
    assert rows[0] == ["report", "Closures by reason, and median duration"]
    assert rows[2] == ["period", "2025-04-01", "2026-03-31"]
    assert [row[0] for row in rows[3:6]] == ["rule", "rule", "rule"]
    header = rows.index(["reason", "closed", "median_days"])
    assert rows[header + 1] == ["asb_stopped", "2", "30.0"]
    hostile = r.Report("x", "x", "p", YEAR, [], ["a"], [["=HYPERLINK(1)"]])
    assert "'=HYPERLINK(1)" in hostile.to_csv()


def test_periods() -> None:
    assert r.Period.month("2026-02").end == date(2026, 2, 28)
    assert r.Period.reporting_year_of(date(2026, 3, 31)).start == date(2025, 4, 1)
    assert r.default_period("nm01", date(2026, 5, 2)) == r.Period.reporting_year(2026)
    assert r.default_period("closures", date(2026, 1, 15)) == r.Period.month("2025-12")
    for bad in ("2026-13", "26-01", "2026-1"):
        with pytest.raises(r.ReportError):
            r.Period.month(bad)
    with pytest.raises(r.ReportError, match="one of"):
        r.period_from("closures", month="2026-01", year=2025, today=date(2026, 1, 1))


# ------------------------------------------------------------------------------------------- the CLI


def _asb(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asb.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def cli_env(year: Store, tmp_path: Path) -> dict[str, str]:
    """The CLI on this module's case file, with this module's profile as a landlord's own file."""
    profile = tmp_path / "landlord.toml"
    text = Path("policy/profiles/reading.toml").read_text(encoding="utf-8")
    text = text.replace('name = "reading"', f'name = "{PROFILE.name}"', 1) + "\n[reporting]\nhomes = 2000\n"
    profile.write_text(text, encoding="utf-8")
    import os

    return {**os.environ, "ASB_DATABASE_URL": year.url, "ASB_PROFILE": str(profile),
            "ASB_STATE_DIR": str(tmp_path / "state")}


def test_asb_report_prints_the_table_csv_and_refuses_in_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = _asb(["report", "nm01", "--year", "2025"], cli_env)
    assert out.returncode == 0, out.stderr
    assert "NM01(1) ASB cases" in out.stdout and "3.5" in out.stdout and "Homes: 2000" in out.stdout
    assert "reporting year 2025/26" in out.stdout
    out = _asb(["report", "first-response", "--from", "2025-04-01", "--to", "2026-03-31", "--format", "csv"],
               cli_env)
    assert out.returncode == 0, out.stderr
    assert "medium,3,3,2,1,0,66.7" in out.stdout
    for args, message in ((["report", "nm01", "--month", "2025-04"], "reporting year"),
                          (["report", "closures", "--month", "2025-13"], "no such month"),
                          (["report", "closures", "--from", "2025-04-01"], "both from and to"),
                          (["report", "secrets"], "invalid choice")):
        bad = _asb(args, cli_env)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1 and message in bad.stderr, bad.stderr


def test_asb_report_monthly_writes_the_pdf_and_html(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = _asb(["report", "monthly", "--month", "2025-09", "--out", str(tmp_path)], cli_env)
    assert out.returncode == 0, out.stderr
    pdf, html = (Path(line) for line in out.stdout.split())
    assert pdf.read_bytes().startswith(b"%PDF") and html.suffix == ".html"
    page = html.read_text(encoding="utf-8")
    assert "September 2025" in page and "<svg" in page
    bad = _asb(["report", "monthly", "--month", "September"], cli_env)
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr


# ------------------------------------------------------------------------------------------- the API


@pytest.fixture
def app(env: WorkflowEnvironment, year: Store, task_queue: str, state_dir: Path) -> FastAPI:
    from tests.api_support import make_app

    application = make_app(env, year, task_queue, state_dir, public_reports_per_minute=100)
    application.state.service.profile = PROFILE  # this module's landlord: its homes, its cases
    return application


async def test_the_api_gives_reports_to_managers_as_json_and_csv(api: httpx.AsyncClient, state_dir: Path) -> None:
    from tests.api_support import Tokens

    tokens = Tokens(state_dir)
    manager = tokens("manager", "m1")
    answer = await api.get("/management/reports/case-review-register?year=2025", headers=manager)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"] == {"start": "2025-04-01", "end": "2026-03-31", "label": "reporting year 2025/26"}
    assert body["rows"][0] == ["applications received", 3] and body["rules"]
    csv_answer = await api.get("/management/reports/legal-actions?from=2025-04-01&to=2026-03-31&format=csv",
                               headers=manager)
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
    assert "injunction,2,0,1,1,0" in csv_answer.text
    officer = tokens("officer", "o1")
    assert (await api.get("/management/reports/nm01", headers=officer)).status_code == 403
    assert (await api.get("/management/reports/secrets", headers=manager)).status_code == 404
    wrong = await api.get("/management/reports/nm01?month=2025-04", headers=manager)
    assert wrong.status_code == 422 and "reporting year" in wrong.json()["detail"]


async def test_the_survey_link_is_signed_single_use_and_refuses_anything_else(
        api: httpx.AsyncClient, year: Store, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "k" * 40
    monkeypatch.setenv("ASB_SURVEY_SECRET", key)
    token = surveys.make_token(ref(6), "p6", datetime.now(UTC), key.encode())
    first = await api.post("/survey/answers", json={"token": token, "satisfaction": "fairly_satisfied"})
    assert first.status_code == 201, first.text
    again = await api.post("/survey/answers", json={"token": token, "satisfaction": "very_dissatisfied"})
    assert again.status_code == 409
    with year.session() as s:
        assert [(a.person_id, a.satisfaction, a.channel) for a in surveys.answers_for(s, ref(6))] == [
            ("p6", "fairly_satisfied", "link")]
    subject, stamp, mac = token.split(".")
    forged = surveys.make_token(ref(3), "p6", datetime.now(UTC), b"x" * 40)
    old = surveys.make_token(ref(2), "p2", datetime.now(UTC) - timedelta(days=400), key.encode())
    for bad in (f"{subject}.{int(stamp) + 1}.{mac}", forged, old, "../../etc/passwd", "a" * 5000):
        answer = await api.post("/survey/answers", json={"token": bad, "satisfaction": "very_satisfied"})
        assert answer.status_code in (404, 422), (bad, answer.text)
        assert "secret" not in answer.text.lower()
    odd = await api.post("/survey/answers", json={"token": token, "satisfaction": "<script>"})
    assert odd.status_code == 422


# ------------------------------------------------------------------------------------------- the pages


async def test_the_managers_pages_show_each_report_with_its_period_rules_and_csv(
        app: FastAPI, year: Store, tmp_path: Path) -> None:
    from tests.test_web_pages import signed_in

    manager = await signed_in(app, "manager", "m1")
    index = await manager.get("/web/reports")
    assert index.status_code == 200 and "/web/reports/nm01" in index.text
    page = await manager.get("/web/reports/closures?year=2025")
    assert page.status_code == 200
    assert "reporting year 2025/26 (2025-04-01 to 2026-03-31)" in page.text
    assert "How it is counted" in page.text and "asb_stopped" in page.text
    download = await manager.get("/web/reports/closures.csv?from=2025-04-01&to=2026-03-31")
    assert download.status_code == 200 and "no_reports,1,122.0" in download.text
    monthly = await manager.get("/web/reports/monthly?month=2025-09")
    assert monthly.status_code == 200 and monthly.text.count("<svg") == 5
    (tmp_path / "monthly.html").write_text(monthly.text)
    pdf = await manager.get("/web/reports/monthly.pdf?month=2025-09")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    bad = await manager.get("/web/reports/closures?month=2025-13")
    assert bad.status_code == 422 and "no such month" in bad.text
    officer = await signed_in(app, "officer", "o1")
    assert (await officer.get("/web/reports/nm01")).status_code == 403


async def test_the_survey_page_takes_one_answer_through_the_letters_link(
        app: FastAPI, year: Store, state_dir: Path) -> None:
    from tests.api_support import client_for
    from tests.test_web_pages import csrf_of

    token = surveys.make_token(ref(5), "p5", datetime.now(UTC), surveys.survey_key(state_dir))
    public = client_for(app)
    form = await public.get(f"/web/survey?t={token}")
    assert form.status_code == 200 and "How satisfied or dissatisfied" in form.text
    empty = await public.post("/web/survey", data={"csrf_token": csrf_of(form.text), "t": token})
    assert empty.status_code == 422 and "Choose how satisfied" in empty.text
    done = await public.post("/web/survey", data={"csrf_token": csrf_of(form.text), "t": token,
                                                  "satisfaction": "very_satisfied"})
    assert done.status_code == 200 and "Thank you" in done.text
    again = await public.post("/web/survey", data={"csrf_token": csrf_of(form.text), "t": token,
                                                   "satisfaction": "very_dissatisfied"})
    assert "already have your answer" in again.text
    with year.session() as s:
        assert [(a.person_id, a.satisfaction) for a in surveys.answers_for(s, ref(5)) if a.channel == "link"] == [
            ("p5", "very_satisfied")]
    assert (await public.get("/web/survey?t=nonsense")).status_code == 404


async def test_the_survey_letters_link_records_the_answer_in_the_case_file(
        api: httpx.AsyncClient, year: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The link printed in the satisfaction_survey letter (letters/compose.py) is the one the door accepts:
    the answer is the letter's reporter's, on the letter's case."""
    import re

    from letters.compose import LetterJob, compose
    from letters.config import DeliverySettings, Landlord
    from letters.recipients import Recipient, find_recipient
    from letters.render import renderer
    from tests.letters_helpers import AT, seed_case

    monkeypatch.setenv("ASB_SURVEY_SECRET", "s" * 40)
    case = f"SV-{RUN}7"
    reporter, _ = seed_case(year, case, closure_reason="asb_stopped")
    with year.session() as s, s.begin():
        s.get(CaseRow, case).closed_at = AT  # type: ignore[union-attr]
    settings = DeliverySettings(landlord=Landlord(name="Example Homes", survey_url="https://asb.example.org/web/survey"))
    with year.session() as s:
        person = find_recipient(s, case, "reporter", None)
        assert isinstance(person, Recipient)
        letter = compose(s, LetterJob(case, "satisfaction_survey", "reporter", person.person_id, datetime.now(UTC)),
                         person, settings, renderer(None))
    found = re.search(r"https://asb\.example\.org/web/survey\?t=([A-Za-z0-9_.-]+)", letter.text)
    assert found, letter.text
    answer = await api.post("/survey/answers", json={"token": found.group(1), "satisfaction": "neither"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["case_ref"] == case
    with year.session() as s:
        assert [(a.person_id, a.satisfaction) for a in surveys.answers_for(s, case)] == [(reporter, "neither")]


async def test_staff_record_a_survey_answer_and_a_reviews_outcome(api: httpx.AsyncClient, year: Store,
                                                                   state_dir: Path) -> None:
    from tests.api_support import Tokens

    tokens = Tokens(state_dir)
    officer, manager = tokens("officer", "o1"), tokens("manager", "m2")
    answer = await api.post(f"/cases/{ref(1)}/survey-answers", headers=officer,
                            json={"satisfaction": "fairly_satisfied", "channel": "phone", "person_id": "staff-rec"})
    assert answer.status_code == 201, answer.text
    again = await api.post(f"/cases/{ref(1)}/survey-answers", headers=officer,
                           json={"satisfaction": "very_satisfied", "channel": "paper", "person_id": "staff-rec"})
    assert again.status_code == 409
    still_open = await api.post(f"/cases/{ref(3)}/survey-answers", headers=officer,
                                json={"satisfaction": "neither", "channel": "phone"})
    assert still_open.status_code == 409 and "open" in still_open.json()["detail"]
    wrong = await api.post(f"/cases/{ref(1)}/survey-answers", headers=officer,
                           json={"satisfaction": "ecstatic", "channel": "phone"})
    assert wrong.status_code == 422
    outcome = await api.put(f"/cases/{ref(2)}/asb-case-review-outcome", headers=manager,
                            json={"held_on": "2026-06-30", "recommendations": True})  # after the year
    assert outcome.status_code == 200, outcome.text
    assert (await api.put(f"/cases/{ref(2)}/asb-case-review-outcome", headers=officer,
                          json={"held_on": "2026-06-30", "recommendations": True})).status_code == 403
    with year.session() as s:
        rows = s.query(CaseReviewOutcomeRow).filter(CaseReviewOutcomeRow.case_ref == ref(2)).all()
        assert [(r.held_on, r.recommendations, r.recorded_by) for r in rows] == [(date(2026, 6, 30), True, "m2")]


def test_the_cli_offers_every_report_and_no_other() -> None:
    """`asb report` keeps its names without importing the reports (a fast --help); they must not drift."""
    from asb.reports_cli import NAMES
    from casefile.reports import REPORTS

    assert set(NAMES) == set(REPORTS)
