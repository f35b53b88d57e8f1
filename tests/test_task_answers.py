"""Which tasks a command on the case answers (statemachine/patches.py `answered_on_the_case`): the case
workflow and the task workflow ask it to close a task once the officer has done what it asked (an
overdue action completed, a referral's outcome recorded, the police told: 003 §9; 004 §3.5, §3.8), while
a manager's approval (a closure) is answered only on the task itself. Pure and fast."""

from __future__ import annotations

import pytest

from statemachine.patches import (
    ALLOCATION,
    TELL_POLICE,
    action_task_id,
    answered_on_the_case,
    follow_up_approval,
)


@pytest.mark.parametrize("approval", [TELL_POLICE, ALLOCATION, action_task_id("A1"),
                                      follow_up_approval("referral-3")])
def test_a_task_a_case_command_answers_is_recognised_alone_or_naming_its_item(approval: str) -> None:
    assert answered_on_the_case(approval)


@pytest.mark.parametrize("approval", ["closure_approval", "approval-2", "legal_action_approval", ""])
def test_a_managers_approval_is_answered_on_the_task_not_by_the_case(approval: str) -> None:
    assert not answered_on_the_case(approval)


def test_an_item_is_told_apart_from_the_kind_only_by_its_prefix() -> None:
    """"tell_police:..." is still the police task; "police tell_police" is no task kind at all."""
    assert action_task_id("A1") == "action_overdue:A1"
    assert follow_up_approval("referral-3") == "referral_follow_up:referral-3"
    assert not answered_on_the_case("police tell_police")
    assert not answered_on_the_case("approval-2:tell_police")
