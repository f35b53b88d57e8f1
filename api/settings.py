"""What the API needs to know about where it runs: the landlord's profile, who issues tokens, limits.

Read from the environment in production (`ApiSettings.from_env`) and built directly in tests. With no
OIDC settings the API runs in local mode: it signs and verifies its own tokens with a key kept in the
state folder, so `asb up` works on a laptop with no identity provider.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from casefile.evidence_store import EvidenceSettings
from workflows.case import TASK_QUEUE

LOCAL_ISSUER = "asb-local"
LOCAL_AUDIENCE = "asb-api"


@dataclass(frozen=True)
class ApiSettings:
    #: The landlord's service standard new cases are opened under (a shipped name or a file).
    profile: str = "default"
    #: OIDC (e.g. Entra ID): all three set means production mode; none set means local mode.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    #: Where local mode keeps its signing key.
    state_dir: Path = Path(".asb")
    task_queue: str = TASK_QUEUE
    #: The public online form, per client address.
    public_reports_per_minute: int = 5
    #: Proxies whose X-Forwarded-For is believed (comma-separated addresses, or *); none by default, so
    #: the client address is the connection's own (ASB_FORWARDED_ALLOW_IPS, issue 9 item 12).
    forwarded_allow_ips: str | None = None
    #: Request bodies larger than this are refused with 413 before they are read (ASB_MAX_BODY_BYTES).
    max_body_bytes: int = 65536
    #: JSON nested deeper than this is refused with 422 before it is parsed (ASB_MAX_BODY_DEPTH).
    max_body_depth: int = 32
    #: How long a case command may take before the API gives up waiting (the case keeps its own state).
    command_timeout_seconds: float = 30.0
    #: How long logging a report waits for Temporal to start its case before answering 202 "accepted,
    #: starting" (the reconciler starts it later).
    start_timeout_seconds: float = 10.0
    #: How long a case view waits for the workflow's status before showing the case file alone.
    query_timeout_seconds: float = 10.0
    #: Whether new cases upsert Temporal search attributes (the dev server and clusters have them).
    search_attributes: bool = True
    #: Where evidence files are kept and what is accepted; None: the ASB_EVIDENCE_* settings, with the
    #: local folder defaulting to `evidence` in this state folder (evidence_settings()).
    evidence: EvidenceSettings | None = None

    def evidence_settings(self) -> EvidenceSettings:
        """The evidence settings the doors use: given, or from the environment with this state folder."""
        if self.evidence is not None:
            self.evidence.check()
            return self.evidence
        return EvidenceSettings.from_env({**os.environ, "ASB_STATE_DIR": str(self.state_dir)})

    @property
    def local_mode(self) -> bool:
        return not (self.oidc_issuer or self.oidc_audience or self.oidc_jwks_url)

    def check(self) -> None:
        """Refuse half an OIDC configuration rather than quietly falling back to local tokens."""
        given = [self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url]
        if any(given) and not all(given):
            raise ValueError("set all of ASB_OIDC_ISSUER, ASB_OIDC_AUDIENCE and ASB_OIDC_JWKS_URL, or none")
        if self.public_reports_per_minute < 1:
            raise ValueError("ASB_PUBLIC_REPORTS_PER_MINUTE must be at least 1")
        if self.max_body_bytes < 1024:
            raise ValueError("ASB_MAX_BODY_BYTES must be at least 1024")
        if self.max_body_depth < 8:
            raise ValueError("ASB_MAX_BODY_DEPTH must be at least 8")
        self.evidence_settings()  # ASB_EVIDENCE_*: refused here, naming the setting, not when serving

    @classmethod
    def from_env(cls, **overrides: object) -> ApiSettings:
        env = os.environ
        values: dict[str, object] = {
            "profile": env.get("ASB_PROFILE", cls.profile),
            "oidc_issuer": env.get("ASB_OIDC_ISSUER") or None,
            "oidc_audience": env.get("ASB_OIDC_AUDIENCE") or None,
            "oidc_jwks_url": env.get("ASB_OIDC_JWKS_URL") or None,
            "state_dir": Path(env.get("ASB_STATE_DIR", ".asb")).resolve(),
            "public_reports_per_minute": _int(env, "ASB_PUBLIC_REPORTS_PER_MINUTE", 5),
            "forwarded_allow_ips": env.get("ASB_FORWARDED_ALLOW_IPS", "").strip() or None,
            "max_body_bytes": _int(env, "ASB_MAX_BODY_BYTES", 65536),
            "max_body_depth": _int(env, "ASB_MAX_BODY_DEPTH", 32),
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
