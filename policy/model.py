"""The policy profile: every number and rule of one landlord's published ASB service standard.

A profile is data (a TOML file) validated by this model, so a landlord changes its standard
without touching code, and a typo is refused with the field named rather than silently ignored
(every section forbids unknown keys).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policy.closures import LocalDays, LocalState
from policy.periods import Period

Nation = Literal["eng", "wls", "sct", "nir"]
Risk = Literal["high", "medium", "low"]
#: The council's or landlord's own staff: who works, decides and reads cases.
StaffRole = Literal["intake", "officer", "manager", "senior_manager", "ops", "auditor"]
#: Everyone who may act: staff, and a partner agency's staff (who see only what is shared with their
#: agency, and may record the outcome of a referral made to it: casefile/partners.py).
Role = Literal["intake", "officer", "manager", "senior_manager", "ops", "auditor", "partner"]
#: The kinds of partner agency a case may be referred to (003 §9, §11; 004 §3.3, §4.4, §6.1). An
#: allow-list: a profile names its local agencies (`referrals.agencies`), each of one of these kinds.
AgencyKind = Literal[
    "victim_support", "hate_crime_service", "mental_health", "tenancy_sustainment", "safeguarding_adults",
    "safeguarding_children", "police", "environmental_health",
]
AGENCY_KINDS: tuple[AgencyKind, ...] = (
    "victim_support", "hate_crime_service", "mental_health", "tenancy_sustainment", "safeguarding_adults",
    "safeguarding_children", "police", "environmental_health",
)
#: An agency's id as profiles, tokens (the `agency` claim) and the case file name it.
AGENCY_ID_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"

RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarRules(_Section):
    nation: Nation = "eng"
    end_of_working_day: time = time(17, 0)
    timezone: str = "Europe/London"
    #: The landlord's own closures added to the nation's bank holidays, and bank holidays it does not
    #: observe ("open"): {"12-29..12-31" = "closed", "2026-05-04" = "open"} (policy/closures.py; issue 16
    #: item 6). Empty: the nation's bank holidays alone, as before.
    local_days: dict[str, LocalState] = Field(default_factory=dict, max_length=100)

    @field_validator("local_days")
    @classmethod
    def _local_days(cls, value: dict[str, LocalState]) -> dict[str, LocalState]:
        for text in value:
            LocalDays.parse(text)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class FirstResponse(_Section):
    """Working days allowed for the first response, by risk category."""

    high: int = Field(1, ge=1, le=30)
    medium: int = Field(3, ge=1, le=30)
    low: int = Field(5, ge=1, le=30)

    @model_validator(mode="after")
    def _ordered(self) -> FirstResponse:
        if not self.high <= self.medium <= self.low:
            raise ValueError("a higher risk cannot be given longer to respond: need high <= medium <= low")
        return self

    def for_risk(self, risk: Risk) -> int:
        return int(getattr(self, risk))


class Categories(_Section):
    """The taxonomy: what is investigated, what gets early support, what is routed elsewhere."""

    in_scope: list[str] = Field(min_length=1)
    early_support: list[str] = []
    not_asb: dict[str, str] = {}
    hate_strands: list[str] = Field(min_length=1)
    #: The not-ASB category whose noise becomes ASB at unreasonable hours (001 rec. 4).
    time_dependent: dict[str, str] = {}

    @model_validator(mode="after")
    def _disjoint(self) -> Categories:
        seen: dict[str, str] = {}
        for group, names in (
            ("in_scope", self.in_scope),
            ("early_support", self.early_support),
            ("not_asb", list(self.not_asb)),
        ):
            for name in names:
                if name in seen:
                    raise ValueError(f"category {name!r} is in both {seen[name]} and {group}")
                seen[name] = group
        for name, becomes in self.time_dependent.items():
            if name not in self.not_asb:
                raise ValueError(f"time_dependent category {name!r} must be listed in not_asb")
            if becomes not in self.in_scope:
                raise ValueError(f"time_dependent category {name!r} becomes {becomes!r}, which is not in_scope")
        return self

    @property
    def all(self) -> list[str]:
        return [*self.in_scope, *self.early_support, *self.not_asb]


class TriageRules(_Section):
    #: Incidents in a month that make a case persistent (medium) (003 §8 table).
    persistence_threshold: int = Field(8, ge=1)
    high_risk: list[str] = []
    medium_risk: list[str] = []
    #: The least risk given when the reporter faces a risk of harm.
    risk_of_harm_risk: Risk = "medium"
    #: Early support for a reporter who has not tried to resolve it and faces no risk of harm (004 §2.3).
    early_support_if_not_tried: bool = False
    #: Hours in which time-dependent noise (DIY) is reasonable; outside them it is ASB.
    reasonable_hours_start: time = time(8, 0)
    reasonable_hours_end: time = time(20, 0)


class EnquiryRules(_Section):
    length: Period = Period(4, "weeks")
    failed_contacts_before_letter: int = Field(2, ge=1)
    unable_to_contact_window: Period = Period(10, "working_days")


class CaseRules(_Section):
    investigation: Period = Period(2, "months")
    review_interval: Period = Period(1, "months")
    extra_monitoring: Period = Period(1, "months")
    inactivity: Period = Period(28, "days")
    #: How long after closing a manager may reopen a case (keeping its reference and history) rather
    #: than a new report opening a new one. No published policy sets it (issue 12 item 6); three months
    #: covers a recurrence soon after a closure for "no reports" or "ASB stopped" (003 stage 6).
    reopen_within: Period = Period(3, "months")

    @field_validator("reopen_within")
    @classmethod
    def _calendar_period(cls, value: Period) -> Period:
        if value.unit == "working_days":
            raise ValueError("reopen_within is a calendar period (days, weeks, months or years)")
        return value


class ContactRules(_Section):
    """How often the reporter is contacted: the default, and the least often allowed."""

    default_every: Period = Period(1, "months")
    least_frequent: Period = Period(1, "months")
    #: Whether `least_frequent` is the standard the landlord offers rather than a floor: a less frequent
    #: plan is then allowed when it is recorded as the reporter's own choice (never the officer's alone).
    #: 001 rec. 3 leaves frequency and method to the victim; 003 §9 ("at least once a month") does not.
    reporter_may_choose_less: bool = False
    #: "Unless you agree otherwise" has a limit: the least frequent contact a reporter may choose
    #: (issue 16 item 5). None: no limit beyond the command's own (a year). Needs reporter_may_choose_less.
    reporter_least_frequent: Period | None = None

    @model_validator(mode="after")
    def _default_within_minimum(self) -> ContactRules:
        if self.default_every.longest_days > self.least_frequent.longest_days:
            raise ValueError("default_every is less frequent than least_frequent allows")
        if self.reporter_least_frequent is not None:
            if not self.reporter_may_choose_less:
                raise ValueError("reporter_least_frequent needs reporter_may_choose_less = true")
            if self.reporter_least_frequent.longest_days < self.least_frequent.longest_days:
                raise ValueError(f"reporter_least_frequent ({self.reporter_least_frequent}) is more frequent than "
                                 f"least_frequent ({self.least_frequent}): it is how rarely a reporter may choose")
        return self


class CaseReviewRules(_Section):
    """The ASB Case Review ("Community Trigger") thresholds."""

    individual_incidents: int = Field(3, ge=1)
    group_incidents: int = Field(5, ge=1)
    hate_incidents: int = Field(5, ge=1)
    window: Period = Period(6, "months")
    hate_window: Period = Period(3, "months")
    last_incident_within: Period = Period(1, "months")
    complete_within: Period = Period(28, "days")
    #: How long after a case closes an application for a review of it is still accepted (the closure
    #: letters invite one). No seed sets a period after closure: 003 §10 accepts an application "at any
    #: time" where "the last reported incident is within 1 month of the application", and a closed case's
    #: last incident is at or before its closure, so 1 month (`last_incident_within`) is the default. The
    #: case workflow stays open, waiting, for this long after closure, then finishes (issue 11 item 10).
    apply_within_after_closure: Period = Period(1, "months")

    @model_validator(mode="after")
    def _calendar_periods(self) -> CaseReviewRules:
        # The thresholds are counted by the pure lifecycle, which has no working-day calendar.
        for name in ("window", "hate_window", "last_incident_within", "apply_within_after_closure"):
            if getattr(self, name).unit == "working_days":
                raise ValueError(f"case_review.{name} must be a calendar period (days, weeks, months or years)")
        return self


class Approvals(_Section):
    closure: StaffRole = "manager"
    legal_action: StaffRole = "manager"
    instruct_solicitors: StaffRole = "senior_manager"
    eviction: StaffRole = "senior_manager"
    #: Time a manager has to decide before the task is escalated.
    decide_within: Period = Period(5, "working_days")
    #: Who an undecided task goes to next.
    escalation_chain: list[StaffRole] = ["manager", "senior_manager"]


class Agency(_Section):
    """A partner agency the service refers people to: its kind (the allow-list) and its name."""

    kind: AgencyKind
    title: str = Field(min_length=1, max_length=200)


_AGENCY_TITLES: dict[AgencyKind, str] = {
    "victim_support": "Victim Support", "hate_crime_service": "a hate crime support service",
    "mental_health": "the community mental health team", "tenancy_sustainment": "Tenancy Sustainment",
    "safeguarding_adults": "Adult Social Care (safeguarding adults)",
    "safeguarding_children": "Children's Services (safeguarding children)", "police": "the police",
    "environmental_health": "Environmental Health",
}


class Referrals(_Section):
    """Referrals to partner agencies (003 §9 "referrals to other support agencies, as and when required";
    004 §3.3 support offer, §4.4 safeguarding, §6.1 Tenancy Sustainment)."""

    #: The agencies this service refers to, by id (the id a partner's token names in its `agency` claim).
    #: By default one of each kind, named by its kind; a landlord names its local agencies instead.
    agencies: dict[str, Agency] = {kind: Agency(kind=kind, title=title) for kind, title in _AGENCY_TITLES.items()}
    #: When a referral is followed up if the officer gives no date (not stated in the seeds: a product
    #: default, well inside 003 §9's monthly update to the reporter). Calendar units: the follow-up is a date.
    follow_up_after: Period = Period(2, "weeks")

    @field_validator("agencies")
    @classmethod
    def _agency_ids(cls, value: dict[str, Agency]) -> dict[str, Agency]:
        pattern = re.compile(AGENCY_ID_PATTERN)
        for agency in value:
            if not pattern.match(agency):
                raise ValueError(f"agency id {agency!r}: use lower-case letters, digits and _ (at most 32)")
        return value

    @field_validator("follow_up_after")
    @classmethod
    def _calendar_period(cls, value: Period) -> Period:
        if value.unit == "working_days":
            raise ValueError("give follow_up_after in days, weeks or months: a follow-up is a date")
        return value


#: A team's name as tasks and pages show it: short, lower case, no spaces ("asb", "housing").
TEAM_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class Allocation(_Section):
    """Who gives a new report its officer, and which team it goes to.

    003 §8: "Enquiries and cases will be allocated to the appropriate Team and Officer"; a report that
    arrives without an officer is the team manager's to allocate, within the first-response period
    (the officer must still make that first contact in time). 004 §3.1 routes by priority: Housing
    Officers "log and manage lower-level amber cases", ASB & Enforcement Officers "all ASB cases that
    include a red priority". Amber is this system's medium and low risk, red its high (004 §3.5), so
    LiveWest sets `team = "housing"` and `by_risk = { high = "asb_enforcement" }`.
    """

    #: Who allocates and reassigns cases (the team's manager): the allocation task is theirs, and an
    #: officer may not move a case, even their own, without them (003 §9: one point of contact "throughout").
    by: Literal["officer", "manager", "senior_manager"] = "manager"
    #: The team a new report goes to, unless `by_risk` names another for its risk.
    team: str = Field("asb", pattern=TEAM_PATTERN)
    by_risk: dict[Risk, str] = {}

    @field_validator("by_risk")
    @classmethod
    def _team_names(cls, value: dict[str, str]) -> dict[str, str]:
        for risk, team in value.items():
            if not re.fullmatch(TEAM_PATTERN, team):
                raise ValueError(f"{risk}: {team!r} is not a team name (lower case letters, digits and _)")
        return value

    def team_for(self, risk: Risk | None) -> str:
        """The team a report of this risk is allocated to."""
        return self.by_risk.get(risk, self.team) if risk is not None else self.team


class Retention(_Section):
    closed_cases: Period = Period(6, "years")


class RiskFactor(_Section):
    """One question of the risk matrix, scored from 0 (not at all) to `max`."""

    question: str = Field(min_length=1, max_length=200)
    max: int = Field(3, ge=1, le=10)
    #: A score at or above this makes the case high risk whatever the total: LiveWest's red
    #: "where harm has occurred" or "a risk of harm" (004 §3.5). None: only the total counts.
    high_at: int | None = Field(None, ge=1, le=10)

    @model_validator(mode="after")
    def _within_max(self) -> RiskFactor:
        if self.high_at is not None and self.high_at > self.max:
            raise ValueError(f"high_at {self.high_at} is above the factor's max {self.max}")
        return self


def _default_factors() -> dict[str, RiskFactor]:
    # The DOMAIN's "vulnerability / risk assessment" (000 "Supporting you"; 004 §3.4): the harm of the
    # 003 §8 table's urgent category, the persistence and impact of 003 §8 stage 3, and vulnerability (003 §10).
    return {
        "harm": RiskFactor(question="Has anyone been harmed or threatened, or is harm likely?", max=3, high_at=3),
        "persistence": RiskFactor(question="How often and for how long has it happened?", max=3),
        "impact": RiskFactor(question="How much is it affecting the reporter's life and the community?", max=3),
        "vulnerability": RiskFactor(question="How vulnerable is the reporter (health, disability, age, "
                                    "safeguarding)?", max=3),
    }


class ReviewEvery(_Section):
    """How soon a risk assessment is repeated, by the level it found (003 §8 stage 1: the action plan
    records "when a new risk assessment is due to be carried out"). Calendar periods only: the next
    assessment is a date, fixed when the assessment is recorded."""

    high: Period = Period(2, "weeks")
    medium: Period = Period(1, "months")
    low: Period = Period(1, "months")

    @model_validator(mode="after")
    def _calendar_periods(self) -> ReviewEvery:
        for level in ("high", "medium", "low"):
            if getattr(self, level).unit == "working_days":
                raise ValueError(f"{level}: give a calendar period (days, weeks, months), not working days")
        if not self.high.longest_days <= self.medium.longest_days <= self.low.longest_days:
            raise ValueError("a higher risk cannot be reassessed less often: need high <= medium <= low")
        return self

    def for_risk(self, risk: Risk) -> Period:
        value: Period = getattr(self, risk)
        return value


class RiskLabels(_Section):
    """What the landlord calls each level on its pages (LiveWest: red and amber, 004 §3.5)."""

    high: str = Field("high", min_length=1, max_length=32)
    medium: str = Field("medium", min_length=1, max_length=32)
    low: str = Field("low", min_length=1, max_length=32)


class RiskMatrix(_Section):
    """The risk assessment's questions and how their scores give a level (000 "Supporting you";
    003 §8 stage 3; 004 §3.4 and Appendix 2). The level is the highest of: a factor at its `high_at`,
    the total against `high_from` and `medium_from`, and the floor for a vulnerable reporter."""

    factors: dict[str, RiskFactor] = Field(default_factory=_default_factors, min_length=1, max_length=12)
    #: The least total score that is medium risk, and the least that is high risk.
    medium_from: int = Field(4, ge=1)
    high_from: int = Field(8, ge=1)
    #: The least risk of a case whose reporter carries a vulnerability flag (003 §10; 004 §3.4).
    vulnerable_reporter: Risk = "medium"
    review_every: ReviewEvery = ReviewEvery()
    labels: RiskLabels = RiskLabels()

    @field_validator("factors")
    @classmethod
    def _factor_ids(cls, value: dict[str, RiskFactor]) -> dict[str, RiskFactor]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"factor id {name!r}: use lower-case letters, digits and _ (at most 32)")
        return value

    @model_validator(mode="after")
    def _thresholds(self) -> RiskMatrix:
        most = sum(f.max for f in self.factors.values())
        if not self.medium_from < self.high_from <= most:
            raise ValueError(f"need medium_from < high_from <= the highest total ({most}); "
                             f"got {self.medium_from} and {self.high_from}")
        return self

    @property
    def highest_total(self) -> int:
        return sum(f.max for f in self.factors.values())

    def label(self, risk: Risk) -> str:
        return str(getattr(self.labels, risk))


#: A priority's or a milestone's id as the profile names it ("p1", "red", "initial_response").
PRIORITY_ID_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
#: Where a milestone is measured from: the report, or an earlier milestone of the same priority.
REPORT = "report"


class Milestone(_Section):
    """One step a standard promises for a priority, with its own deadline (issue 16 item 2): "an initial
    response within one working day; an interview and assessment within two; the lead officer contacts
    the reporter within two working days of the referral". Measured from the report or from an earlier
    milestone being met; met by `record_milestone`; missed, a breach (unless `breach = false`) with an
    overdue task for `tells`."""

    title: str = Field(min_length=1, max_length=120)
    within: Period
    #: "report", or the id of an earlier milestone of the same priority.
    after: str = REPORT
    breach: bool = True
    #: Who gets the overdue task when it is missed: the case's officer, or a role of the chain.
    tells: StaffRole = "officer"
    #: Who is also told when it is missed (a notification, no task of their own): none by default.
    notify: StaffRole | None = None


class Priority(_Section):
    """One of the landlord's own priorities (issue 16 item 3): its name, its first-response time, the
    risk level its cases are handled as elsewhere (allocation, letters, the risk matrix), the landlord's
    own categories it takes whatever their risk, and its milestones."""

    title: str = Field(min_length=1, max_length=60)
    #: The first response's deadline for this priority ("1 working day", "14 working days").
    respond_within: Period
    #: The risk level a case of this priority is treated as; triage's risk maps a report onto the most
    #: serious priority with that risk (or the nearest level below it, then above, when none has it).
    risk: Risk
    #: Categories that take this priority whatever their risk (domestic abuse as most serious).
    categories: list[str] = []
    milestones: dict[str, Milestone] = Field(default_factory=dict, max_length=12)

    @field_validator("milestones")
    @classmethod
    def _milestone_order(cls, value: dict[str, Milestone]) -> dict[str, Milestone]:
        seen: list[str] = []
        for name, milestone in value.items():
            if not re.fullmatch(PRIORITY_ID_PATTERN, name):
                raise ValueError(f"milestone id {name!r}: use lower-case letters, digits and _ (at most 32)")
            if milestone.after != REPORT and milestone.after not in seen:
                raise ValueError(f"milestone {name!r} is measured after {milestone.after!r}, which is not an "
                                 f"earlier milestone of this priority (use 'report' or one of: "
                                 f"{', '.join(seen) or 'none yet'})")
            seen.append(name)
        return value


class Targets(_Section):
    """Targets the landlord reports against, never deadlines: no breach, no task (issue 16 item 4)."""

    #: "We aim to resolve the majority of cases within 45 working days": the case's age is shown
    #: against it, and the share of cases closed within it reported.
    resolve_within: Period | None = None
    #: The share of cases the target promises within it, in percent ("the majority": more than 50).
    resolve_share_percent: int = Field(50, ge=1, le=100)


class Reporting(_Section):
    """The landlord's figures the regulatory returns divide by, and the closure survey's scale.

    `homes`: the number of homes the landlord owns, the denominator of the Tenant Satisfaction Measure
    NM01 ("per 1,000 homes"); unset, NM01 is refused rather than guessed. The survey answers count for
    TP12 as the Regulator's scale does: satisfied is "very" or "fairly" satisfied (003 §13, 002 §3.3)."""

    homes: int | None = Field(None, ge=1, le=10_000_000)
    #: How long a survey link stays usable after its letter.
    survey_link_valid_days: int = Field(90, ge=1, le=730)




#: What happens to a task that a member of staff is told of (workflows/tasks.py; issue 14 item 1).
TaskEvent = Literal["created", "reminded", "escalated", "breached"]
#: Who is told: "holder" is the person the task is for (whoever claimed it; else, for an officer's task,
#: the case's officer), falling back to the role's mailbox; "mailbox" is always the role's mailbox, and
#: "nobody" turns the notice off.
NoticeTo = Literal["holder", "mailbox", "nobody"]


class StaffNotices(_Section):
    """Who of the landlord's staff is told what (issue 14 item 1 "Staff are told"; 003 §9 and 004 §3.1:
    cases are managed to their deadlines). The addresses are not here: a person's email is the staff
    directory's (the delivery settings' `[officers.ID] email`), a role's mailbox the delivery settings'
    `[staff.mailboxes]`. A notice names only the case reference and the task (its kind, when it is due,
    a link), never a party."""

    #: For each task event, who is told. A task no one holds yet goes to its role's mailbox; an escalated
    #: task is told to the role it went up to, a breached one to the top of its chain.
    created: NoticeTo = "holder"
    reminded: NoticeTo = "holder"
    escalated: NoticeTo = "mailbox"
    breached: NoticeTo = "mailbox"
    #: Each member of staff gets, on each working day, the deadlines of their cases and tasks falling in
    #: the next `digest_working_days` working days (the profile's nation calendar).
    digest: bool = True
    digest_working_days: int = Field(5, ge=1, le=20)

    def to(self, event: TaskEvent) -> NoticeTo:
        """Who is told of `event`."""
        value: NoticeTo = getattr(self, event)
        return value


class Profile(_Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    source: str = ""
    calendar: CalendarRules = CalendarRules()
    first_response: FirstResponse = FirstResponse()
    categories: Categories
    triage: TriageRules = TriageRules()
    enquiry: EnquiryRules = EnquiryRules()
    case: CaseRules = CaseRules()
    contact: ContactRules = ContactRules()
    case_review: CaseReviewRules = CaseReviewRules()
    approvals: Approvals = Approvals()
    referrals: Referrals = Referrals()
    allocation: Allocation = Allocation()
    retention: Retention = Retention()
    risk_matrix: RiskMatrix = RiskMatrix()
    #: The landlord's own priorities, most serious first (issue 16 item 3). Empty: `first_response` by risk.
    priorities: dict[str, Priority] = Field(default_factory=dict, max_length=8)
    targets: Targets = Targets()
    reporting: Reporting = Reporting()
    notifications: StaffNotices = StaffNotices()

    @model_validator(mode="after")
    def _priorities_cover_triage(self) -> Profile:
        if not self.priorities:
            return self
        owner: dict[str, str] = {}
        known = {*self.categories.in_scope, *self.categories.early_support}
        longest = 0
        for pid, priority in self.priorities.items():
            if not re.fullmatch(PRIORITY_ID_PATTERN, pid):
                raise ValueError(f"priorities: id {pid!r}: use lower-case letters, digits and _ (at most 32)")
            for name in priority.categories:
                if name not in known:
                    raise ValueError(f"priorities.{pid}.categories: {name!r} is not an in_scope or early_support "
                                     "category")
                if name in owner:
                    raise ValueError(f"priorities.{pid}.categories: {name!r} is already priority {owner[name]!r}")
                owner[name] = pid
            if priority.respond_within.longest_days < longest:
                raise ValueError(f"priorities.{pid}: a less serious priority (listed later) cannot be answered "
                                 "sooner than a more serious one: list them most serious first")
            longest = priority.respond_within.longest_days
        return self

    def priority_for(self, category: str, risk: Risk | None) -> str | None:
        """The landlord's priority of a report: the more serious of its category's own priority and the
        most serious priority of its risk (None: no priorities, or not triaged yet)."""
        if not self.priorities:
            return None
        order = list(self.priorities)
        found = [pid for pid, p in self.priorities.items() if category in p.categories]
        if risk is not None:
            found.append(self._priority_of_risk(risk))
        return min(found, key=order.index) if found else None

    def _priority_of_risk(self, risk: Risk) -> str:
        """The most serious priority of this risk level; without one, of the nearest level below it (a
        standard with only "most serious" and "standard" answers low risk as standard), else above."""
        rank = RISK_ORDER[risk]
        levels = sorted(RISK_ORDER, key=lambda r: (RISK_ORDER[r] > rank, abs(RISK_ORDER[r] - rank)))
        for level in levels:
            for pid, priority in self.priorities.items():
                if priority.risk == level:
                    return pid
        raise AssertionError("priorities is not empty")

    @model_validator(mode="after")
    def _risk_lists_in_scope(self) -> Profile:
        for field in ("high_risk", "medium_risk"):
            for name in getattr(self.triage, field):
                if name not in self.categories.in_scope:
                    raise ValueError(f"triage.{field}: {name!r} is not an in_scope category")
        return self
