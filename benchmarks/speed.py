"""Issue 15's speed metrics, each beside a bare Temporal workflow in the same run (the shared harness).

    python3 benchmarks/speed.py [--harness ../shared/bench] [--quick] [--out-dir OUT] [--burst 1000]
                                [-- run_all.py options...]

Runs the shared harness (`../shared/bench/`, its README defines every metric) against this checkout:
case starts/s, record_contact latency, deadline fire lag, history length and replay, memory per cached
case and `asb simulate`, project and bare side by side on one dev server with the same worker settings,
alternating, with the load average beside each trial. Then, with `--burst N`, N case deadlines all
falling in the same second (a day's 17:00 for N cases) against N bare timers in the same second.

The harness was written against an older layout of this project; a copy of it is made in a temporary
folder with the modules that have moved since renamed (MOVED below), and run from there. Nothing is
written into the checkout. Speed is shown here, never asserted in the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
#: Modules the harness names by their old place: (old import text, new import text).
MOVED: tuple[tuple[str, str], ...] = (
    ("from asb.caseclient import", "from clients.caseclient import"),
    ("from policy.profiles import load", "from profiles import load"),
    ("from workflows.deadlines import", "from statemachine.deadlines import"),
)


def harness_copy(source: Path, into: Path) -> Path:
    """The harness, its imports brought up to this checkout's layout."""
    target = into / "bench"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("results", "__pycache__", "*.pyc"))
    for script in target.glob("*.py"):
        text = script.read_text()
        for old, new in MOVED:
            text = text.replace(old, new)
        script.write_text(text)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harness", type=Path, default=CHECKOUT.parent.parent / "shared" / "bench",
                        help="the shared harness folder (default: ../../shared/bench from the checkout)")
    parser.add_argument("--out-dir", type=Path, default=Path("bench-out"))
    parser.add_argument("--quick", action="store_true", help="the harness's small sizes, one repeat")
    parser.add_argument("--only", default=None, help="run_all.py --only (starts,commands,timers,...)")
    parser.add_argument("--burst", type=int, default=0, help="also N deadlines due in the same second")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="after --: more run_all.py options")
    args = parser.parse_args()
    harness = args.harness.resolve()
    if not (harness / "run_all.py").exists():
        sys.exit(f"no harness at {harness} (give --harness)")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rest = [a for a in args.rest if a != "--"]
    with tempfile.TemporaryDirectory(prefix="asb-speed-") as folder:
        bench = harness_copy(harness, Path(folder))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, str(bench / "run_all.py"), str(CHECKOUT), "--out-dir", str(args.out_dir.resolve())]
        if args.quick:
            command.append("--quick")
        if args.only:
            command += ["--only", args.only]
        code = subprocess.call(command + rest, env=env)
        if args.burst:
            # N deadlines in one second: every case's first response falls due at the same 17:00.
            code |= subprocess.call([sys.executable, str(bench / "bench_timers.py"), str(CHECKOUT), "--n",
                                     str(args.burst), "--spread", "1", "--lead", str(max(60, args.burst // 8)),
                                     "--repeats", "1", "--out", str((args.out_dir / "burst.json").resolve())],
                                    env=env)
    return code


if __name__ == "__main__":
    sys.exit(main())
