"""Render page 1 of every letter to docs/letters/*.png and time the rendering.

    .venv/bin/python -m tests.letters_docs            # writes docs/letters/, prints ms per letter

Uses a throwaway SQLite case file with a sample case, so the pictures show a realistic letter
without touching anyone's data. Needs pdftoppm (poppler-utils; scripts/bootstrap installs it).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from casefile.db import Store
from letters.compose import LetterJob, compose
from letters.config import DeliverySettings, Landlord, Officer
from letters.pdf import build_pdf
from letters.recipients import Recipient, find_recipient
from letters.render import LETTERS, renderer
from tests.letters_helpers import AT, seed_case

DOCS = Path(__file__).resolve().parents[1] / "docs" / "letters"
SETTINGS = DeliverySettings(
    landlord=Landlord(name="Example Homes", address=("1 High Street", "Reading", "RG1 2AA"), phone="0300 123 4567",
                      email="asb@example.org", survey_url="example.org/asb-survey"),
    officers={"o1": Officer(id="o1", name="Sam Patel", phone="0300 123 4568", email="sam.patel@example.org")},
)
EXTRAS = [("acknowledgement", "large-print", None), ("initial_letter_reported_person", "easy-read", None),
          ("acknowledgement", "standard", "cy")]


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/letters.db")
        store.upgrade()
        ref = "ASB-2026-000124"
        seed_case(store, ref, actions=True, legal="injunction", closure_reason="asb_stopped")
        # Reports that never became a case: their own category, as triage gave it.
        case_for = {"not_asb_outcome": "ASB-2026-000125", "early_support": "ASB-2026-000126"}
        seed_case(store, case_for["not_asb_outcome"], category="household_noise", risk=None)
        seed_case(store, case_for["early_support"], category="one_off_noise", risk=None)
        reason_for = {"enquiry_closed": "enquiry_expired"}
        render = renderer(None)
        timings: dict[str, float] = {}
        jobs = [(name, "standard", None) for name in LETTERS] + EXTRAS
        for name, variant, language in jobs:
            role = LETTERS[name]
            samples = []
            pdf = b""
            for _ in range(4):  # the first run also loads fonts; report the median of the rest
                start = time.perf_counter()
                case_ref = case_for.get(name, ref)
                with store.session() as session:
                    person = find_recipient(session, case_ref, role, None)
                    assert isinstance(person, Recipient)
                    job = LetterJob(case_ref, name, role, person.person_id, AT, reason=reason_for.get(name))
                    rendered = compose(session, job, person, SETTINGS, render, variant=variant, language=language)
                pdf = build_pdf(rendered.html)
                samples.append(time.perf_counter() - start)
            label = name if (variant, language) == ("standard", None) else f"{name}-{language or variant}"
            timings[label] = statistics.median(samples[1:]) * 1000
            pdf_file = Path(folder) / f"{label}.pdf"
            pdf_file.write_bytes(pdf)
            subprocess.run(["pdftoppm", "-png", "-r", "72", "-f", "1", "-l", "1", "-singlefile", str(pdf_file),
                            str(DOCS / label)], check=True)
        store.dispose()
    for label, ms in timings.items():
        print(f"{label:45} {ms:6.0f} ms")
    print(f"{'median':45} {statistics.median(timings.values()):6.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
