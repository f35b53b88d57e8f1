"""Referrals and partners: the agencies a case may be referred to, sharing a case with an agency and
marking what is shareable (staff), and the partner routes, the only ones a partner agency's staff may use.

Referrals themselves are case commands (`make_referral`, `record_referral_outcome`: POST
/cases/{ref}/commands/...); a partner records the outcome of a referral to its own agency here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from api.deps import PARTNERS, SHARERS, STAFF, Caller, IdempotencyKey, Ref, Work, allow, errors
from api.schemas import (
    AgencyList,
    PartnerCaseList,
    PartnerCaseOut,
    PartnerOutcomeIn,
    PartnerReferralOut,
    ShareableIn,
    ShareableOut,
    ShareIn,
    ShareOut,
)

router = APIRouter(tags=["partners"])

ReferralId = Annotated[str, Path(pattern=r"^referral-[0-9]{1,9}$", max_length=20,
                                 description="the referral's id on the case, e.g. referral-3")]


@router.get("/agencies", dependencies=[allow(*STAFF)], operation_id="listAgencies", response_model=AgencyList,
            responses=errors(401, 403))
async def agencies(who: Caller, service: Work) -> AgencyList:
    """The partner agencies this service refers to (the profile's `referrals.agencies`): the ids
    make_referral and sharing take, and the bases on which each may be referred to without consent."""
    return service.agencies()


@router.post("/cases/{ref}/shares", dependencies=[allow(*SHARERS)], operation_id="shareCase",
             response_model=ShareOut, responses=errors(401, 403, 404, 409, 422),
             summary="Share a case with a partner agency, or stop sharing it")
async def share_case(ref: Ref, body: ShareIn, who: Caller, service: Work) -> ShareOut:
    """The agency's staff then see the case's shareable items and their own referrals, nothing else
    (003 §14-15, 004 §4.5). The case's officer or a manager decides; the change is audited."""
    return await service.share(who, ref, body.agency, body.shared)


@router.post("/cases/{ref}/shareable", dependencies=[allow(*SHARERS)], operation_id="markShareable",
             response_model=ShareableOut, responses=errors(401, 403, 404, 409, 422),
             summary="Mark an incident, a note or an evidence file as shareable with partner agencies (or not)")
async def mark_shareable(ref: Ref, body: ShareableIn, who: Caller, service: Work) -> ShareableOut:
    """Only what is marked is shown to the agencies the case is shared with; nothing is by default."""
    return await service.mark_shareable(who, ref, body.item, body.id, body.shareable)


@router.get("/partner/cases", dependencies=[allow(*PARTNERS)], operation_id="listPartnerCases",
            response_model=PartnerCaseList, responses=errors(401, 403), summary="Cases shared with your agency")
async def list_partner_cases(who: Caller, service: Work) -> PartnerCaseList:
    """Every case listed is an audited read."""
    return await service.partner_cases(who)


@router.get("/partner/cases/{ref}", dependencies=[allow(*PARTNERS)], operation_id="getPartnerCase",
            response_model=PartnerCaseOut, responses=errors(401, 403, 404, 422),
            summary="A case shared with your agency, as your agency may see it")
async def get_partner_case(ref: Ref, who: Caller, service: Work) -> PartnerCaseOut:
    """Its headline, the referrals to your agency and the people they name, and the incidents and notes
    marked shareable. A case not shared with your agency is a 404, like one that does not exist. Audited."""
    return await service.partner_case(who, ref)


@router.post("/partner/cases/{ref}/referrals/{referral}/outcome", dependencies=[allow(*PARTNERS)],
             operation_id="recordPartnerOutcome", response_model=PartnerReferralOut,
             responses=errors(401, 403, 404, 409, 422, 503, 504),
             summary="Record what became of a referral to your agency")
async def record_partner_outcome(
    ref: Ref, referral: ReferralId, who: Caller, service: Work,
    body: Annotated[PartnerOutcomeIn, Body()], idempotency_key: IdempotencyKey = None,
) -> PartnerReferralOut:
    """The case's own record_referral_outcome, sent as you: accepted, declined, no_response, completed or
    withdrawn, with a further follow-up date for an open one. It answers the officer's follow-up task."""
    return await service.partner_outcome(who, ref, referral, body, idempotency_key)
