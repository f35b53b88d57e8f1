"""Administration: who the token says you are, the command catalogue, and the local signing keys."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import STAFF, Caller, allow, errors
from api.schemas import CommandCatalogue, CommandSpec, Jwks, Me
from statemachine.catalogue import COMMANDS

router = APIRouter(tags=["meta"])


@router.get("/me", operation_id="whoAmI", response_model=Me, responses=errors(401, 403))
async def me(who: Caller) -> Me:
    """The role and id the API sees in your token."""
    return Me(role=who.role, id=who.id)


@router.get("/commands", dependencies=[allow(*STAFF)], operation_id="listCommands",
            response_model=CommandCatalogue, responses=errors(401, 403))
async def commands(who: Caller) -> CommandCatalogue:
    """Every case command, from the case catalogue: what it does, where and by whom it may be sent, the
    JSON schema of its arguments, and the approval it asks for or decides."""
    return CommandCatalogue(commands=[
        CommandSpec(name=spec.name, summary=spec.summary, arguments=spec.args.model_json_schema(),
                    free_text=spec.free_text, kept=list(spec.kept), stages=list(spec.stages), roles=list(spec.roles),
                    asks=spec.asks, decides=spec.decides)
        for spec in COMMANDS.values()
    ])


@router.get("/.well-known/jwks.json", operation_id="getJwks", response_model=Jwks)
async def jwks(request: Request) -> Jwks:
    """The public keys local-mode tokens are signed with (empty when an identity provider issues them)."""
    return Jwks.model_validate(request.app.state.verifier.jwks())
