"""Taking people who are not parties to a case out of text written about it.

A chronology goes into a court bundle (served on the reported person) or to a multi-agency case
conference, so whatever an officer wrote about a neighbour, a relative or a caller who is not a party
must not travel with it (003 §15: data "relevant and limited to the requirements for which the data is
processed"; 004 §3.7: anything recorded may be disclosed). The case file knows every person it holds
(PersonRow); this replaces, in free text, the identifiers of everyone who is *outside* the case:

- their full name, and the parts of it (surname, first name) once they are known to be in this case's
  text (their full name, address, phone or email appears in it) or linked to its rows (a contact, a
  letter, an incident they reported, a party's representative): a first name alone, matched against
  every person the landlord holds, would blank out half the parties' own neighbours;
- their address (whole, its first line, and any line with a house or flat number) and postcode;
- their email address and phone number, however spaced ("07700 900123", "+44 7700 900123").

Email addresses and UK phone numbers that belong to no party (or to the landlord's own staff, named
by the caller) are redacted even when the case file does not know whose they are: a number in a note
is someone's, and if not a party's, then someone outside the case's.

The parties' own identifiers are kept, and win where they overlap ("Flat 3, Tower House" of a party
is not cut to "[redacted], Tower House" because someone else lives at "Flat 3"). An anonymous party
(003 §12: "may wish to report anonymously due to being frightened") counts as outside: the document
must not name them either.

Matching is by tokens, not by one regular expression of every person, so it stays linear in the
text however many people the case file holds. Over-redaction (a word a party shares with someone
outside) is the safe failure; a name the case file has never been told cannot be found, so officers
still write notes knowing they may be disclosed (004 §3.7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REDACTED = "[redacted]"

_TOKEN = re.compile(r"[^\W_]+")
#: What may sit between two words of one name or address: spaces, a comma, a full stop, an apostrophe
#: or a hyphen ("O'Brien", "Smith-Jones", "14, Acacia Avenue"), but not a new sentence's worth of text.
_SOFT_GAP = re.compile(r"[\s,.'’\-]{1,4}")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
#: A run of digits with the separators phone numbers are written with; split into groups and tried
#: group range by group range, so "flat 3 07700 900123" still finds the number.
_NUMBERISH = re.compile(r"\+?\(?\d[\d\s\-().]*\d")
_DIGITS = re.compile(r"\d+")
#: Words that are part of how a name is written but name nobody on their own.
_NOT_A_NAME = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "sir", "rev", "the", "and", "van", "von", "der",
                         "del", "des", "los", "las", "bin", "binti"})
#: A name part shorter than this is never redacted alone ("Al", "Jo"): too many false hits in text.
_MIN_PART = 3


@dataclass(frozen=True)
class Identity:
    """What the case file holds that identifies a person (a PersonRow's personal columns)."""

    id: str
    name: str | None = None
    address: str | None = None
    postcode: str | None = None
    email: str | None = None
    phone: str | None = None


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.casefold()))


def phone_digits(value: str) -> str | None:
    """A phone number as the digits a UK number is dialled with at home: "+44 (0)7700 900123" -> 07700900123."""
    digits = re.sub(r"\D", "", value)
    if digits.startswith("440"):
        digits = "0" + digits[3:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    return digits if len(digits) >= 6 else None


def _uk_phone(digits: str) -> bool:
    """Shaped like a UK phone number (01, 02, 03, 07, 08 and 10 or 11 digits), not a crime reference."""
    return len(digits) in (10, 11) and digits[0] == "0" and digits[1] in "12378"


def _compact_postcode(token: str) -> bool:
    """A postcode written without its space, e.g. "rg14ab": letters and digits, five to seven of them."""
    return 5 <= len(token) <= 7 and token.isalnum() and any(c.isdigit() for c in token) \
        and any(c.isalpha() for c in token)


def _phrases(person: Identity) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """(strong phrases, name parts): strong ones are redacted wherever they appear; name parts only for
    someone known to be in this case's text."""
    strong: set[tuple[str, ...]] = set()
    parts: set[tuple[str, ...]] = set()
    if person.name and (name := _tokens(person.name)):
        strong.add(name)
        parts.update((part,) for part in name if len(part) >= _MIN_PART and part not in _NOT_A_NAME)
    if person.address and (whole := _tokens(person.address)):
        strong.add(whole)
        lines = [line for line in re.split(r"[,\n]+", person.address) if _tokens(line)]
        for number, line in enumerate(lines):
            # The address from its start to any line ("Flat 3", "Flat 3, Mill Court", ...), and any line
            # with a number in it, points at one home; a town or a street name on its own does not.
            strong.add(_tokens(" ".join(lines[:number + 1])))
            if any(ch.isdigit() for ch in line):
                strong.add(_tokens(line))
    if person.postcode and (postcode := _tokens(person.postcode)):
        strong.add(postcode)
        strong.add(("".join(postcode),))
    # One word alone ("1", "High", "Jo") identifies nobody, and would blank out "Stage 1" or "risk high": a
    # name or an address line is redacted as a phrase; alone, only a compact postcode ("RG14AB") is.
    strong = {phrase for phrase in strong if len(phrase) > 1 or _compact_postcode(phrase[0])}
    return strong, parts


class Redactor:
    """Replaces the identifiers of people outside a case with "[redacted]" in any text about it."""

    def __init__(self, inside: Iterable[Identity], outside: Iterable[Identity], *,
                 keep_contacts: Iterable[str] = (), texts: Iterable[str | None] | None = None) -> None:
        """`texts`, when given, are all the texts this redactor will be asked about: people outside
        whose identifiers cannot occur in them are not indexed (a landlord holds many thousands)."""
        inside = list(inside)
        if texts is not None:
            outside = _who_may_appear(outside, [text for text in texts if text])
        #: phrase -> (True if a party's, the ids of the outside people it identifies)
        self._owner: dict[tuple[str, ...], set[str]] = {}
        self._inside: set[tuple[str, ...]] = set()
        self._parts: dict[str, set[tuple[str, ...]]] = {}
        self._emails_in = {p.email.strip().casefold() for p in inside if p.email and p.email.strip()}
        self._emails_out: dict[str, str] = {}
        self._phones_in = {d for p in inside if p.phone and (d := phone_digits(p.phone))}
        self._phones_out: dict[str, str] = {}
        for value in keep_contacts:
            if "@" in value:
                self._emails_in.add(value.strip().casefold())
            elif digits := phone_digits(value):
                self._phones_in.add(digits)
        for person in inside:
            strong, parts = _phrases(person)
            self._inside |= strong | parts
        for person in outside:
            strong, parts = _phrases(person)
            for phrase in strong:
                self._owner.setdefault(phrase, set()).add(person.id)
            self._parts[person.id] = parts
            if person.email and person.email.strip():
                self._emails_out.setdefault(person.email.strip().casefold(), person.id)
            if person.phone and (digits := phone_digits(person.phone)):
                self._phones_out.setdefault(digits, person.id)
        self._active: dict[tuple[str, ...], bool] = {}
        self._by_first: dict[str, list[tuple[str, ...]]] = {}
        self._connected: set[str] = set()
        self._index()

    # ------------------------------------------------------------------ the index

    def _index(self) -> None:
        """Phrase -> is it a party's, by first word, longest first (the longest match wins)."""
        active: dict[tuple[str, ...], bool] = {phrase: False for phrase in self._owner}
        for person_id in self._connected:
            for part in self._parts.get(person_id, ()):
                active.setdefault(part, False)
        for phrase in self._inside:
            active[phrase] = True  # a party's own words are kept, even where someone else shares them
        self._active = active
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in active:
            by_first.setdefault(phrase[0], []).append(phrase)
        for phrases in by_first.values():
            phrases.sort(key=len, reverse=True)
        self._by_first = by_first

    def connect(self, person_ids: Iterable[str]) -> None:
        """People outside the case who are linked to its rows: their first names and surnames are
        redacted on their own too."""
        new = set(person_ids) - self._connected
        if new & set(self._parts):
            self._connected |= new
            self._index()

    def learn(self, texts: Iterable[str | None]) -> None:
        """Read the case's texts once: anyone outside it who is named or contacted in them in full is
        connected, so a later "Carol said" is redacted as well as "Carol Stranger"."""
        found: set[str] = set()
        for text in texts:
            if not text:
                continue
            for start, end, party in self._spans(text):
                if party:
                    continue
                found |= self._who(text[start:end])
        self.connect(found)

    def _who(self, fragment: str) -> set[str]:
        owners = set(self._owner.get(_tokens(fragment), ()))
        email = fragment.strip().casefold()
        if email in self._emails_out:
            owners.add(self._emails_out[email])
        digits = phone_digits(fragment)
        if digits and digits in self._phones_out:
            owners.add(self._phones_out[digits])
        return owners

    # ------------------------------------------------------------------ matching

    def _spans(self, text: str) -> list[tuple[int, int, bool]]:
        """(start, end, a party's?) for every identifier found, left to right, not overlapping.

        Email addresses and phone numbers are found first and their words are not read again, so a
        party's "alice.smith@example.org" is never cut up because someone outside is called Smith."""
        fixed = [(m.start(), m.end(), m.group(0).casefold() in self._emails_in) for m in _EMAIL.finditer(text)]
        for match in _NUMBERISH.finditer(text):
            fixed += self._phone_spans(match.group(0), match.start())
        spans = _first_longest(fixed)
        covered = [(start, end) for start, end, _ in spans]
        tokens = [m for m in _TOKEN.finditer(text) if not any(s <= m.start() < e for s, e in covered)]
        folded = [m.group(0).casefold() for m in tokens]
        i = 0
        while i < len(tokens):
            hit = self._longest(text, tokens, folded, i)
            if hit is None:
                i += 1
                continue
            length, party = hit
            spans.append((tokens[i].start(), tokens[i + length - 1].end(), party))
            i += length
        return sorted(spans)

    def _longest(self, text: str, tokens: Sequence[re.Match[str]], folded: Sequence[str],
                 i: int) -> tuple[int, bool] | None:
        for phrase in self._by_first.get(folded[i], ()):
            n = len(phrase)
            if tuple(folded[i:i + n]) != phrase:
                continue
            if all(_SOFT_GAP.fullmatch(text[tokens[k].end():tokens[k + 1].start()]) for k in range(i, i + n - 1)):
                return n, self._active[phrase]
        return None

    def _phone_spans(self, run: str, offset: int) -> list[tuple[int, int, bool]]:
        groups = list(_DIGITS.finditer(run))
        found: list[tuple[int, int, bool]] = []
        i = 0
        while i < len(groups):
            best: tuple[int, bool] | None = None
            for j in range(len(groups) - 1, i - 1, -1):  # the longest range of groups first
                digits = phone_digits(run[groups[i].start():groups[j].end()])
                if digits is None:
                    continue
                if digits in self._phones_in:
                    best = (j, True)
                elif digits in self._phones_out or _uk_phone(digits):
                    best = (j, False)
                if best is not None:
                    break
            if best is None:
                i += 1
                continue
            j, party = best
            start = groups[i].start()
            if start > 0 and run[start - 1] == "+":
                start -= 1
            found.append((offset + start, offset + groups[j].end(), party))
            i = j + 1
        return found

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        out: list[str] = []
        last = 0
        for start, end, party in self._spans(text):
            if party:
                continue
            out.append(text[last:start])
            out.append(REDACTED)
            last = end
        out.append(text[last:])
        return "".join(out)


def _who_may_appear(people: Iterable[Identity], texts: list[str]) -> list[Identity]:
    """Those of `people` with something in `texts`: a word of their name, every word of an address
    line, their postcode, email or phone. A cheap test that never drops someone who would be found."""
    words = {word for text in texts for word in _TOKEN.findall(text.casefold())}
    emails = {m.group(0).casefold() for text in texts for m in _EMAIL.finditer(text)}
    digits = "|".join(re.sub(r"\D", "", m.group(0)) for text in texts for m in _NUMBERISH.finditer(text))
    found = []
    for person in people:
        name = _TOKEN.findall(person.name.casefold()) if person.name else []
        lines = [_TOKEN.findall(line.casefold()) for line in re.split(r"[,\n]+", person.address or "")]
        postcode = _TOKEN.findall(person.postcode.casefold()) if person.postcode else []
        phone = phone_digits(person.phone) if person.phone else None
        if (any(word in words for word in name)
                or any(line and all(word in words for word in line) for line in lines)
                or (postcode and (all(word in words for word in postcode) or "".join(postcode) in words))
                or (person.email and person.email.strip().casefold() in emails)
                or (phone and phone[-9:] in digits)):
            found.append(person)
    return found


def _first_longest(spans: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Of overlapping finds, the one starting first (then the longest) stands; the others are dropped."""
    kept: list[tuple[int, int, bool]] = []
    for span in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept
