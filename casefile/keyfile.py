"""Keys kept in the state folder: made on first use, readable only by their owner, one for every process.

The local signing key (api/auth.py), the pages' session key (web/settings.py) and the survey links' key
(casefile/surveys.py) are each created here, so the rule is written once: O_EXCL, so two processes
starting at once keep one key rather than two that disagree, and mode 0600.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

#: The shortest secret accepted (bytes of text): 256 bits of URL-safe base64 is 43 characters.
MIN_SECRET = 32


def create_once(path: Path, content: bytes) -> None:
    """Write `content` to `path` unless it exists (another process may be writing it at this moment)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)


def secret_in(path: Path, what: str) -> bytes:
    """The random secret kept at `path`, made on first use; a file that was cut short is refused, naming it."""
    create_once(path, secrets.token_urlsafe(48).encode())
    key = path.read_text().strip().encode()
    if len(key) < MIN_SECRET:
        raise ValueError(f"{path}: the {what} is too short; delete the file to make a new one")
    return key
