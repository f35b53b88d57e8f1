"""Triage: from what was reported to an outcome and a risk category, by the profile's rules.

Pure and total over the profile's taxonomy, so intake staff, the workflow and `asb triage` agree.
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policy.model import RISK_ORDER, Profile, Risk

Outcome = Literal["not_asb", "early_support", "enquiry"]


class TriageInput(BaseModel):
    """The facts of a report that triage depends on (no personal data)."""

    model_config = ConfigDict(extra="ignore")

    category: str
    hate: bool = False
    violence_or_threats: bool = False
    incidents_last_month: int = Field(1, ge=0)
    risk_of_harm: bool = False
    tried_to_resolve: bool = False
    #: Local time of day the noise happens, for time-dependent categories such as DIY.
    time_of_day: time | None = None


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


def triage(report: TriageInput, profile: Profile) -> TriageResult:
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
        if _outside_hours(profile, report.time_of_day):
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

    if risk == "low" and not report.risk_of_harm:
        if category in cats.early_support:
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
