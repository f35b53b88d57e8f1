"""What the case offers each caller (issue 11 item 14): `allowed` never offers an approval to the
person who asked for it, on the real stack (API, workflow, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from casefile.db import Store
from tests.api_support import Tokens, client_for, make_app, report


async def test_a_closure_is_never_offered_for_approval_to_the_manager_who_requested_it(
    env: WorkflowEnvironment, store: Store, task_queue: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    app = make_app(env, store, task_queue, state)
    as_ = Tokens(state)
    m1, m2, o1 = as_("manager", "m1"), as_("manager", "m2"), as_("officer", "o1")
    async with client_for(app) as api:
        logged = await api.post("/reports", json=report(), headers=as_("intake", "i1"))
        assert logged.status_code == 201, logged.text
        ref = logged.json()["reference"]
        for command, args in (("record_contact", {"outcome": "made", "method": "phone"}),
                              ("record_risk_assessment", {"level": "low"}), ("convert_to_case", {})):
            answer = await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=o1)
            assert answer.status_code == 200, answer.text
        asked = await api.post(f"/cases/{ref}/commands/request_closure", json={"args": {"reason": "asb_stopped"}},
                               headers=m1)
        assert asked.status_code == 200, asked.text
        assert "approve_closure" not in asked.json()["status"]["allowed"]
        views = {who: (await api.get(f"/cases/{ref}", headers=headers)).json()["status"]["allowed"]
                 for who, headers in (("m1", m1), ("m2", m2), ("o1", o1))}
    assert "approve_closure" not in views["m1"]  # their own request
    assert "approve_closure" not in views["o1"]  # needs a manager
    assert "approve_closure" in views["m2"]
