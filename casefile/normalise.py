"""How people's details are compared: one normal form each for names, phones, emails, postcodes,
addresses and UPRNs.

Issue 12 item 5: people are matched on intake by name, date of birth, address, phone and email, and
item 6 links a further report to an open case by its reported person or address (the Regulator's NM01
counting rule). The same person is written down differently by different callers ("07700 900123",
"+44 7700 900123"; "Bob  Neighbour", "bob neighbour"; "rg1 1aa", "RG1 1AA"), so every comparison is
made between these keys, never between the raw text. The keys are stored beside the person (the
`*_key` columns of people, kept in step by the model) so matching is an indexed lookup, not a scan.

The forms are deliberately literal: no nicknames, no fuzzy spelling, no guessing a town. A key that
is too loose would merge two neighbours' records or attach one tenant's report to another's case;
a missed match is only offered to no one, and an officer can still link it by hand.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

#: A Unique Property Reference Number (OS AddressBase): a positive integer of at most 12 digits.
UPRN_PATTERN = r"^\s*[0-9]{1,12}\s*$"
_UPRN = re.compile(UPRN_PATTERN)

#: The UK postcode shape (outward and inward code), for taking a postcode off the end of an address.
_POSTCODE_TAIL = re.compile(r"[\s,]*\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\s*$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "`": "'", "\u2010": "-", "\u2013": "-"})
#: Titles are dropped from names: "Mr Bob Neighbour" on one form is "Bob Neighbour" on another.
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "dame"})
#: Street words written either way; both sides get the short form ("3 High Street" = "3 high st").
_ADDRESS_WORDS = {
    "street": "st", "road": "rd", "avenue": "ave", "av": "ave", "lane": "ln", "drive": "dr", "close": "cl",
    "court": "ct", "crescent": "cres", "place": "pl", "gardens": "gdns", "terrace": "terr", "square": "sq",
    "apartment": "flat", "apt": "flat", "house": "ho", "mews": "mews", "way": "way", "grove": "gr",
}


def _text(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").translate(_QUOTES).casefold()


def name_key(value: str | None) -> str | None:
    """A name compared without case, spacing, full stops, commas or a leading title."""
    words = _SPACE.sub(" ", re.sub(r"[.,;:]", " ", _text(value))).strip().split(" ")
    while len(words) > 1 and words[0] in _TITLES:
        words = words[1:]
    key = " ".join(word for word in words if word)
    return key or None


def phone_key(value: str | None) -> str | None:
    """A UK number in its national form (07700900123) however written: +44, 0044, 44, "(0)", spaces,
    dashes. A number from abroad keeps its country code (+33...). Fewer than 10 digits: no key, since
    an extension or a fragment would match too many people."""
    raw = (value or "").strip()
    digits = re.sub(r"\D", "", raw)
    international = raw.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if international or (digits.startswith("44") and len(digits) in (12, 13)):
        if not digits.startswith("44"):
            return f"+{digits}" if len(digits) >= 10 else None
        digits = digits[2:]
        if not digits.startswith("0"):
            digits = "0" + digits
    return digits if len(digits) >= 10 else None


def email_key(value: str | None) -> str | None:
    """An email address without case or surrounding spaces (the only change every provider honours)."""
    key = _text(value).strip()
    return key if "@" in key else None


def postcode_key(value: str | None) -> str | None:
    """A postcode in capitals without spaces: "rg1 1aa" and "RG11AA" are RG11AA."""
    key = re.sub(r"\s+", "", value or "").upper()
    return key or None


def address_key(value: str | None) -> str | None:
    """An address compared as one line: no case, punctuation or line breaks, street words shortened,
    and a postcode written at its end taken off (the postcode is compared on its own)."""
    text = _POSTCODE_TAIL.sub("", _text(value))
    words = _SPACE.sub(" ", re.sub(r"[,.;:\n\r\t\"()]", " ", text)).strip().split(" ")
    key = " ".join(_ADDRESS_WORDS.get(word, word) for word in words if word)
    return key or None


def postcode_in_address(value: str | None) -> str | None:
    """The postcode written at the end of an address, if any (so "3 High St, RG1 1AA" has one)."""
    found = _POSTCODE_TAIL.search(_text(value))
    return (found.group(1) + found.group(2)).upper() if found else None


def check_uprn(value: str | None, field: str = "uprn") -> str | None:
    """A UPRN as the case file keeps it: its digits without leading zeros ("000100023336956" is too long,
    "010023336956" is 10023336956). Anything else is refused rather than stored, since a malformed
    UPRN would never match the property it was meant to name."""
    if value is None:
        return None
    if not isinstance(value, str) or not _UPRN.fullmatch(value) or int(value) == 0:
        raise ValueError(f"{field} must be a UPRN: 1 to 12 digits, e.g. 100023336956")
    return str(int(value))


#: A UPRN as every door takes it: the pattern, then check_uprn's reading (leading zeros dropped).
Uprn = Annotated[str | None, Field(max_length=15, pattern=UPRN_PATTERN,
                                   description="the address's Unique Property Reference Number: 1 to 12 digits"),
                 AfterValidator(check_uprn)]
