"""Who may claim and decide a task, through the HTTP API on the real stack (issue 9 item 7).

Officer o3 once decided a communication_failed task on o1's case that o2 had claimed. The rule now
(workflows.tasks.refusal): a task may be claimed and decided only by the case's officer, for an officer
task; by the holder of the claim, once claimed; or by someone of the task's current role once it has
gone up the chain. A manager's approval still meets the case's own guards. Every refusal is a 409 that
says why and changes nothing: the task keeps its holder and status, the case hears nothing.

The officer tasks are real: the mail server (aiosmtpd on 127.0.0.1) refuses the reporter's address, so
the acknowledgement is parked for printing and the case gives its officer a communication_failed task.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from tests.api_support import Tokens, report
from tests.letters_helpers import Mailbox

O1, O2, O3 = ("officer", "o1"), ("officer", "o2"), ("officer", "o3")
M1, M2, M3 = ("manager", "m1"), ("manager", "m2"), ("manager", "m3")
S1 = ("senior_manager", "s1")


class People:
    def __init__(self, api: httpx.AsyncClient, tokens: Tokens) -> None:
        self.api, self.tokens = api, tokens

    def __call__(self, who: tuple[str, str]) -> dict[str, str]:
        return self.tokens(*who)

    async def task(self, ref: str, kind: str, role: str | None = None) -> dict[str, Any]:
        """The case's task of this kind, as the inbox shows it to a manager (polled: tasks are projected)."""
        for _ in range(300):
            response = await self.api.get("/tasks", params={"case": ref, "status": "open"}, headers=self(M1))
            found = [t for t in response.json()["tasks"] if t["kind"] == kind and t["due"]
                     and (role is None or t["role"] == role)]
            if found:
                return found[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no open {kind} task on {ref}")

    async def refused(self, who: tuple[str, str], action: str, task: dict[str, Any], says: str,
                      body: dict[str, Any] | None = None) -> None:
        """A 409 with the reason, and nothing changed: the task as it was, no resolution on the case."""
        before = await self.snapshot(task["case_ref"])
        response = await self.api.post(f"/tasks/{task['id']}/{action}", json=body, headers=self(who))
        assert response.status_code == 409, (who, action, response.status_code, response.text)
        assert says in response.json()["detail"], (who, action, response.json())
        assert await self.snapshot(task["case_ref"]) == before, (who, action)

    async def snapshot(self, ref: str) -> list[Any]:
        """The case's tasks, open and done, as the inbox shows them, and what its timeline says of tasks
        (a resolution, a decision, a stage)."""
        lists = [await self.api.get("/tasks", params={"case": ref, "status": status}, headers=self(M1))
                 for status in ("open", "done")]
        timeline = (await self.api.get(f"/cases/{ref}", headers=self(M1))).json()["timeline"]
        told = [e for e in timeline if e["event"] in ("task_resolved", "decision", "stage")]
        return [answer.json() for answer in lists] + [told]

    async def ok(self, who: tuple[str, str], action: str, task: dict[str, Any],
                 body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.api.post(f"/tasks/{task['id']}/{action}", json=body, headers=self(who))
        assert response.status_code == 200, (who, action, response.status_code, response.text)
        result: dict[str, Any] = response.json()
        return result


async def _case(people: People, **extra: Any) -> str:
    response = await people.api.post("/reports", json=report(**extra), headers=people(("intake", "i1")))
    assert response.status_code == 201, response.text
    ref: str = response.json()["reference"]
    return ref


async def _undeliverable_case(people: People) -> str:
    """o1's case whose reporter chose email: the mail server refuses the address, the officer gets a task."""
    return await _case(people, reporter={"name": "Alice Example", "email": "alice@example.org",
                                         "contact_method": "email", "consents": {"action": True, "email": True}})


async def test_only_the_cases_officer_the_claims_holder_or_the_escalated_role_may_take_a_task(
    env: WorkflowEnvironment, api: httpx.AsyncClient, app: FastAPI, state_dir: Path, mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = People(api, Tokens(state_dir))
    mailbox.refuse_recipients_with = "550 5.1.1 <{address}>: Recipient address rejected"
    with monkeypatch.context() as patch:
        patch.delenv("ASB_DELIVERY_CONFIG", raising=False)
        for name, value in {"ASB_DELIVERY": "smtp", "ASB_SMTP_HOST": "127.0.0.1", "ASB_SMTP_PORT": str(mailbox.port),
                            "ASB_SMTP_FROM": "asb@example.org"}.items():
            patch.setenv(name, value)
        ref, later = await _undeliverable_case(people), await _undeliverable_case(people)
        task = await people.task(ref, "communication_failed")
        waiting = await people.task(later, "communication_failed")
    assert (task["role"], task["assignee"]) == ("officer", None)

    # An officer task is the case's officer's: not another officer's, not (yet) a manager's.
    await people.refused(O3, "claim", task, "this task is for the case's officer, o1")
    await people.refused(M1, "claim", task, "this task is for the case's officer, o1")
    await people.refused(O2, "decide", task, "this task is for the case's officer, o1", {"decision": "done"})
    assert (await people.ok(O1, "claim", task))["assignee"] == "o1"
    # Once claimed, only the holder acts on it: the o3 is refused, and so is a manager.
    for who in (O2, O3, M1, S1):
        await people.refused(who, "decide", task, "claimed by o1", {"decision": "done", "reason": "mine now"})
        await people.refused(who, "claim", task, "claimed by o1")
    decided = await people.ok(O1, "decide", task, {"decision": "done", "reason": "rang Alice; posted the letter"})
    assert (decided["task"]["status"], decided["task"]["decided_by"]) == ("done", "o1")
    await people.refused(O1, "decide", task, "no longer open", {"decision": "done"})

    # An approval: claimed by m2, it is m2's; the case's own rules still hold for m2.
    approval_case = await _case(people)
    for command, args in [("record_risk_assessment", {"level": "low"}), ("convert_to_case", {}),
                          ("request_closure", {"reason": "no_reports"})]:
        response = await api.post(f"/cases/{approval_case}/commands/{command}", json={"args": args},
                                  headers=people(O1))
        assert response.status_code == 200, response.text
    approval = await people.task(approval_case, "closure_approval")
    await people.refused(O1, "claim", approval, "this task is for a manager")
    assert (await people.ok(M2, "claim", approval))["assignee"] == "m2"
    for who in (M3, S1):
        await people.refused(who, "decide", approval, "claimed by m2", {"decision": "approve"})
    case = (await api.get(f"/cases/{approval_case}", headers=people(M1))).json()
    assert case["status"]["stage"] == "investigation" and case["status"]["pending_approvals"]
    approved = await people.ok(M2, "decide", approval, {"decision": "approve", "reason": "quiet for two months"})
    assert approved["result"]["case"]["stage"] == "closed"

    # Left undecided, the officer task goes up the chain: then it is for any manager, and no longer o1's.
    await env.sleep(timedelta(days=14))
    escalated = await people.task(later, "communication_failed", role="manager")
    assert escalated["id"] == waiting["id"] and escalated["assignee"] is None
    await people.refused(O1, "claim", escalated, "this task is for a manager")
    assert (await people.ok(M2, "claim", escalated))["assignee"] == "m2"
    await people.refused(M3, "decide", escalated, "claimed by m2", {"decision": "done"})
    done = await people.ok(M2, "decide", escalated, {"decision": "done", "reason": "letter posted by hand"})
    assert (done["task"]["status"], done["task"]["decided_by"]) == ("done", "m2")
