"""The `asb` command: JSON out, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asb.cli import main
from profiles import SHIPPED_DIR


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse refusals
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_deadline_prints_due_date_and_end_of_day(capsys: pytest.CaptureFixture[str]) -> None:
    # Christmas Eve 2026, 16:00 London: 1 working day skips Christmas, Boxing Day and its substitute.
    code, out, _ = run(capsys, "deadline", "--profile", "reading", "--category", "high",
                       "--received", "2026-12-24T16:00:00+00:00")
    assert code == 0
    data = json.loads(out)
    assert data["due"] == "2026-12-29"
    assert data["due_at"] == "2026-12-29T17:00:00+00:00"
    assert (data["working_days"], data["nation"]) == (1, "eng")


def test_deadline_nation_override_uses_scottish_holidays(capsys: pytest.CaptureFixture[str]) -> None:
    # Thursday 31 Dec 2026 before 17:00; in Scotland 1 and 2 Jan (Sat, so Mon 4 Jan substitute) are holidays.
    code, out, _ = run(capsys, "deadline", "--profile", "default", "--category", "high",
                       "--received", "2026-12-31T10:00:00Z", "--nation", "sct")
    assert code == 0
    assert json.loads(out)["due"] == "2027-01-05"
    code, out, _ = run(capsys, "deadline", "--profile", "default", "--category", "high",
                       "--received", "2026-12-31T10:00:00Z", "--nation", "eng")
    assert json.loads(out)["due"] == "2027-01-04"


def test_deadline_uses_the_profiles_category_days(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "deadline", "--profile", "whg", "--category", "high",
                    "--received", "2026-06-01T09:00:00+01:00")
    assert json.loads(out)["due"] == "2026-06-08"  # whg: always within five working days (002 §2.5)


def test_deadline_follows_the_landlords_own_priorities(capsys: pytest.CaptureFixture[str]) -> None:
    """A profile with priorities answers by them (issue 16 item 3): by name, or by the priority a risk maps
    onto; a priority it does not have is one line naming the ones it has, exit 2."""
    thirteen = str(Path(__file__).parent.parent / "examples" / "profiles" / "thirteen.toml")
    _, out, _ = run(capsys, "deadline", "--profile", thirteen, "--priority", "standard",
                    "--received", "2026-03-02T11:00:00+00:00")
    assert (json.loads(out)["priority"], json.loads(out)["due"]) == ("standard", "2026-03-05")  # 3 working days
    _, out, _ = run(capsys, "deadline", "--profile", thirteen, "--category", "high",
                    "--received", "2026-03-02T11:00:00+00:00")
    assert (json.loads(out)["priority"], json.loads(out)["due"]) == ("most_serious", "2026-03-03")
    code, _, err = run(capsys, "deadline", "--profile", thirteen, "--priority", "p9", "--received", "2026-03-02T11:00Z")
    assert code == 2 and err.count("\n") == 1 and "most_serious, standard" in err
    code, _, err = run(capsys, "deadline", "--profile", "reading", "--received", "2026-03-02T11:00Z")
    assert code == 2 and "--category" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["deadline", "--profile", "nowhere", "--category", "high", "--received", "2026-01-05T09:00Z"],
         "unknown profile 'nowhere'"),
        (["deadline", "--profile", "reading", "--category", "urgent", "--received", "2026-01-05T09:00Z"],
         "invalid choice: 'urgent'"),
        (["deadline", "--profile", "reading", "--category", "high", "--received", "2026-01-05T09:00"],
         "has no time zone"),
        (["deadline", "--profile", "reading", "--category", "high", "--received", "next tuesday"],
         "not an ISO 8601 time"),
        (["profiles", "show", "nowhere"], "unknown profile"),
        (["triage", "--profile", "reading", "missing.json"], "missing.json: no such file"),
    ],
)
def test_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_triage_reads_a_report_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"category": "harassment", "hate": True}))
    code, out, _ = run(capsys, "triage", "--profile", "reading", str(report))
    assert code == 0
    assert json.loads(out)["outcome"] == "enquiry" and json.loads(out)["risk"] == "high"


def test_triage_names_the_bad_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"category": "noise", "incidents_last_month": "lots"}))
    code, _, err = run(capsys, "triage", "--profile", "reading", str(report))
    assert code == 2 and "report.json: incidents_last_month" in err
    report.write_text(json.dumps({"category": "karaoke"}))
    code, _, err = run(capsys, "triage", "--profile", "reading", str(report))
    assert code == 2 and "unknown category 'karaoke'" in err


def test_profiles_list_show_and_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "profiles", "list")
    assert code == 0 and "homes-in-somerset" in out
    code, out, _ = run(capsys, "profiles", "show", "homes-in-somerset")
    assert json.loads(out)["contact"]["least_frequent"] == "1 week"
    own = tmp_path / "ours.toml"
    own.write_text((SHIPPED_DIR / "default.toml").read_text().replace("[enquiry]", "[enquiry]\nlenght = 1"))
    code, _, err = run(capsys, "profiles", "check", str(own))
    assert code == 2 and "enquiry.lenght: unknown key" in err and len(err.strip().splitlines()) == 1
    own.write_text((SHIPPED_DIR / "default.toml").read_text())
    code, out, _ = run(capsys, "profiles", "check", str(own))
    assert code == 0 and "ok" in out


def test_console_script_is_installed_and_exits_2_on_bad_input() -> None:
    asb = Path(sys.executable).with_name("asb")
    done = subprocess.run([str(asb), "deadline", "--profile", "reading", "--category", "low",
                           "--received", "2026-01-05T09:00"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no time zone" in done.stderr
