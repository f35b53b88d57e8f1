"""Case-file steps in scenario files (docs/scenarios.md "Case-file actions"): add_party, add_evidence and
chronology. A bad one is refused before anything runs, in one line naming the step and the field; an
evidence file is read only from the files/ folder beside the scenario. Played, they write the case file
through its services and show on the timeline, and `--chronology PATH` writes the chronology PDF."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asb.cli import main

PHOTO = (Path(__file__).parent.parent / "examples" / "files" / "door-damage.jpg").read_bytes()

GOOD = """profile: reading
start: 2026-03-02T09:30:00+00:00
until: 2026-03-06T00:00:00+00:00
steps:
  - at: 2026-03-02T09:30:00+00:00
    do: report
    with: {category: noise, reporter: {id: r1}, reported_person: {id: p1}, officer: o1}
  - at: 2026-03-02T10:00:00+00:00
    do: add_party
    with: {role: reporter, person: {id: r1, name: Ann Example, consents: {referral: true}}}
  - at: 2026-03-02T10:05:00+00:00
    do: add_party
    with: {role: witness, person: {description: "unknown male, flat 3"}}
  - at: 2026-03-03T09:00:00+00:00
    do: record_incident
    with: {occurred_at: 2026-03-02T23:00:00+00:00, category: noise, reported_by: app_feed, feed: noise_app,
           feed_id: NA-777}
  - at: 2026-03-03T09:05:00+00:00
    do: add_evidence
    with: {kind: photo, file: files/door.jpg, provided_by: r1, incident_at: 2026-03-02T23:00:00+00:00,
           description: "the hallway"}
  - at: 2026-03-03T09:10:00+00:00
    do: make_referral
    with: {agency: victim_support, person_id: r1, follow_up: 2026-03-17}
  - at: 2026-03-05T09:00:00+00:00
    do: chronology
    with: {audience: court}
"""

def FILE(value: str) -> str:  # noqa: N802 - reads as the field it sets
    return GOOD.replace("file: files/door.jpg", value)


BAD = {
    "absolute path": (FILE("file: /etc/passwd"),
                      "steps[4].with.file: must be a path relative to the scenario"),
    "dot dot": (FILE("file: files/../case.yaml"), "steps[4].with.file: may not contain .."),
    "outside files": (FILE("file: case.yaml"), "steps[4].with.file: must be under files/"),
    "home": (FILE("file: ~/x.jpg"), "steps[4].with.file: must be a path relative"),
    "backslash": (FILE("file: 'files\\door.jpg'"), "steps[4].with.file: must be"),
    "hidden name": (FILE("file: files/.door.jpg"),
                    "steps[4].with.file: '.door.jpg' is not a plain file name"),
    "missing file": (FILE("file: files/none.jpg"),
                     "steps[4].with.file: no such file files/none.jpg"),
    "link out": (FILE("file: files/escape.jpg"), "steps[4].with.file: leads outside files/"),
    "no file": (GOOD.replace("file: files/door.jpg, ", ""), "steps[4].with.file: Field required"),
    "unknown kind": (GOOD.replace("kind: photo", "kind: selfie"), "steps[4].with.kind: Input should be"),
    "unknown evidence field": (GOOD.replace("kind: photo,", "kind: photo, path: x,"),
                               "steps[4].with.path: unknown field"),
    "naive incident time": (GOOD.replace("incident_at: 2026-03-02T23:00:00+00:00", "incident_at: 2026-03-02T23:00:00"),
                            "steps[4].with.incident_at: Input should have timezone info"),
    "unknown role": (GOOD.replace("role: witness", "role: bystander"), "steps[2].with.role: Input should be"),
    "unknown person field": (GOOD.replace("name: Ann Example", "nickname: Annie"), "steps[1].with.person.nickname: "
                             "unknown field"),
    "no person": (GOOD.replace("with: {role: witness, person: {description: \"unknown male, flat 3\"}}",
                               "with: {role: witness}"), "steps[2].with.person: Field required"),
    "unknown audience": (GOOD.replace("audience: court", "audience: press"), "steps[6].with.audience: Input should be"),
    "two chronologies": (GOOD + "  - at: 2026-03-05T10:00:00+00:00\n    do: chronology\n",
                         "steps[7].do: a scenario has at most one chronology step"),
}


def _scenario(tmp_path: Path, text: str) -> Path:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "door.jpg").write_bytes(PHOTO)
    (tmp_path / "files" / ".door.jpg").write_bytes(PHOTO)
    (tmp_path / "secret.jpg").write_bytes(PHOTO)
    os.symlink(tmp_path / "secret.jpg", tmp_path / "files" / "escape.jpg")
    path = tmp_path / "case.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_case_file_step_is_refused_in_one_line_naming_step_and_field(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, says = BAD[kind]
    path = _scenario(tmp_path, text)
    assert main(["simulate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"asb: error: {path}: ")
    assert says in err
    assert len(err.strip().splitlines()) == 1


def test_chronology_flag_needs_a_chronology_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _scenario(tmp_path, GOOD.split("  - at: 2026-03-05T09:00:00+00:00")[0])
    assert main(["simulate", "--chronology", str(tmp_path / "out.pdf"), str(path)]) == 2
    _, err = capsys.readouterr()
    assert err.strip() == f"asb: error: --chronology: {path} has no chronology step"
    assert not (tmp_path / "out.pdf").exists()


def test_case_file_steps_play_into_the_case_file_and_the_timeline(tmp_path: Path) -> None:
    """Through the real CLI: the parties and the evidence file land in the case file (the timeline says
    so, with the file's digest), the referral is made on the consent recorded with the reporter, and the
    chronology PDF is written where asked, naming the parties and the evidence."""
    path = _scenario(tmp_path, GOOD)
    out = tmp_path / "chronology.pdf"
    run = subprocess.run([sys.executable, "-m", "asb.cli", "simulate", "--chronology", str(out), str(path)],
                         capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stderr
    timeline = [json.loads(line) for line in run.stdout.splitlines()]
    parties = [e for e in timeline if e["event"] == "party"]
    assert [(e["at"], e["role"]) for e in parties] == [("2026-03-02T10:00:00+00:00", "reporter"),
                                                       ("2026-03-02T10:05:00+00:00", "witness")]
    assert parties[0]["person"] == "r1"
    [evidence] = [e for e in timeline if e["event"] == "evidence"]
    import hashlib

    assert evidence["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert (evidence["kind"], evidence["media_type"], evidence["incident"]) == ("photo", "image/jpeg", 1)
    [referral] = [e for e in timeline if e["event"] == "referral"]
    assert (referral["basis"], referral["consent_ref"]) == ("consent", "C-1")
    assert not [e for e in timeline if e["event"] == "rejected"]
    [made] = [e for e in timeline if e["event"] == "chronology"]
    assert made["audience"] == "court" and made["size"] == out.stat().st_size
    # The timeline stays in time order with the case-file actions among the workflow's events.
    moments = [e["at"] for e in timeline]
    from datetime import datetime

    assert moments == sorted(moments, key=datetime.fromisoformat)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Ann Example" in text and "Evidence added: photograph" in text
    # The incident says how it came: through the Noise App, with that app's own id for the report.
    assert re.search(r"Incident: noise, reported by an app feed.*\n.*Sent by the Noise App \(its report NA-777\)",
                     text), text
    assert hashlib.sha256(PHOTO).hexdigest() in text
    # A simulated letter is dated when the scenario issued it, not when the simulator's worker wrote it.
    assert re.search(r"2 Mar 2026\s+09:30\s+Letter\s+Acknowledgement", text), text


def test_a_case_file_action_the_case_refuses_is_shown_rejected_and_the_run_goes_on(tmp_path: Path) -> None:
    text = GOOD.replace("incident_at: 2026-03-02T23:00:00+00:00", "incident_at: 2026-03-01T23:00:00+00:00")
    text = text.replace("provided_by: r1", "provided_by: p9")
    path = _scenario(tmp_path, text)
    run = subprocess.run([sys.executable, "-m", "asb.cli", "simulate", str(path)], capture_output=True, text=True,
                         timeout=240, check=False)
    assert run.returncode == 0, run.stderr
    timeline = [json.loads(line) for line in run.stdout.splitlines()]
    [rejected] = [e for e in timeline if e["event"] == "rejected"]
    assert rejected["command"] == "add_evidence"
    assert "no incident of the case happened at 2026-03-01T23:00:00+00:00" in rejected["reason"]
    assert not [e for e in timeline if e["event"] == "evidence"]
    assert [e for e in timeline if e["event"] == "chronology"]
