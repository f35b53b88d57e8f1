"""Scenario files (shared/SCENARIOS.md): parsed and checked completely before anything runs.

A step is a case command (the workflow's Updates), or a case-file action (CASE_FILE_STEPS): adding a
party, adding an evidence file, producing the chronology. Case-file actions write the case file through
its services (casefile/people.py, evidence.py, chronology.py), as the API's doors do; nothing of them
reaches the workflow. An evidence file is named by a path relative to the scenario, under its `files/`
folder (an allow-list: no absolute path, no `..`, plain names only), and is read only from there.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from asb.errors import UsageError
from casefile.chronology import Audience
from casefile.evidence import DESCRIPTION_MAX, NAME_MAX, Kind
from casefile.evidence_store import DEFAULT_MAX_BYTES
from casefile.intake import PersonDetails
from casefile.models import PARTY_ROLES
from policy.model import Profile
from profiles import ProfileError, load
from statemachine.catalogue import args_model, canonical, parse_args
from statemachine.commands import Actor, CommandError

#: The folder beside a scenario that its evidence files are read from, and what a name in it may be.
FILES_DIR = "files"
_FILE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class AddParty(BaseModel):
    """`add_party`: a person joins the case in a role (casefile/people.py add_party; API POST
    /cases/{ref}/parties). `person.id` names them (the report's `r1` gets its details this way)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal[PARTY_ROLES]  # type: ignore[valid-type]
    person: PersonDetails
    anonymous: bool = False


class AddEvidence(BaseModel):
    """`add_evidence`: a file from the scenario's `files/` folder added to the case (casefile/evidence.py
    add_evidence: its type checked against its bytes, stored by SHA-256), linked to the incident that
    happened at `incident_at` when given, else to the case."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    file: str = Field(min_length=1, max_length=300)
    #: The name the file is shown with (default: its name in files/).
    name: str | None = Field(None, min_length=1, max_length=NAME_MAX)
    description: str | None = Field(None, min_length=1, max_length=DESCRIPTION_MAX)
    #: The party who provided it (a person id of the case).
    provided_by: str | None = Field(None, min_length=1, max_length=64)
    incident_at: AwareDatetime | None = None
    shareable: bool = False


class MakeChronology(BaseModel):
    """`chronology`: the case's chronology PDF as it stands at the step (casefile/chronology.py), written
    where `asb simulate --chronology PATH` says."""

    model_config = ConfigDict(extra="forbid")

    audience: Audience = "court"


#: Case-file actions a scenario may take besides the case's commands, with their arguments.
CASE_FILE_STEPS: dict[str, type[BaseModel]] = {
    "add_party": AddParty, "add_evidence": AddEvidence, "chronology": MakeChronology,
}


def evidence_path(scenario_file: str | Path, name: str) -> Path:
    """The file an add_evidence step names, checked: relative to the scenario, inside its files/ folder
    (also after following links), made only of plain names, and no larger than an evidence file may be.
    Raises ValueError saying what is wrong."""
    if "\\" in name or name.startswith("~") or PurePosixPath(name).is_absolute():
        raise ValueError(f"must be a path relative to the scenario, under {FILES_DIR}/ (e.g. {FILES_DIR}/photo.jpg)")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise ValueError("may not contain ..")
    if len(parts) < 2 or parts[0] != FILES_DIR:
        raise ValueError(f"must be under {FILES_DIR}/ beside the scenario (e.g. {FILES_DIR}/photo.jpg)")
    bad = next((part for part in parts[1:] if not _FILE_PART.fullmatch(part)), None)
    if bad is not None:
        raise ValueError(f"{bad[:40]!r} is not a plain file name (letters, digits, ., _ and -)")
    folder = (Path(scenario_file).parent / FILES_DIR).resolve()
    target = (Path(scenario_file).parent / Path(*parts)).resolve()
    if not target.is_relative_to(folder):
        raise ValueError(f"leads outside {FILES_DIR}/ (through a link)")
    if not target.is_file():
        raise ValueError(f"no such file {name}")
    if target.stat().st_size > DEFAULT_MAX_BYTES:
        raise ValueError(f"is larger than an evidence file may be ({DEFAULT_MAX_BYTES} bytes)")
    return target


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    at: datetime
    do: str
    actor: Actor | None = Field(None, alias="as")
    args: dict[str, Any] = Field(default_factory=dict, alias="with")
    #: A case-file action's arguments, checked (set by load_scenario), and an evidence file's checked path.
    _action: BaseModel | None = PrivateAttr(None)
    _file: Path | None = PrivateAttr(None)

    @property
    def case_file_action(self) -> BaseModel | None:
        return self._action

    @property
    def evidence_file(self) -> Path | None:
        return self._file

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time has no time zone; add an offset such as +00:00")
        return value

    @field_validator("do")
    @classmethod
    def _known(cls, value: str) -> str:
        """A command by its name today, or by an old name kept as an alias (docs/scenarios.md), or a
        case-file action."""
        if value in CASE_FILE_STEPS:
            return value
        if args_model(value) is None:
            raise ValueError(f"unknown command {value!r}")
        return canonical(value)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str
    start: datetime
    until: datetime
    reference: str | None = Field(None, pattern=r"^[A-Z]{2,5}-\d{4}-\d{6}$")
    steps: list[Step] = Field(min_length=1)

    @field_validator("start", "until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time has no time zone; add an offset such as +00:00")
        return value

    @property
    def case_reference(self) -> str:
        return self.reference or f"ASB-{self.start.year}-000001"


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_scenario(path: str) -> tuple[Scenario, Profile]:
    """Read and check a scenario; every refusal names the file, the step and the field."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a scenario must be a mapping with profile, start, until and steps")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise UsageError(f"{path}: {_where(first['loc'])}: {message.removeprefix('Value error, ')}") from exc
    try:
        # A landlord's own profile file is named relative to the scenario (examples/profiles/...:
        # `profile: profiles/x.toml`), so a scenario plays from any directory.
        beside = file.parent / scenario.profile
        named = str(beside) if "/" in scenario.profile and beside.is_file() else scenario.profile
        profile = load(named)
    except ProfileError as exc:
        raise UsageError(f"{path}: profile: {exc}") from exc
    _check_steps(path, scenario)
    return scenario, profile


def _check_steps(path: str, scenario: Scenario) -> None:
    if scenario.until < scenario.start:
        raise UsageError(f"{path}: until: is before start")
    previous = scenario.start
    chronologies = 0
    for index, step in enumerate(scenario.steps):
        where = f"{path}: steps[{index}]"
        if step.at < previous:
            raise UsageError(f"{where}.at: steps are out of order ({step.at.isoformat()} is before "
                             f"{previous.isoformat()})")
        if step.at > scenario.until:
            raise UsageError(f"{where}.at: is after until")
        previous = step.at
        if (index == 0) != (step.do == "report"):
            raise UsageError(f"{where}.do: the first step, and only the first, must be report")
        if step.do in CASE_FILE_STEPS:
            _check_action(path, where, step)
            if step.do == "chronology":
                chronologies += 1
                if chronologies > 1:
                    raise UsageError(f"{where}.do: a scenario has at most one chronology step")
            continue
        try:
            parse_args(step.do, step.args)
        except CommandError as exc:
            raise UsageError(f"{where}.with: {exc}") from exc


def _check_action(path: str, where: str, step: Step) -> None:
    """A case-file action's arguments, and an evidence file's path, refused in one line naming the field."""
    try:
        action = CASE_FILE_STEPS[step.do].model_validate(step.args)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise UsageError(f"{where}.with.{_where(first['loc'])}: {message.removeprefix('Value error, ')}") from exc
    step._action = action
    if isinstance(action, AddEvidence):
        try:
            step._file = evidence_path(path, action.file)
        except ValueError as exc:
            raise UsageError(f"{where}.with.file: {exc}") from exc
