"""Behaviour changes to the lifecycle, each behind `workflow.patched(name)`.

The case workflow asks Temporal once per run which of these are in force and hands them to the
(pure) lifecycle as `Lifecycle.patches`, so a case recorded before a change replays on its old path
and keeps the old rule until it continues as new. Guards, effects and due times in the catalogue
(statemachine/catalogue.py) read them from there; nothing else decides which rule a case runs on.

Append only: a name, once shipped, stays (an older history may need it to replay).
"""

from __future__ import annotations

#: An enquiry at 4 weeks that was not worked (high risk, hate, reporter never reached) needs the
#: officer's decision instead of closing itself (003 stage 1; issue 11 item 4).
ENQUIRY_EXPIRY_DECISION = "enquiry-expiry-decision"
#: The monthly contact clock starts at the first response or conversion, not only at a contact made (003 §9).
CONTACT_FROM_CONVERSION = "contact-from-conversion"
#: A missed contact tasks the officer and tells the manager; 28 quiet days is a prompt (003 §9, stage 3).
OFFICER_PROMPTS = "officer-prompts"
#: A support referral is offered at any stage and moves no stage (003 §9; 004 §3.3).
SUPPORT_MOVES_NOTHING = "support-moves-nothing"
#: A court remedy needs the senior approver only when solicitors are instructed (004 §3.12).
LEGAL_APPROVER_BY_FACT = "legal-approver-by-fact"
#: An ASB Case Review not completed within 28 days is a breach, not a second 28 days (004 §8).
CASE_REVIEW_28_DAYS = "asb-case-review-28-days"
#: A hate incident gives the officer a task to tell the police (004 §3.5).
TELL_THE_POLICE = "tell-the-police"
#: A report routed to another service records the referral itself (003 §4).
NOT_ASB_REFERRAL = "not-asb-referral"
#: The risk assessment is the profile's matrix: its level raises the case's risk, a vulnerable reporter's
#: case is at least the matrix's floor, and the next assessment is a `risk_review` deadline that tasks the
#: officer (000 "Supporting you"; 003 §8 stage 1, §10; 004 §3.4, §3.5; issue 12 item 4).
RISK_MATRIX = "risk-matrix"

#: A report without an officer gets an allocation task for the team's manager, due within the first-response
#: period; allocating and reassigning are the manager's, and a reassignment keeps its reason (003 §8; 004 §3.1).
ALLOCATION_TASK = "allocation-task"

#: An application for an ASB Case Review about a closed case is accepted within the profile's
#: `case_review.apply_within_after_closure` of its closure (the closure letters invite one), with the
#: applicant's reports to other agencies recorded on it; the case workflow stays open, waiting, until
#: that period has passed and no review is under way (003 §10; issue 11 item 10).
CASE_REVIEW_AFTER_CLOSURE = "asb-case-review-after-closure"
#: An incident carries where it was reported (the case, the police, the council, another landlord), and
#: the ASB Case Review thresholds count the applicant's reports to any of them from the first (003 §10).
INCIDENT_SOURCES = "incident-sources"
#: The manager who approved a case's closure may not review it (004 §8: "an independent ASB expert").
INDEPENDENT_REVIEWER = "independent-case-reviewer"
#: A support referral is a referral (make_referral: the agency, the consent, a follow-up), no longer an
#: intervention without either: `start_intervention support_referral` is refused, naming make_referral
#: (003 §9; 004 §3.3; issue 12 item 8). make_referral and record_referral_outcome are new commands and
#: the referral follow-up is due only once a referral exists, so older histories never meet them.
REFERRALS_RECORDED = "referrals-recorded"

#: The action plan is a list of actions, versioned; each version is the letter's (003 stage 1; 004 §3.8).
ACTION_PLAN_VERSIONS = "action-plan-versions"
#: An Equality Act assessment before each legal step and after new information (004 §6.4; 003 §16).
EQUALITY_AT_EACH_STEP = "equality-at-each-step"

#: An incident carries who reported it and a reference to its details in the case file, and violence,
#: threats or an injury make the case high risk, as at triage (003 §8 table, §12; issue 12 item 1).
INCIDENT_DETAILS = "incident-details"
#: A report attached to an open case is acknowledged as such, and a case closed as a duplicate of a live
#: one sends no closure letter (the Regulator's NM01 counting rule; issue 12 item 6).
LINKED_REPORTS = "linked-reports"
#: A closed case waits the profile's `case.reopen_within` for a manager to reopen it (issue 12 item 6),
#: as well as any ASB Case Review application window (CASE_REVIEW_AFTER_CLOSURE): one wait, to the later.
REOPEN_CASE = "reopen-case"

#: A deadline of N working days from a moment (a contact, a review) is the end of the Nth working day, not
#: the day after: the receipt convention is applied once, to the start (policy/calendar.py; issue 16 item 1).
WORKING_DAYS_ONCE = "working-days-once"
#: A case's report is received when its door took it (StartArgs.received), not when its workflow started: a
#: start delayed by a Temporal outage (the reconciler starts it later) or a loaded worker no longer moves
#: the first-response deadline and every deadline counted from receipt (003 §8; 004 §3.1).
RECEIVED_AT_THE_DOOR = "received-at-the-door"

PATCHES: tuple[str, ...] = (ENQUIRY_EXPIRY_DECISION, CONTACT_FROM_CONVERSION, OFFICER_PROMPTS, SUPPORT_MOVES_NOTHING,
                            LEGAL_APPROVER_BY_FACT, CASE_REVIEW_28_DAYS, TELL_THE_POLICE, NOT_ASB_REFERRAL,
                            CASE_REVIEW_AFTER_CLOSURE, INCIDENT_SOURCES, INDEPENDENT_REVIEWER,
                            ALLOCATION_TASK, RISK_MATRIX, ACTION_PLAN_VERSIONS, EQUALITY_AT_EACH_STEP,
                            REFERRALS_RECORDED, INCIDENT_DETAILS, LINKED_REPORTS, REOPEN_CASE,
                            WORKING_DAYS_ONCE, RECEIVED_AT_THE_DOOR)
#: Every change in force: what a new case runs on.
ALL: frozenset[str] = frozenset(PATCHES)

#: Tasks answered by a case command rather than on the task itself; each carries its kind as its
#: pseudo-approval id, and the case tells the task when a command answered it.
ENQUIRY_DECISION = "enquiry_decision"
CONSIDER_CLOSURE = "consider_closure"
TELL_POLICE = "tell_police"
#: Answered by assign_officer.
ALLOCATION = "allocation"
#: The next risk assessment is due: answered by record_risk_assessment.
RISK_REVIEW = "risk_review"
#: An action of the plan passed its date undone; answered by completing it or agreeing a new date. Each
#: carries `action_overdue:<action id>` as its pseudo-approval id (`action_task_id`).
ACTION_OVERDUE = "action_overdue"
#: New information reached a case with legal action open; answered by a new Equality Act assessment.
EQUALITY_REVIEW = "equality_review"
#: A referral's follow-up task: one per referral, so its pseudo-approval id names the referral
#: (`referral_follow_up:referral-3`); recording the referral's outcome answers it.
REFERRAL_FOLLOW_UP = "referral_follow_up"
ANSWERED_ON_THE_CASE: frozenset[str] = frozenset({ENQUIRY_DECISION, CONSIDER_CLOSURE, TELL_POLICE, ALLOCATION,
                                                  RISK_REVIEW, ACTION_OVERDUE, EQUALITY_REVIEW, REFERRAL_FOLLOW_UP})


def action_task_id(action: str) -> str:
    """The pseudo-approval id of the overdue task of one action: several may be open at once."""
    return f"{ACTION_OVERDUE}:{action}"


def follow_up_approval(referral_id: str) -> str:
    """The pseudo-approval id of a referral's follow-up task."""
    return f"{REFERRAL_FOLLOW_UP}:{referral_id}"


def answered_on_the_case(approval: str) -> bool:
    """Whether a task standing for `approval` is answered by a command on the case (the case then tells
    the task): one of the kinds above, alone or naming its item (`action_overdue:A1`,
    `referral_follow_up:referral-3`)."""
    return approval.split(":", 1)[0] in ANSWERED_ON_THE_CASE


#: Asked by the task workflow (workflows/tasks.py), not the lifecycle, so it is not in PATCHES: a task
#: created, reminded, escalated or breached tells its holder or its role's mailbox, once, through the
#: `notify_staff` activity (issue 14 item 1 "Staff are told"). Tasks recorded before it replay silent.
TASK_NOTICES = "staff-task-notices"
