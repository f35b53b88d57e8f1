"""Scenario files (shared/SCENARIOS.md): parsed and checked completely before anything runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from asb.errors import UsageError
from policy.model import Profile
from profiles import ProfileError, load
from statemachine.catalogue import args_model, canonical, parse_args
from statemachine.commands import Actor, CommandError


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    at: datetime
    do: str
    actor: Actor | None = Field(None, alias="as")
    args: dict[str, Any] = Field(default_factory=dict, alias="with")

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time has no time zone; add an offset such as +00:00")
        return value

    @field_validator("do")
    @classmethod
    def _known(cls, value: str) -> str:
        """A command by its name today, or by an old name kept as an alias (docs/scenarios.md)."""
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
        profile = load(scenario.profile) if not Path(scenario.profile).is_absolute() else load(scenario.profile)
    except ProfileError as exc:
        raise UsageError(f"{path}: profile: {exc}") from exc
    _check_steps(path, scenario)
    return scenario, profile


def _check_steps(path: str, scenario: Scenario) -> None:
    if scenario.until < scenario.start:
        raise UsageError(f"{path}: until: is before start")
    previous = scenario.start
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
        try:
            parse_args(step.do, step.args)
        except CommandError as exc:
            raise UsageError(f"{where}.with: {exc}") from exc
