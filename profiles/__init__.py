"""Finding and loading profiles: a shipped name or a landlord's own file, refused clearly when wrong.

The file reading lives here, outside `policy/`, so the policy package stays pure (no I/O): it holds
the profile's model and rules, and the shipped TOML files as data (`policy/profiles/*.toml`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

import policy
from policy.model import Profile

SHIPPED_DIR = Path(policy.__file__).with_name("profiles")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and every bad field."""


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    shipped = SHIPPED_DIR / f"{name_or_path}.toml"
    if "/" not in name_or_path and not name_or_path.endswith(".toml") and shipped.is_file():
        return shipped
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise ProfileError(
        f"unknown profile {name_or_path!r}: not a shipped profile ({', '.join(shipped_names())}) nor a file"
    )


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required but missing"
        problems.append(f"{where}: {message.removeprefix('Value error, ')}")
    return problems


def parse(text: str, origin: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin}: malformed TOML: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"{origin}: " + "; ".join(_describe(exc))) from exc


def load(name_or_path: str) -> Profile:
    path = resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from exc
    return parse(text, str(path))
