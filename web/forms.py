"""Turning the case commands' argument models into HTML forms, and form posts back into arguments.

The forms are generated from the command specs (statemachine/catalogue.py), the same models the API validates with, so a
page offers exactly the arguments a command takes and nothing the case would refuse as malformed.
Posted values are plain strings; they become typed arguments here and are then checked by the same
Service.check_args as the API's, so the 422 rules are one place.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args, get_origin
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from api.service import InputError
from policy.model import RiskMatrix
from statemachine.catalogue import COMMANDS

#: A form post is a handful of short fields and at most one long text (10,000 characters). Kept under
#: the API's own body limit (64 KiB), so a too-large form gets this page's answer, not a JSON one.
MAX_FORM_BYTES = 60 * 1024
MAX_FIELDS = 80


FIELD_LABELS: dict[str, str] = {
    "occurred_at": "When did it happen?",
    "category": "Category",
    "hate": "It was a hate incident",
    "outcome": "Outcome",
    "method": "How",
    "level": "Risk level",
    "contact_every_days": "Contact every (days)",
    "contact_method": "Contact method",
    "reason": "Reason",
    "risk": "New risk level",
    "decision": "Decision",
    "kind": "Kind",
    "note": "Note (kept in the case file)",
    "applicant": "Who applied",
    "source": "Where was it reported?",
    "emergency": "Emergency",
    "officer": "Officer id",
    "next_assessment_due": "Next risk assessment due (leave blank for the standard interval)",
    "what": "What is to be done (kept in the case file)",
    "who": "Who does it: officer, reporter, or the partner agency (for example police)",
    "due": "By when",
    "action": "Action (its number on the plan, for example A1)",
    "step": "The legal step it is made for",
    "considered": "Protected characteristics or vulnerabilities considered (kept in the case file)",
    "adjustments": "Adjustments or support offered (kept in the case file)",
    "conclusion": "Is the action proportionate?",
}

#: Arguments a door sets from the case file, never offered on a form (clients.caseclient.with_case_file_facts).
DOOR_SET: frozenset[str] = frozenset({"reporter_vulnerable"})
#: Arguments kept for older scenario files only: the pages offer today's form (the risk matrix, not a level).
OLD_FORMS: frozenset[tuple[str, str]] = frozenset({("record_risk_assessment", "level")})


#: Where one command's argument needs its own words (the label said on every other form is FIELD_LABELS's).
COMMAND_FIELD_LABELS: dict[tuple[str, str], str] = {
    ("assign_officer", "reason"): "Why it moves to another officer (needed when it has one; kept in the case file)",
}


#: Free-form string arguments offered as a choice on the pages (the API still accepts any short text).
CONTACT_METHODS = [("phone", "Phone"), ("visit", "Visit"), ("email", "Email"), ("sms", "Text message"),
                   ("letter", "Letter")]
#: Where an incident was reported (statemachine.commands.IncidentSource): the applicant's reports to other
#: agencies count toward an ASB Case Review (003 §10).
INCIDENT_SOURCE_OPTIONS = [("case", "To us"), ("police", "To the police"), ("council", "To the council"),
                           ("landlord", "To another landlord")]

FIELD_OPTIONS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("record_contact", "method"): CONTACT_METHODS,
    ("agree_action_plan", "contact_method"): CONTACT_METHODS,
    ("record_incident", "source"): INCIDENT_SOURCE_OPTIONS,
}


def humanise(value: str) -> str:
    text = str(value).replace("_", " ").capitalize()
    return " ".join("ASB" if w.lower() == "asb" else "SMS" if w.lower() == "sms" else w for w in text.split(" "))


#: Each command's form heading, from its spec in the case catalogue.
COMMAND_TITLES: dict[str, str] = {name: spec.title or humanise(name) for name, spec in COMMANDS.items()}


@dataclass
class FormField:
    name: str
    label: str
    kind: Literal["radios", "select", "checkbox", "checkboxes", "number", "date", "datetime", "text", "textarea"]
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    default: str | None = None

    @property
    def id(self) -> str:
        return self.name.replace(".", "-").replace("_", "-")


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside Optional[...], and whether None was allowed."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return (inner[0] if len(inner) == 1 else annotation), True
    return annotation, False


def matrix_fields(name: str, matrix: RiskMatrix) -> list[FormField]:
    """A dict of scores as one question per factor of the profile's risk matrix, each scored 0 to its max
    (004 §3.4 "a risk assessment matrix"): posted as `scores.<factor>`."""
    return [FormField(f"{name}.{factor}", spec.question, "radios", True,
                      [(str(i), f"{i} (none)" if i == 0 else f"{i} (most)" if i == spec.max else str(i))
                       for i in range(spec.max + 1)])
            for factor, spec in matrix.factors.items()]


def command_fields(command: str, categories: list[str], matrix: RiskMatrix | None = None) -> list[FormField]:
    """The inputs for one command, from its argument model (the `*_ref` fields are the API's own; a dict
    of scores becomes one input per factor of `matrix`, the profile's risk matrix)."""
    fields: list[FormField] = []
    spec = COMMANDS[command]
    text_field = spec.free_text
    for name, info in spec.args.model_fields.items():
        if name.endswith("_ref") or name in DOOR_SET or (command, name) in OLD_FORMS:
            continue
        annotation, optional = _unwrap(info.annotation)
        required = info.is_required()
        label = COMMAND_FIELD_LABELS.get((command, name)) or FIELD_LABELS.get(name, humanise(name))
        # A required field has no default (pydantic's PydanticUndefined, never shown as text in a box).
        default = None if required or info.default in (None, ...) else str(info.default)
        if get_origin(annotation) is dict:
            if matrix is None:
                raise ValueError(f"{command}.{name}: a dict of scores needs the profile's risk matrix")
            fields.extend(matrix_fields(name, matrix))
        elif (command, name) in FIELD_OPTIONS:
            fields.append(FormField(name, label, "radios", True, FIELD_OPTIONS[(command, name)], default))
        elif name == text_field or (name in spec.kept and annotation is str):
            fields.append(FormField(name, label, "textarea", required or spec.verdict == "rejected"))
        elif get_origin(annotation) is list and get_origin(get_args(annotation)[0]) is Literal:
            options = [(str(v), humanise(str(v))) for v in get_args(get_args(annotation)[0])]
            fields.append(FormField(name, label, "checkboxes", required, options))
        elif get_origin(annotation) is Literal:
            options = [(str(v), humanise(str(v))) for v in get_args(annotation)]
            fields.append(FormField(name, label, "radios" if len(options) <= 4 else "select", required,
                                    options, default))
        elif annotation is bool:
            fields.append(FormField(name, label, "checkbox", False))
        elif annotation is int:
            fields.append(FormField(name, label, "number", required, default=default))
        elif annotation is date:  # before datetime: a date's type is named datetime.date
            fields.append(FormField(name, label, "date", required))
        elif annotation is datetime or "datetime" in str(annotation).lower():
            fields.append(FormField(name, label, "datetime", required))
        elif name == "category":
            fields.append(FormField(name, label, "select", required and not optional,
                                    [("", "The case's category")] + [(c, humanise(c)) for c in categories]))
        else:
            fields.append(FormField(name, label, "text", required, default=default))
    return fields


def parse_form(body: bytes) -> dict[str, str]:
    """An urlencoded body, bounded; the last value of a repeated field wins (no field repeats here)."""
    if len(body) > MAX_FORM_BYTES:
        raise InputError(None, "the form is too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS,
                          strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(None, "the form could not be read") from exc
    return {k: v[-1] for k, v in parsed.items()}


def local_time(value: str, zone: str, name: str) -> str:
    """A datetime-local value ("2026-03-01T22:30") in the landlord's time zone, as an aware ISO time."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(name, f"{name}: enter a date and time, like 2026-03-01 22:30") from exc
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=ZoneInfo(zone))
    return naive.isoformat()


def command_args(command: str, form: dict[str, str], categories: list[str], zone: str,
                 matrix: RiskMatrix | None = None) -> dict[str, Any]:
    """The command's arguments from a form post: blank optional fields are left out; `scores.<factor>`
    fields become one dict of whole numbers."""
    args: dict[str, Any] = {}
    for spec in command_fields(command, categories, matrix):
        if spec.kind == "checkboxes":  # one box per choice, posted as `<name>.<choice>`
            chosen = [value for value, _ in spec.options if form.get(f"{spec.name}.{value}")]
            if chosen:
                args[spec.name] = chosen
            elif spec.required:
                raise InputError(spec.name, f"{spec.label}: choose at least one")
            continue
        raw = form.get(spec.name, "").strip()
        if spec.kind == "checkbox":
            if raw:
                args[spec.name] = True
            continue
        if not raw:
            if spec.required:
                raise InputError(spec.name, f"{spec.label}: enter a value")
            continue
        if "." in spec.name:  # one factor of a dict of scores
            group, _, key = spec.name.partition(".")
            if not raw.isdigit():
                raise InputError(spec.name, f"{spec.label}: choose a score")
            args.setdefault(group, {})[key] = int(raw)
        elif spec.kind == "number":
            try:
                args[spec.name] = int(raw)
            except ValueError as exc:
                raise InputError(spec.name, f"{spec.label}: enter a whole number") from exc
        elif spec.kind == "date":
            try:
                args[spec.name] = date.fromisoformat(raw).isoformat()
            except ValueError as exc:
                raise InputError(spec.name, f"{spec.label}: enter a date, like 2026-04-01") from exc
        elif spec.kind == "datetime":
            args[spec.name] = local_time(raw, zone, spec.name)
        else:
            args[spec.name] = raw
    return args


#: What to say, in the design system's words, when a report form's field is missing or malformed.
FRIENDLY: dict[str, str] = {
    "category": "Select what kind of behaviour it is",
    "incident.occurred_at": "Enter when it last happened, for example 1 March 2026 22:30",
    "reporter.email": "Enter an email address in the correct format, like name@example.com",
    "reporter.phone": "Enter a phone number, like 01632 960 001 or 07700 900 982",
    "reporter.name": "Enter your full name, or choose to report anonymously",
    "incidents_last_month": "Enter how many times it happened in the last month, as a number",
}


def errors_of(exc: ValidationError) -> list[tuple[str | None, str]]:
    """Each problem as (field name, message) for the error summary; a rule about the whole report
    ("reporter.name is required unless ...") is pinned to the field it names."""
    out: list[tuple[str | None, str]] = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if not loc:
            named = re.match(r"^(reporter\.[a-z_]+|incident\.[a-z_]+)", message)
            loc = named.group(1).split(".") if named else []
            out.append((".".join(loc) or None, message[0].upper() + message[1:]))
            continue
        name = ".".join(loc)
        out.append((name, FRIENDLY.get(name) or f"{humanise(loc[-1])}: {message}"))
    return out


# --------------------------------------------------------------------------------------------- evidence

#: What an officer calls each kind of evidence (casefile/evidence.py KINDS), in the order the form offers them.
EVIDENCE_KINDS: dict[str, str] = {
    "photo": "Photo", "recording": "Recording (sound or video)", "diary_sheet": "Diary sheet",
    "letter": "Letter", "cctv_still": "CCTV still", "document": "Other document", "other": "Something else",
}
#: The case page's upload form: the file, four short fields, the CSRF token and the Idempotency-Key.
EVIDENCE_FORM_FIELDS = 8


def file_size(size: int) -> str:
    """A size as people read it: 812 bytes, 34 KB, 1.2 MB (1 KB = 1,024 bytes)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def sentence(text: str) -> str:
    """A service message as a sentence on a page: capital first letter."""
    return text[:1].upper() + text[1:]


def accepted_files(media_types: frozenset[str], max_bytes: int) -> str:
    """The upload's hint, from the deployment's own list and limit: "Photos, recordings, PDFs, Word
    documents or plain text, up to 25 MB"."""
    groups = [("Photos", ("image/",)), ("recordings", ("audio/", "video/")), ("PDFs", ("application/pdf",)),
              ("Word documents", ("application/vnd.openxmlformats",)), ("plain text", ("text/plain",))]
    names = [name for name, prefixes in groups if any(t.startswith(prefixes) for t in media_types)]
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
    return sentence(f"{listed}, up to {file_size(max_bytes)}")


# --------------------------------------------------------------------------------------------- tasks

#: The case commands that answer each task kind answered on the case (statemachine/patches.py
#: ANSWERED_ON_THE_CASE; the catalogue's handlers say which command tells the task). Such a task
#: refuses "done" on the task itself, so the inbox links to these forms on the case page instead.
ANSWERED_BY: dict[str, tuple[str, ...]] = {
    "enquiry_decision": ("convert_to_case", "close_enquiry"),   # 003 stage 1 (decide_enquiry)
    "consider_closure": ("request_closure", "record_case_review"),  # 003 stage 3 (answer_closure_prompt)
    "tell_police": ("record_police_report",),                   # 004 §3.5 (tell_the_police)
    "allocation": ("assign_officer",),                          # 003 §8, §9
    "risk_review": ("record_risk_assessment",),                 # 003 §8 stage 1
    "action_overdue": ("complete_action", "change_action"),     # 003 stage 1; 004 §3.8
    "equality_review": ("record_equality_assessment",),         # new information with legal action open
    "referral_follow_up": ("record_referral_outcome",),         # 003 §9; 004 §3.3
}


def answering_commands(kind: str) -> list[tuple[str, str]]:
    """(command, title) of the case actions that answer a task of this kind; empty for a task decided on
    the task itself (an approval, or a prompt marked done)."""
    return [(c, COMMAND_TITLES.get(c, humanise(c))) for c in ANSWERED_BY.get(kind.split(":", 1)[0], ())]


# --------------------------------------------------------------------------------------------- notes

#: A typed note's kinds (casefile/notes.py NoteKind) as an officer names them, in the form's order.
NOTE_KINDS: dict[str, str] = {
    "call": "Phone call", "visit": "Visit", "interview": "Interview", "meeting": "Meeting",
    "multi_agency_meeting": "Multi-agency meeting", "request_for_information": "Request for information",
    "other": "Something else",
}
#: How many people on the case the note form offers to tick (casefile/notes.py allows 50 in all).
MAX_NOTE_PEOPLE = 49
NOTE_TEXT_LIMIT = 10000


def note_body(form: dict[str, str], zone: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The case page's note form as the API's JSON body (casefile/notes.py NoteInput), and the problems
    in GOV.UK's own words, all at once, for the mistakes people make (no kind chosen, nothing written, a
    date that is not one, a role with nobody). The model still judges the body (lengths, dates)."""
    problems: list[tuple[str, str]] = []
    kind = form.get("kind", "")
    if kind not in NOTE_KINDS:
        problems.append(("kind", "Select what kind of note it is"))
    text = form.get("text", "").strip()
    if not text:
        problems.append(("text", "Enter what happened"))
    elif len(text) > NOTE_TEXT_LIMIT:
        problems.append(("text", "The note must be 10,000 characters or fewer"))
    body: dict[str, Any] = {"kind": kind, "text": text}
    at = form.get("at", "").strip()
    if at:
        try:
            body["at"] = local_time(at, zone, "at")
        except InputError:
            problems.append(("at", "Enter when it happened as a date and time, for example 1 March 2026 10:30"))
    people: list[dict[str, str]] = []
    for index in range(1, MAX_NOTE_PEOPLE + 1):
        person = form.get(f"person.{index}", "").strip()
        if person:
            people.append({"person_id": person})
    other = {k: form.get(f"other.{k}", "").strip() for k in ("name", "organisation", "role")}
    if other["role"] and not (other["name"] or other["organisation"]):
        problems.append(("other.name", "Enter the name or the organisation of the person whose role you gave"))
    if other["name"] or other["organisation"]:
        people.append({k: v for k, v in other.items() if v})
    if people:
        body["people"] = people
    return body, problems
