"""`asb report resolution-target` reports the share of a landlord's cases resolved within its resolution
target, over the case file (issue 16 item 4): a target, reported, never a breach."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from asb.cli import main
from casefile.db import Store
from casefile.models import CaseRow

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "profiles" / "your-housing.toml"


def test_the_share_resolved_within_45_working_days_is_reported(
    store: Store, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"yhg-{uuid.uuid4().hex[:8]}"  # this test's cases only
    mine = tmp_path / "mine.toml"
    mine.write_text(EXAMPLE.read_text(encoding="utf-8").replace('name = "your-housing"', f'name = "{name}"'),
                    encoding="utf-8")
    opened = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    closings = [datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 5, 7, 12, 0, tzinfo=UTC),  # within (7 May)
                datetime(2026, 5, 8, 12, 0, tzinfo=UTC), None]  # one late; one open, past it by June
    with store.session() as session, session.begin():
        for closed in closings:
            session.add(CaseRow(reference=f"YH-2026-{uuid.uuid4().int % 10**6:06d}", profile=name, stage="closed"
                                if closed else "investigation", outcome="enquiry", category="noise",
                                opened_at=opened, closed_at=closed, closure_reason="asb_stopped" if closed else None))
        session.add(CaseRow(reference=f"YH-2026-{uuid.uuid4().int % 10**6:06d}", profile=name, stage="closed",
                            outcome="not_asb", category="parking", opened_at=opened, closed_at=opened))
    monkeypatch.setenv("ASB_DATABASE_URL", postgres_url)
    assert main(["report", "resolution-target", "--profile", str(mine), "--from", "2026-03-01", "--to",
                 "2026-03-31", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["figures"] == {"cases": 4, "resolved": 3, "resolved_within": 2, "open_past_target": 1,
                                 "share_within_percent": 50.0, "share_promised_percent": 51, "met": False}
    assert report["period"]["start"] == "2026-03-01" and "51% resolved within 45 working days" in report["rules"][0]


def test_a_profile_without_a_target_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "resolution-target", "--profile", "reading", "--month", "2026-03"]) == 2
    assert "sets no resolution target" in capsys.readouterr().err
