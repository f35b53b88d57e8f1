"""The case catalogue is the one place for each command and each deadline kind (issue 10 items 1, 2, 7):
a command or a deadline kind that appears anywhere without a spec fails here."""

from __future__ import annotations

import ast
import importlib.util
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from asb.client_cli import commands_help
from asb.scenario import CASE_FILE_STEPS
from clients.taskclient import APPROVAL_COMMANDS
from diagrams.lifecycle import TIMER_EVENTS
from policy.model import Profile
from profiles import load
from statemachine.catalogue import (
    ALIASES,
    BREACH_DEADLINES,
    COMMANDS,
    DEADLINES,
    REPORT_COMMAND,
    STAGE_MOVES,
    approval_commands,
    args_model,
    command_table,
    deadline_table,
)
from statemachine.commands import OPEN_STAGES, Actor, ReportArgs
from statemachine.deadlines import calendar_for, open_deadlines
from statemachine.facts import PlannedAction, ReferralFact
from statemachine.lifecycle import Lifecycle
from statemachine.patches import ANSWERED_ON_THE_CASE

ROOT = Path(__file__).resolve().parent.parent
CODE = ("activities", "api", "asb", "casefile", "clients", "diagrams", "letters", "policy", "profiles",
        "statemachine", "web", "workflows")
#: The shape of a command's name: a verb of the lifecycle, then what it acts on.
COMMAND_SHAPE = re.compile(r"^(assign|record|agree|convert|close|escalate|start|propose|approve|reject|conclude"
                           r"|request|withdraw|add|update|complete|cancel|decide|tell|refer|log|make)_[a-z_]+$")
#: Names of that shape that are not commands: the Machine's own triggers, approval and task kinds.
NOT_COMMANDS = {trigger for trigger, _, _ in STAGE_MOVES} | {"close_unreachable", "expire_enquiry",
                                                              "record_events", "record_rejection", "record_report",
                                                              "start_case", "start_task", "start_workflow",
                                                              "close_enquiry_task", "request_id", "update_task",
                                                              "update_person", "start_report_received", "record_of",
                                                              "request_for_information", "update_id"} \
    | ANSWERED_ON_THE_CASE  # task kinds (tell_police, ...) answered by a command on the case
NOT_COMMANDS |= set(CASE_FILE_STEPS)  # a scenario's case-file actions (asb/scenario.py), not commands


def _strings(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _code_files() -> list[Path]:
    return [p for package in CODE for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def test_every_command_named_in_the_code_has_a_spec() -> None:
    unknown: dict[str, str] = {}
    for path in _code_files():
        for text in _strings(path):
            if COMMAND_SHAPE.match(text) and text not in COMMANDS and text not in NOT_COMMANDS \
                    and text not in ALIASES:
                unknown.setdefault(text, str(path.relative_to(ROOT)))
    assert unknown == {}, "a command without a spec in statemachine/catalogue.py (or add it to NOT_COMMANDS)"


def test_every_command_in_the_example_scenarios_has_a_spec() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for step in yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]:
            # A case-file action (add_party, add_evidence, chronology) is not a command: asb/scenario.py.
            assert args_model(step["do"]) is not None or step["do"] in CASE_FILE_STEPS, (path.name, step["do"])
    assert not set(CASE_FILE_STEPS) & set(COMMANDS)  # an action's name never hides a command


def test_each_spec_is_whole() -> None:
    for name, spec in COMMANDS.items():
        assert spec.name == name and spec.summary and spec.stages and spec.roles, name
        # Only reopening acts on a closed case (issue 12 item 6).
        assert set(spec.stages) <= set(OPEN_STAGES) or spec.stages == ("closed",), name
        if spec.free_text is not None:
            assert spec.free_text in spec.args.model_fields and f"{spec.free_text}_ref" in spec.args.model_fields
        assert (spec.decides is None) == (spec.verdict is None), name
        for example in spec.examples:
            spec.args.model_validate(example)  # the property tests play these: they must be valid
    assert REPORT_COMMAND not in COMMANDS and args_model(REPORT_COMMAND) is ReportArgs


def test_the_approval_tasks_are_decided_by_the_commands_that_decide_them() -> None:
    # The task client's table is the catalogue's, computed from the specs' `decides` and `verdict`.
    assert APPROVAL_COMMANDS == approval_commands() == {
        "closure_approval": {"approve": "approve_closure", "reject": "reject_closure"},
        "legal_approval": {"approve": "approve_legal_action", "reject": "reject_legal_action"},
    }
    for asked in {spec.asks for spec in COMMANDS.values() if spec.asks}:
        assert asked in APPROVAL_COMMANDS  # every approval a command asks for, some command decides


def test_the_cli_help_lists_every_command() -> None:
    listed = commands_help()
    for name, spec in COMMANDS.items():
        assert name in listed and spec.summary in listed


def test_the_readme_and_the_scenario_format_carry_the_catalogue_tables() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    scenarios = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert command_table() in readme, "run scripts/catalogue_tables.py"
    assert command_table() in scenarios and deadline_table() in scenarios, "run scripts/catalogue_tables.py"


def test_the_table_script_rewrites_a_stale_table() -> None:
    spec = importlib.util.spec_from_file_location("catalogue_tables", ROOT / "scripts" / "catalogue_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = "x\n<!-- catalogue:commands -->\n| old |\n<!-- /catalogue:commands -->\ny"
    assert module.synced(stale) == f"x\n<!-- catalogue:commands -->\n{command_table()}\n<!-- /catalogue:commands -->\ny"


# ---------------------------------------------------------------------------------------------- deadlines


def test_the_diagram_draws_every_deadline_kind_where_it_runs() -> None:
    assert {t.kind: t.stages for t in TIMER_EVENTS} == {k: s.stages for k, s in DEADLINES.items()}


def test_every_deadline_setting_is_a_profile_value() -> None:
    for spec in DEADLINES.values():
        node: object = Profile.model_fields
        for part in spec.setting.split("."):
            if part == "<risk>":
                continue
            fields = node if isinstance(node, dict) else node.model_fields  # type: ignore[attr-defined]
            assert part in fields, (spec.kind, spec.setting)
            node = fields[part].annotation


def _case(profile_name: str = "reading", **facts: object) -> Lifecycle:
    profile = load(profile_name)
    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reporter": {"id": "r1"},
                                        "reported_person": {"id": "p1"}})
    lifecycle, _ = Lifecycle.start("ASB-2026-000001", report, profile, datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    for name, value in facts.items():
        setattr(lifecycle.facts, name, value)
    return lifecycle


def test_open_deadlines_are_exactly_the_specs_that_run_in_the_stage() -> None:
    """With every fact a deadline waits on in place, each stage has exactly the deadlines whose specs run there."""
    start = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    # A London borough's priority one (examples/profiles/lbhf.toml) has response milestones.
    lbhf = str(ROOT / "examples" / "profiles" / "lbhf.toml")
    for stage in OPEN_STAGES:
        lc = _case(lbhf, stage=stage, risk="high", converted_at=start, last_contact_at=start, monitoring_since=start,
                   unable_letter_at=start, hate=True, risk_review_on=start.date(),
                   actions=[PlannedAction(id="A1", who="officer", due=date(2026, 3, 20))],
                   referrals=[ReferralFact(id="referral-1", agency="victim_support", kind="victim_support",
                                           follow_up=start.date())])
        found = open_deadlines(lc.facts, lc.profile, calendar_for(lc.profile))
        assert set(found) == {k for k, s in DEADLINES.items() if stage in s.stages and s.due is not None}, stage


def test_a_deadline_kind_without_a_spec_is_an_error_not_a_silence() -> None:
    with pytest.raises(KeyError):
        _case().on_deadline("contcat", datetime(2026, 4, 1, tzinfo=UTC))


def test_a_breach_deadline_is_a_breach_and_an_overdue_task() -> None:
    for kind in BREACH_DEADLINES:
        events = _case(stage="review").on_deadline(kind, datetime(2026, 4, 1, tzinfo=UTC)).events
        assert events[0] == {"event": "breach", "kind": kind}
        # A missed contact is the officer's to put right first (issue 11 item 14); the others go to the
        # first role of the escalation chain.
        role = "officer" if kind == "contact" else "manager"
        assert events[1] == {"event": "task", "kind": "overdue", "role": role, "deadline": kind}


def test_a_command_without_a_spec_is_refused_with_its_name() -> None:
    reason = _case().check("record_contcat", {}, Actor(role="officer", id="o1"), datetime(2026, 3, 3, tzinfo=UTC))
    assert reason is not None and "record_contcat" in reason
