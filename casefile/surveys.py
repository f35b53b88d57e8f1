"""The closure survey's answers (003 §13 "Close Case Surveys"; 002 §3.3; 000 "invite you to share feedback
through a satisfaction survey"), counted by the TP12 report (casefile/reports.py).

An answer comes one of two ways:

- through the link in the survey letter: the link carries a token naming the case and the person written
  to, signed (HMAC-SHA256) with the survey key and dated, so a link cannot be made up, altered, or used
  after `reporting.survey_link_valid_days`. Everything about it is hostile input: the token is bounded in
  size and shape before it is read, and refused with one reason whatever is wrong with it, so a guesser
  learns nothing. It is single-use: the answer's unique (case, person) key refuses a second answer.
- recorded by staff, from a phone call, the paper form in the letter, or a visit.

The survey key is ASB_SURVEY_SECRET (at least 32 characters), or else one made on first use in the state
folder (readable only by its owner), shared by the worker that writes the letters and the API that reads
the answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casefile import audit
from casefile.db import default_state_dir
from casefile.keyfile import secret_in
from casefile.models import SATISFACTION, CaseReviewOutcomeRow, CaseRow, SurveyAnswerRow

KEY_FILE = "survey-key"
STAFF_CHANNELS = ("phone", "paper", "in_person")
#: A token's shape: three base64url parts; never longer than this.
TOKEN_MAX = 200
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,80}\.[0-9]{1,12}\.[A-Za-z0-9_-]{22}$")
INVALID = "this survey link is not valid: it may have been mistyped, or it is too old"


class SurveyError(ValueError):
    """An answer that cannot be recorded; `status` is the HTTP status a door answers with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def survey_key(state_dir: Path | None = None) -> bytes:
    secret = os.environ.get("ASB_SURVEY_SECRET")
    if secret:
        if len(secret) < 32:
            raise ValueError("ASB_SURVEY_SECRET is too short: at least 32 characters")
        return secret.encode()
    return secret_in((state_dir or default_state_dir()) / KEY_FILE, "survey key")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, subject: str, issued: int) -> str:
    # 128 bits of HMAC-SHA256: beyond guessing, and short enough to type from a printed letter.
    return _b64(hmac.new(key, f"survey|{subject}|{issued}".encode(), hashlib.sha256).digest()[:16])


def make_token(case_ref: str, person_id: str | None, issued: datetime, key: bytes) -> str:
    """The token the survey letter's link carries: the case and the person written to, and when."""
    subject = _b64(f"{case_ref}|{person_id or ''}".encode())
    stamp = int(issued.timestamp())
    return f"{subject}.{stamp}.{_mac(key, subject, stamp)}"


def survey_link(base_url: str, case_ref: str, person_id: str | None, issued: datetime, key: bytes) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}t={make_token(case_ref, person_id, issued, key)}"


@dataclass(frozen=True)
class Invitation:
    case_ref: str
    person_id: str


def read_token(token: str, key: bytes, now: datetime, valid_for: timedelta) -> Invitation:
    """The case and person a token names, if it is ours and still valid; else SurveyError (one reason)."""
    if not isinstance(token, str) or len(token) > TOKEN_MAX or not _TOKEN.match(token):
        raise SurveyError(INVALID, 404)
    subject, stamp, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(key, subject, int(stamp))):
        raise SurveyError(INVALID, 404)
    issued = datetime.fromtimestamp(int(stamp), UTC)
    if not issued - timedelta(days=1) <= now <= issued + valid_for:
        raise SurveyError(INVALID, 404)
    try:
        case_ref, _, person_id = _unb64(subject).decode().partition("|")
    except (ValueError, UnicodeDecodeError):
        raise SurveyError(INVALID, 404) from None
    return Invitation(case_ref, person_id)


def _check_answer(satisfaction: str) -> None:
    if satisfaction not in SATISFACTION:
        raise SurveyError(f"satisfaction must be one of {', '.join(SATISFACTION)}")


def record_answer(session: Session, case_ref: str, person_id: str | None, satisfaction: str, channel: str,
                  now: datetime, recorded_by: str | None = None, actor_role: str = "public") -> SurveyAnswerRow:
    """Keep one answer for (case, person); a second is refused (409), never counted twice."""
    _check_answer(satisfaction)
    if channel != "link" and channel not in STAFF_CHANNELS:
        raise SurveyError(f"channel must be one of {', '.join(STAFF_CHANNELS)}")
    case = session.get(CaseRow, case_ref)
    if case is None:
        raise SurveyError(INVALID if channel == "link" else f"no case {case_ref}", 404)
    if case.closed_at is None:
        raise SurveyError("the survey is about a closed case: this case is open", 409)
    audit.act_as(session, actor_role, recorded_by or "survey-link")  # the row's creation is audited to them
    row = SurveyAnswerRow(case_ref=case_ref, person_id=person_id or "", satisfaction=satisfaction, channel=channel,
                          answered_at=now, recorded_by=recorded_by)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise SurveyError("this survey has already been answered: thank you", 409) from None
    return row


def answer_by_link(session: Session, token: str, satisfaction: str, key: bytes, now: datetime,
                   valid_for: timedelta) -> SurveyAnswerRow:
    invitation = read_token(token, key, now, valid_for)
    _check_answer(satisfaction)
    return record_answer(session, invitation.case_ref, invitation.person_id, satisfaction, "link", now)


def answers_for(session: Session, case_ref: str) -> list[SurveyAnswerRow]:
    return list(session.scalars(select(SurveyAnswerRow).where(SurveyAnswerRow.case_ref == case_ref)
                                .order_by(SurveyAnswerRow.id)))


def record_review_outcome(session: Session, case_ref: str, held_on: date, recommendations: bool, now: datetime,
                          recorded_by: str, actor_role: str) -> CaseReviewOutcomeRow:
    """Whether an ASB Case Review held on `held_on` led to recommendations (004 §8), for the register;
    recording the same review again changes its answer rather than counting it twice."""
    if session.get(CaseRow, case_ref) is None:
        raise SurveyError(f"no case {case_ref}", 404)
    audit.act_as(session, actor_role, recorded_by)
    row = session.scalars(select(CaseReviewOutcomeRow).where(CaseReviewOutcomeRow.case_ref == case_ref,
                                                             CaseReviewOutcomeRow.held_on == held_on)).first()
    if row is None:
        row = CaseReviewOutcomeRow(case_ref=case_ref, held_on=held_on, recommendations=recommendations,
                                   recorded_at=now, recorded_by=recorded_by)
        session.add(row)
    else:
        row.recommendations = recommendations
    session.flush()
    return row
