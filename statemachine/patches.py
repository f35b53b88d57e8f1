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
#: An incident carries who reported it and a reference to its details in the case file, and violence,
#: threats or an injury make the case high risk, as at triage (003 §8 table, §12; issue 12 item 1).
INCIDENT_DETAILS = "incident-details"
#: A report attached to an open case is acknowledged as such, and a case closed as a duplicate of a live
#: one sends no closure letter (the Regulator's NM01 counting rule; issue 12 item 6).
LINKED_REPORTS = "linked-reports"
#: A closed case waits the profile's `case.reopen_within` for a manager to reopen it (issue 12 item 6).
REOPEN_CASE = "reopen-case"

PATCHES: tuple[str, ...] = (ENQUIRY_EXPIRY_DECISION, CONTACT_FROM_CONVERSION, OFFICER_PROMPTS, SUPPORT_MOVES_NOTHING,
                            LEGAL_APPROVER_BY_FACT, CASE_REVIEW_28_DAYS, TELL_THE_POLICE, NOT_ASB_REFERRAL,
                            INCIDENT_DETAILS, LINKED_REPORTS, REOPEN_CASE)
#: Every change in force: what a new case runs on.
ALL: frozenset[str] = frozenset(PATCHES)

#: Tasks answered by a case command rather than on the task itself; each carries its kind as its
#: pseudo-approval id, and the case tells the task when a command answered it.
ENQUIRY_DECISION = "enquiry_decision"
CONSIDER_CLOSURE = "consider_closure"
TELL_POLICE = "tell_police"
ANSWERED_ON_THE_CASE: frozenset[str] = frozenset({ENQUIRY_DECISION, CONSIDER_CLOSURE, TELL_POLICE})
