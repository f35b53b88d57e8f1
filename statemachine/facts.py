"""What the workflow knows about a case: ids, categories, moments and counters; never names or text.

Small on purpose: it is the workflow's whole state, carried across continue-as-new, and kept in
Temporal history, which must hold no personal data (the case file in the database holds that).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from policy.model import Risk, Role
from statemachine.commands import Stage


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    anonymous: bool = False
    contact_method: str | None = None
    #: Carries a vulnerability flag in the case file (which one stays there).
    vulnerable: bool = False


class LegalAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    emergency: bool = False
    status: Literal["proposed", "approved", "rejected", "concluded"] = "proposed"
    outcome: str | None = None
    stage_before: Stage = "interventions"
    instruct_solicitor: bool = False
    #: When the decision was considered at a case review meeting (004 §3.12), if recorded.
    case_review_meeting: datetime | None = None


class PlannedAction(BaseModel):
    """One action of the reporter's action plan: who does it and by when (what it is stays in the case
    file). `chased`: its date passed undone and the officer has a task for it (until it is done or moved)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    who: str
    due: date
    done: bool = False
    chased: bool = False


class ReferralFact(BaseModel):
    """A referral to a partner agency, as the workflow tracks it for its follow-up (ids and dates only)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    agency: str
    kind: str
    follow_up: date | None = None
    #: open until an outcome closes it (declined, completed, withdrawn).
    open: bool = True
    #: Its follow-up task was raised for the current follow-up date.
    tasked: bool = False


class PendingApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: Literal["closure_approval", "legal_approval"]
    role: Role
    requested_by: str
    requested_at: datetime
    escalated_to: Role | None = None
    escalated_at: datetime | None = None
    reason: str | None = None
    #: A closure as a duplicate: the live case it duplicates (issue 12 item 6).
    merged_into: str | None = None
    legal_action_id: str | None = None


class CaseFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    reference: str
    profile: str
    stage: Stage = "enquiry"
    outcome: Literal["not_asb", "early_support", "enquiry"] = "enquiry"
    risk: Risk | None = None
    category: str
    hate: bool = False
    #: The latest hate strand recorded on the case (the report's, then any later incident's): for
    #: reporting hate-related cases (004 §6.4; issue 11 item 15).
    hate_strand: str | None = None
    channel: str = "phone"
    officer: str | None = None
    reporter: Party = Party()
    reported_person: Party | None = None

    received_at: datetime
    converted_at: datetime | None = None
    closed_at: datetime | None = None
    closure_reason: str | None = None
    #: The stage the case closed from, where reopening it returns it (issue 12 item 6).
    closed_from: Stage | None = None
    #: When a manager last reopened the case: its clocks count from then, not from before it closed.
    reopened_at: datetime | None = None
    #: Who approved the closure: they may not review the case (004 §8 "an independent ASB expert").
    closure_approved_by: str | None = None

    first_response_at: datetime | None = None
    failed_contacts: int = 0
    unable_letter_at: datetime | None = None
    last_contact_at: datetime | None = None
    contact_every_days: int | None = None
    contact_method: str | None = None
    #: The action plan's actions (003 stage 1 "Action Plan"; 004 §3.8), and its latest version shared with
    #: the reporter (0: not agreed yet). Agreeing the plan, and every change once agreed, is a new version.
    actions: list[PlannedAction] = []
    plan_version: int = 0

    incidents: int = 1
    last_incident_at: datetime
    #: When each incident happened and whether it was a hate incident: the ASB Case Review thresholds
    #: count incidents in windows (003 §10). Small: a case with hundreds of incidents is rare.
    incident_log: list[tuple[datetime, bool]] = []
    risk_assessed_at: datetime | None = None
    risk_assessment: Risk | None = None
    #: The date the next risk assessment is due (003 §8 stage 1), and whether its task is open.
    risk_review_on: date | None = None
    risk_review_task_open: bool = False
    equality_assessed_at: datetime | None = None
    incidents_at_equality: int = 0
    #: The latest Equality Act assessment's legal step and conclusion (its details are in the case file),
    #: and why a new one is needed before the next legal step (004 §6.4 "at pertinent points"): new
    #: information (`NEW_INFORMATION` in statemachine/catalogue.py) or a legal step taken.
    equality_step: str | None = None
    equality_conclusion: str | None = None
    equality_needed: str | None = None
    #: New information reached a case with legal action open: the officer has a task to reassess.
    equality_task_open: bool = False
    last_review_at: datetime | None = None
    monitoring_since: datetime | None = None
    asb_case_review_since: datetime | None = None
    #: When an enquiry reached its 4 weeks needing the officer's decision (convert, or close with a
    #: reason) instead of closing itself (003 stage 1; issue 11 item 4).
    enquiry_decision_since: datetime | None = None
    #: When the officer was prompted to consider closure (28 quiet days), until they answer it.
    closure_prompt_since: datetime | None = None
    #: A hate incident the police have not yet been told of has a task open; when they were told.
    police_task_open: bool = False
    police_told_at: datetime | None = None
    #: A report that came without an officer has an allocation task open for the team's manager (003 §8).
    allocation_task_open: bool = False

    interventions: list[str] = []
    #: Referrals to partner agencies (003 §9; 004 §3.3), for their follow-up tasks.
    referrals: list[ReferralFact] = []
    #: The landlord's response milestones (profile `priorities.<id>.milestones`): when each was met, and
    #: those already missed (each breached once) (issue 16 item 2).
    milestones_met: dict[str, datetime] = {}
    milestones_missed: list[str] = []
    legal_actions: list[LegalAction] = []
    pending: list[PendingApproval] = []

    #: Deadlines already acted on, as "kind@due": a fired timer never fires twice.
    handled: list[str] = []
    #: Counter for ids of approvals and legal actions.
    counter: int = 0

    @property
    def is_closed(self) -> bool:
        return self.stage == "closed"

    @property
    def open_legal_actions(self) -> list[LegalAction]:
        return [a for a in self.legal_actions if a.status in ("proposed", "approved")]

    def pending_of(self, kind: str) -> PendingApproval | None:
        return next((p for p in self.pending if p.kind == kind), None)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"
