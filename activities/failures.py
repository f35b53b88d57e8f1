"""What an activity's failure may tell Temporal: a code and an id, never personal data.

An exception raised from an activity is stored in the workflow's history (ActivityTaskFailed) for as
long as the history is kept, and shown in the Temporal UI to anyone who can read it. Delivery errors
name the people they were for ("SMTP refused recipients: ['…@…']"), a database error quotes the values
it could not write, so the raw text must never get there (README "The case file and data protection":
personal data stays in the case file, never in Temporal history, failure messages included).

Every activity is wrapped with `scrubbed`, the one place this is done. Whatever the activity raises
leaves it as ``ApplicationError(type=<code>, message="<code> (message <id>)")``:

- the code is the ApplicationError's own type (``DeliveryParked``, ``LetterNotRendered``, ...; the
  workflows decide on it) or, for any other exception, its class name;
- the id names what failed without naming anyone: the message key (``ASB-2026-000001/3/letter``), else
  the task's id or the case reference, else the activity's id;
- ``non_retryable`` and ``next_retry_delay`` are kept, so Temporal retries exactly as before;
- no details and no cause chain (``raise ... from None``) carry the original text.

The full text stays where it belongs: a delivery's reason in its message row (``last_error``) in the
case file. For anything else the worker's log gets the code, the id and where it was raised (the
traceback's frames, not the exception's text, which may quote personal values).

Outside an activity (a direct call from `asb letters preview` or a test) exceptions pass unchanged.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar, cast

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

log = logging.getLogger("asb.activities")

F = TypeVar("F", bound=Callable[..., Any])

#: Not failures: Temporal's own signals to the worker (cancellation, "completes later"); they pass as they are.
_PASS = (CancelledError, activity._CompleteAsyncError)


def _passes(exc: Exception) -> bool:
    return not activity.in_activity() or isinstance(exc, _PASS)


def failure_id(args: tuple[Any, ...]) -> str:
    """The id a scrubbed failure carries: the first id-like field of the activity's input."""
    for arg in args:
        for name in ("key", "task_id", "case_ref"):
            value = getattr(arg, name, None)
            if isinstance(value, str) and value:
                return value
    return f"activity {activity.info().activity_id}" if activity.in_activity() else "-"


def scrub(exc: BaseException, ident: str) -> ApplicationError:
    """The failure as Temporal may store it (see the module's docstring)."""
    if isinstance(exc, ApplicationError):
        code = exc.type or "ApplicationError"
        return ApplicationError(f"{code} (message {ident})", type=code, non_retryable=exc.non_retryable,
                                next_retry_delay=exc.next_retry_delay)
    code = type(exc).__name__
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.warning("activity failed: %s (message %s); raised at:\n%s", code, ident, frames)
    return ApplicationError(f"{code} (message {ident})", type=code)


def scrubbed(fn: F) -> F:
    """Wrap an activity (below `@activity.defn`) so its failures reach Temporal scrubbed."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                if _passes(exc):
                    raise
                raise scrub(exc, failure_id(args)) from None

        return cast(F, run_async)

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _passes(exc):
                raise
            raise scrub(exc, failure_id(args)) from None

    return cast(F, run)
