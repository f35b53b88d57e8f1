"""The structured risk assessment: scores against the profile's matrix give a level, and a vulnerable
reporter raises it.

Pure, like the rest of policy/: the lifecycle's guard and effect (statemachine/catalogue.py) and the
API's argument check (api/service.py) ask the same functions, so a score the case would refuse is
refused at the door with the same words, naming the factor.

Sources: 000 "Supporting you" ("we'll carry out a vulnerability risk assessment"); 003 §8 stage 3
("assess level of risk, persistence and impact") and §10 ("the victim's vulnerability and/or the
potential for harm"); 004 §3.4 ("a risk assessment matrix (Appendix 2)") and §3.5 (red and amber).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from policy.model import RISK_ORDER, Risk, RiskMatrix

#: What a person's vulnerability flags may say: categories only, never free text (the workflow is told
#: only whether the reporter carries any). From 003 §11 ("mental health issues, learning difficulties
#: and substance misuse"), 003 §5 and 004 §6.4-6.5 (disability), 002 §1.5 (schemes for those over 55)
#: and 003 §9 (children: "Brighter Futures for Children"), 004 §3.4 and §4.4 (safeguarding), and
#: 004's Domestic Abuse Policy (§9 related documents).
Vulnerability = Literal[
    "mental_health", "learning_disability", "physical_disability", "age", "substance_misuse",
    "domestic_abuse", "safeguarding", "other",
]
VULNERABILITIES: tuple[str, ...] = (
    "mental_health", "learning_disability", "physical_disability", "age", "substance_misuse",
    "domestic_abuse", "safeguarding", "other",
)


class ScoreError(ValueError):
    """Scores that do not answer the matrix; `factor` names the one at fault (None: the scores as a whole)."""

    def __init__(self, factor: str | None, message: str) -> None:
        super().__init__(message)
        self.factor = factor


@dataclass(frozen=True)
class Assessment:
    """What a risk assessment found: the level, and how it was reached."""

    level: Risk
    #: The level the scores (or the officer's given level) gave, before a vulnerable reporter's floor.
    scored: Risk
    total: int | None = None


def check_scores(matrix: RiskMatrix, scores: Mapping[str, int]) -> None:
    """Every factor of the matrix answered, nothing else, each within its range; else ScoreError naming it."""
    for factor in scores:
        if factor not in matrix.factors:
            raise ScoreError(factor, f"unknown risk factor {factor!r}; this matrix scores: {', '.join(matrix.factors)}")
    for factor, spec in matrix.factors.items():
        if factor not in scores:
            raise ScoreError(factor, f"no score for {factor!r}: score every factor ({', '.join(matrix.factors)})")
        value = scores[factor]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= spec.max:
            raise ScoreError(factor, f"{factor}: score from 0 to {spec.max}, not {value!r}")


def matrix_level(matrix: RiskMatrix, scores: Mapping[str, int]) -> tuple[Risk, int]:
    """The level the scores give, and their total (scores already checked)."""
    total = sum(scores.values())
    decisive = any(spec.high_at is not None and scores[name] >= spec.high_at for name, spec in matrix.factors.items())
    if decisive or total >= matrix.high_from:
        return "high", total
    return ("medium" if total >= matrix.medium_from else "low"), total


def higher(a: Risk, b: Risk) -> Risk:
    return a if RISK_ORDER[a] >= RISK_ORDER[b] else b


def with_vulnerable_floor(matrix: RiskMatrix, risk: Risk, reporter_vulnerable: bool) -> Risk:
    """The one rule for a vulnerable reporter: their case is at least the matrix's floor (003 §10 "the
    victim's vulnerability and/or the potential for harm"; 004 §3.4-3.5), at triage as at each assessment."""
    return higher(risk, matrix.vulnerable_reporter) if reporter_vulnerable else risk


def assess(matrix: RiskMatrix, *, scores: Mapping[str, int] | None, level: Risk | None,
           reporter_vulnerable: bool) -> Assessment:
    """The level of an assessment: from the scores (or, from an older scenario file, the level given),
    raised to the matrix's floor when the reporter is vulnerable (003 §10; 004 §3.4-3.5)."""
    total: int | None = None
    if scores is not None:
        check_scores(matrix, scores)
        scored, total = matrix_level(matrix, scores)
    elif level is not None:
        scored = level
    else:
        raise ScoreError(None, "give the factor scores (or a level)")
    return Assessment(level=with_vulnerable_floor(matrix, scored, reporter_vulnerable), scored=scored, total=total)


def next_assessment_on(matrix: RiskMatrix, level: Risk, assessed_on: date) -> date:
    """The date the next assessment falls due by default: the profile's interval for the level found."""
    due: date = matrix.review_every.for_risk(level).add_calendar(assessed_on)
    return due
