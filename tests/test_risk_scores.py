"""The risk matrix's scores as an officer gives them (policy/risk.py): what is refused, naming the
factor the form shows the error beside, and how a vulnerable reporter's floor raises a level but never
lowers one (003 §10 "the victim's vulnerability and/or the potential for harm"; 004 §3.4-3.5; issue 12
item 4). Pure and fast, on the documented default matrix (policy/profiles/default.toml)."""

from __future__ import annotations

from typing import Any

import pytest

from policy.model import RiskMatrix
from policy.risk import ScoreError, assess, check_scores, with_vulnerable_floor

MATRIX = RiskMatrix()  # harm, persistence, impact, vulnerability; each 0-3; vulnerable reporter: medium
ALL_ONE = {"harm": 1, "persistence": 1, "impact": 1, "vulnerability": 1}


def _refused(scores: dict[str, Any]) -> ScoreError:
    with pytest.raises(ScoreError) as caught:
        check_scores(MATRIX, scores)
    return caught.value


def test_a_missing_score_is_refused_naming_the_factor_and_listing_all_of_them() -> None:
    error = _refused({k: v for k, v in ALL_ONE.items() if k != "impact"})
    assert error.factor == "impact"
    assert str(error) == "no score for 'impact': score every factor (harm, persistence, impact, vulnerability)"


@pytest.mark.parametrize("value", [True, False, "2", 4, -1, 1.0])
def test_a_score_that_is_not_a_whole_number_in_range_is_refused_naming_the_factor(value: Any) -> None:
    """A tick box's true/false or a form's text is not a score: only 0 to the factor's max."""
    error = _refused({**ALL_ONE, "persistence": value})
    assert error.factor == "persistence"
    assert str(error) == f"persistence: score from 0 to 3, not {value!r}"


def test_neither_scores_nor_a_level_is_refused_as_a_whole() -> None:
    with pytest.raises(ScoreError) as caught:
        assess(MATRIX, scores=None, level=None, reporter_vulnerable=False)
    assert caught.value.factor is None
    assert str(caught.value) == "give the factor scores (or a level)"


def test_a_level_given_without_scores_has_no_total() -> None:
    found = assess(MATRIX, scores=None, level="low", reporter_vulnerable=False)
    assert (found.level, found.scored, found.total) == ("low", "low", None)


@pytest.mark.parametrize(("risk", "vulnerable", "level"), [
    ("low", True, "medium"), ("medium", True, "medium"), ("high", True, "high"), ("low", False, "low"),
])
def test_a_vulnerable_reporters_floor_raises_a_level_and_never_lowers_one(risk: Any, vulnerable: bool,
                                                                         level: str) -> None:
    assert with_vulnerable_floor(MATRIX, risk, vulnerable) == level
    found = assess(MATRIX, scores=None, level=risk, reporter_vulnerable=vulnerable)
    assert (found.level, found.scored) == (level, risk)
