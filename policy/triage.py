"""Triage: from what was reported to an outcome and a risk category, by the profile's rules.

Pure and total over the profile's taxonomy, so intake staff, the workflow and `asb triage` agree.
"""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy.model import RISK_ORDER, Profile, Risk

Outcome = Literal["not_asb", "early_support", "enquiry"]


class ReportFacts(BaseModel):
    """What a report says that triage reads (no personal data). Every report shape starts from it: the
    workflow's ReportArgs, the case file's IntakeReport and the API's forms add what they carry."""

    category: str = Field(min_length=1, max_length=64)
    hate: bool = False
    violence_or_threats: bool = False
    incidents_last_month: int = Field(1, ge=0)
    risk_of_harm: bool = False
    tried_to_resolve: bool = False
    #: Local time of day the noise happens ("22:30"), for time-dependent categories such as DIY.
    time_of_day: str | None = None

    @field_validator("time_of_day", mode="before")
    @classmethod
    def _time_as_text(cls, value: Any) -> Any:
        return value.isoformat() if isinstance(value, time) else value

    @field_validator("time_of_day")
    @classmethod
    def _is_a_time(cls, value: str | None) -> str | None:
        if value is not None:
            time.fromisoformat(value)  # ValueError names the field: refused where the report comes in
        return value

    def local_time(self) -> time | None:
        return time.fromisoformat(self.time_of_day) if self.time_of_day else None


#: `asb triage` reads a report file: anything triage does not read is ignored.
TriageInput = ReportFacts


class TriageResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    risk: Risk | None = None
    category: str
    routed_to: str | None = None
    reasons: list[str] = []


class UnknownCategoryError(ValueError):
    pass


def _higher(a: Risk, b: Risk) -> Risk:
    return a if RISK_ORDER[a] >= RISK_ORDER[b] else b


def _outside_hours(profile: Profile, at: time | None) -> bool:
    if at is None:
        return False
    rules = profile.triage
    return not (rules.reasonable_hours_start <= at < rules.reasonable_hours_end)


def triage(report: ReportFacts, profile: Profile) -> TriageResult:
    cats = profile.categories
    rules = profile.triage
    category = report.category
    if category not in cats.all:
        raise UnknownCategoryError(
            f"unknown category {category!r} for profile {profile.name!r}; known: {', '.join(sorted(cats.all))}"
        )

    if report.hate or report.violence_or_threats or category in rules.high_risk:
        why = (
            "hate incident" if report.hate
            else "violence or threats" if report.violence_or_threats
            else f"{category} is high risk"
        )
        return TriageResult(outcome="enquiry", risk="high", category=category, reasons=[why])

    reasons: list[str] = []
    if category in cats.time_dependent:
        if _outside_hours(profile, report.local_time()):
            reasons.append(f"{category} at unreasonable hours counts as {cats.time_dependent[category]}")
            category = cats.time_dependent[category]
        else:
            return TriageResult(
                outcome="not_asb", category=category, routed_to=cats.not_asb[category],
                reasons=[f"{category} within reasonable hours is not ASB"],
            )

    if category in cats.not_asb:
        return TriageResult(
            outcome="not_asb", category=category, routed_to=cats.not_asb[category],
            reasons=[f"{category} is not ASB under this standard"],
        )

    risk: Risk = "medium" if category in rules.medium_risk else "low"
    if category in rules.medium_risk:
        reasons.append(f"{category} is medium risk")
    if report.incidents_last_month >= rules.persistence_threshold:
        risk = _higher(risk, "medium")
        reasons.append(f"{report.incidents_last_month} incidents in a month is persistent")
    if report.risk_of_harm:
        risk = _higher(risk, rules.risk_of_harm_risk)
        reasons.append("risk of harm")

    own = next((pid for pid, p in profile.priorities.items() if category in p.categories), None)
    if own is not None and RISK_ORDER[profile.priorities[own].risk] > RISK_ORDER[risk]:
        # The landlord's own category has its own priority (issue 16 item 3): its cases are handled at
        # that priority's risk, whatever the general rules gave.
        risk = profile.priorities[own].risk
        reasons.append(f"{category} is {profile.priorities[own].title}")

    if risk == "low" and not report.risk_of_harm:
        if category in cats.early_support and own is None:
            return TriageResult(
                outcome="early_support", category=category,
                reasons=[*reasons, f"{category} suits early support"],
            )
        if rules.early_support_if_not_tried and not report.tried_to_resolve:
            return TriageResult(
                outcome="early_support", category=category,
                reasons=[*reasons, "reporter has not yet tried to resolve it and faces no risk of harm"],
            )
    if not reasons:
        reasons.append(f"{category} is low-level nuisance")
    return TriageResult(outcome="enquiry", risk=risk, category=category, reasons=reasons)
