"""The evidence files of the case-file benchmark's two-year case: 50 files of realistic sizes, made
deterministically (the same bytes on every run and machine), so the store's figures can be compared.

What an officer gathers on a persistent noise case (000 "Evidence gathering"; 003 stage 2: CCTV, Noise
App recordings, diary sheets, photos, letters):

- 22 photos, 1 to 3 MB (phone JPEGs);
- 12 recordings of about 5 MB (Noise App MP3s);
- 12 diary sheets: 6 scanned PDFs of 30 to 120 KB and 6 typed-up text sheets of 1.5 to 4 KB;
- 2 CCTV stills of 300 to 600 KB, and 2 letters (PDFs of 40 to 90 KB).

The bytes after each format's signature are pseudo-random, as compressed photos and recordings are:
neither the store nor a disk could shrink them. The file is what casefile/sniff.py recognises by its
first bytes, so add_evidence checks it exactly as it checks an upload.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

KB = 1000
MB = 1000 * 1000
#: How many of each kind, and the kind's file format and size range in bytes.
PLAN: tuple[tuple[str, str, int, int, int], ...] = (
    # kind, format, count, smallest, largest
    ("photo", "jpeg", 22, 1 * MB, 3 * MB),
    ("recording", "mp3", 12, 4_600 * KB, 5_400 * KB),
    ("diary_sheet", "pdf", 6, 30 * KB, 120 * KB),
    ("diary_sheet", "text", 6, 1_500, 4_000),
    ("cctv_still", "jpeg", 2, 300 * KB, 600 * KB),
    ("letter", "pdf", 2, 40 * KB, 90 * KB),
)
EXTENSIONS = {"jpeg": ".jpg", "mp3": ".mp3", "pdf": ".pdf", "text": ".txt"}
#: Kinds tied to the incident they show; the others belong to the case as a whole.
OF_AN_INCIDENT = frozenset({"photo", "recording", "cctv_still"})
SEED = 12


@dataclass(frozen=True)
class PlannedFile:
    """One file of the case: which fortnight of the case it is added in, and what it is."""

    number: int
    fortnight: int
    kind: str
    form: str
    size: int
    filename: str
    description: str

    @property
    def of_incident(self) -> bool:
        return self.kind in OF_AN_INCIDENT


def plan(start: date) -> list[PlannedFile]:
    """The 50 files, one in each of the case's first 50 fortnights, kinds in a fixed shuffled order."""
    rng = random.Random(SEED)
    kinds = [(kind, form, lo, hi) for kind, form, count, lo, hi in PLAN for _ in range(count)]
    rng.shuffle(kinds)
    files = []
    for number, (kind, form, lo, hi) in enumerate(kinds, start=1):
        fortnight = number
        day = start + timedelta(days=14 * fortnight)
        files.append(PlannedFile(
            number=number, fortnight=fortnight, kind=kind, form=form, size=rng.randint(lo, hi),
            filename=f"{kind.replace('_', '-')}-{day.isoformat()}-{number:02d}{EXTENSIONS[form]}",
            description=_DESCRIPTIONS[kind].format(day=day.strftime("%d %B %Y")),
        ))
    return files


_DESCRIPTIONS = {
    "photo": "Photo taken by the reporter on {day}: the rear garden of number 2 after the party, bottles and a "
             "speaker on the wall by the fence.",
    "recording": "Noise App recording sent on {day}: bass music and shouting through the party wall, "
                 "about 01:10, in the reporter's back bedroom.",
    "diary_sheet": "Diary sheet returned by the reporter on {day}, covering the previous two weeks.",
    "cctv_still": "Still from the block's CCTV on {day}, camera 3 (entrance), showing visitors arriving at 23:40.",
    "letter": "Letter received on {day} from a neighbour at number 4 supporting the complaint.",
}


def content(file: PlannedFile) -> bytes:
    """The file's bytes: the same for the same file on every run."""
    rng = random.Random(SEED * 1000 + file.number)
    if file.form == "jpeg":
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
        return head + rng.randbytes(file.size - len(head) - 2) + b"\xff\xd9"
    if file.form == "mp3":
        head = b"ID3\x04\x00\x00\x00\x00\x00\x00"
        return head + rng.randbytes(file.size - len(head))
    if file.form == "pdf":
        head = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /XObject /Subtype /Image /Filter /DCTDecode "
                b">>\nstream\n")
        tail = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
        return head + rng.randbytes(file.size - len(head) - len(tail)) + tail
    return _diary_text(rng, file.size)


_SOUNDS = ("bass music through the wall", "shouting in the garden", "doors slamming", "a dog barking",
           "people arguing on the landing", "music from a car outside")


def _diary_text(rng: random.Random, size: int) -> bytes:
    lines = ["Incident diary sheet", "Name: the reporter (case file holds it)", ""]
    text = "\n".join(lines)
    day = date(2026, 3, 2)
    while len(text.encode()) < size:
        day += timedelta(days=rng.randint(1, 3))
        hour = rng.randint(21, 23)
        lines.append(f"{day.isoformat()} {hour}:{rng.randint(0, 59):02d} to 0{rng.randint(0, 3)}:"
                     f"{rng.randint(0, 59):02d}: {rng.choice(_SOUNDS)}; "
                     f"{rng.choice(('could not sleep', 'children woken', 'called the police', 'recorded it'))}.")
        text = "\n".join(lines)
    return text.encode()[:size]
