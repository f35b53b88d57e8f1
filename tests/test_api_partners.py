"""Referrals and partner agencies through the API, on the real stack (PostgreSQL, Temporal, the workflows):
a referral needs the person's recorded consent unless the law allows it without (003 §15; 004 §2.2, §4.4);
a partner agency's staff see only the cases shared with their agency, and in them only what was marked
shareable, and every one of their reads is audited (issue 12 item 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from casefile.db import Store
from casefile.models import AuditRow, ConsentRow, PartyRow, ReferralRow
from casefile.sar import export_subject
from tests.api_support import Tokens, report

OFFICER = ("officer", "o1")
REPORTER = {"name": "Alice Example", "phone": "07700 900123", "contact_method": "phone",
            "consents": {"action": True, "referral": True}}


def _tokens(state_dir: Any) -> Tokens:
    return Tokens(state_dir)


async def _case(api: httpx.AsyncClient, tokens: Tokens, **reporter: Any) -> str:
    body = report(reporter={**REPORTER, **reporter})
    response = await api.post("/reports", json=body, headers=tokens("intake", "i1"))
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


async def _do(api: httpx.AsyncClient, tokens: Tokens, ref: str, command: str, who: tuple[str, str] = OFFICER,
              **args: Any) -> httpx.Response:
    return await api.post(f"/cases/{ref}/commands/{command}", json={"args": args}, headers=tokens(*who))


def _audit(store: Store, actor: str) -> list[AuditRow]:
    with store.session() as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.actor_id == actor).order_by(AuditRow.id)))


def _party(store: Store, ref: str, role: str) -> str:
    with store.session() as session:
        return str(session.scalars(select(PartyRow.person_id).where(PartyRow.case_ref == ref,
                                                                     PartyRow.role == role)).one())


async def test_a_partner_sees_only_the_shared_case_and_in_it_only_what_is_shareable(
    api: httpx.AsyncClient, store: Store, state_dir: Any
) -> None:
    tokens = _tokens(state_dir)
    shared, other = await _case(api, tokens), await _case(api, tokens)
    referred = await _do(api, tokens, shared, "make_referral", agency="victim_support",
                         note="Alice would like a call on weekday evenings")
    assert referred.status_code == 200, referred.text
    assert (await _do(api, tokens, shared, "record_equality_assessment",
                      note="Bob Neighbour has a support worker")).status_code == 200
    assert (await _do(api, tokens, shared, "record_incident", occurred_at=datetime.now(UTC).isoformat(),
                      category="noise")).status_code == 200
    assert (await _do(api, tokens, other, "make_referral", agency="victim_support")).status_code == 200

    view = (await api.get(f"/cases/{shared}", headers=tokens(*OFFICER))).json()
    [referral] = view["referrals"]
    alice = _party(store, shared, "reporter")
    with store.session() as session:
        consent = session.scalars(select(ConsentRow.id).where(ConsentRow.person_id == alice,
                                                              ConsentRow.kind == "referral")).one()
    # Made with the consent the case file holds, named by the door, never by the caller (003 §15).
    assert (referral["agency"], referral["basis"], referral["person_id"], referral["consent_id"]) == (
        "victim_support", "consent", alice, consent)
    intake_incident, later_incident = view["incidents"]
    referral_note = next(n for n in view["notes"] if n["command"] == "make_referral")
    assert not any(i["shareable"] for i in view["incidents"]) and not any(n["shareable"] for n in view["notes"])

    officer = tokens(*OFFICER)
    for item, item_id in (("incident", later_incident["id"]), ("note", referral_note["id"])):
        marked = await api.post(f"/cases/{shared}/shareable", json={"item": item, "id": item_id}, headers=officer)
        assert marked.status_code == 200 and marked.json()["shareable"] is True, marked.text
    share = await api.post(f"/cases/{shared}/shares", json={"agency": "victim_support"}, headers=officer)
    assert share.status_code == 200 and share.json()["shared"] is True, share.text
    assert [s["agency"] for s in (await api.get(f"/cases/{shared}", headers=officer)).json()["shared_with"]] == [
        "victim_support"]

    partner = tokens("partner", "vs1", agency="victim_support")
    listed = await api.get("/partner/cases", headers=partner)
    assert listed.status_code == 200, listed.text
    refs = [c["reference"] for c in listed.json()["cases"]]
    assert shared in refs and other not in refs

    seen = await api.get(f"/partner/cases/{shared}", headers=partner)
    assert seen.status_code == 200, seen.text
    case = seen.json()
    assert [r["referral_id"] for r in case["referrals_to_you"]] == ["referral-1"]
    assert [(p["person_id"], p["roles"], p["name"], p["phone"]) for p in case["people"]] == [
        (alice, ["reporter"], "Alice Example", "07700 900123")]  # the person referred, nobody else
    assert [i["id"] for i in case["incidents"]] == [later_incident["id"]]
    assert [(n["id"], n["text"]) for n in case["notes"]] == [
        (referral_note["id"], "Alice would like a call on weekday evenings")]
    assert not {"timeline", "status", "parties", "tasks", "shared_with"} & set(case)
    text = seen.text
    assert "Bob Neighbour" not in text and "support worker" not in text and "3 High Street" not in text
    assert intake_incident["description"] not in text

    # Any other case is a 404, exactly as a case that does not exist; and another agency sees nothing.
    hidden = await api.get(f"/partner/cases/{other}", headers=partner)
    missing = await api.get("/partner/cases/ASB-1999-999999", headers=partner)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(other, "X") == missing.json()["detail"].replace("ASB-1999-999999", "X")
    police = tokens("partner", "tvp1", agency="police")
    assert (await api.get(f"/partner/cases/{shared}", headers=police)).status_code == 404
    assert shared not in [c["reference"] for c in (await api.get("/partner/cases", headers=police)).json()["cases"]]

    # Every partner read left its audit row: the list, the view (with what it showed), each refusal.
    rows = _audit(store, "vs1")
    reads = [(r.action, r.case_ref, (r.after or {}).get("purpose")) for r in rows]
    assert (("read", shared, "partner list")) in reads
    assert ("read", shared, "partner view") in reads
    assert ("read_refused", other, "partner view") in reads and ("read_refused", "ASB-1999-999999", "partner view") \
        in reads
    assert other not in {r.case_ref for r in rows if r.action == "read"}
    view_row = next(r for r in rows if r.action == "read" and (r.after or {}).get("purpose") == "partner view")
    assert view_row.actor_role == "partner" and view_row.after is not None
    assert view_row.after["agency"] == "victim_support"
    assert view_row.after["shown"] == {"referrals": ["referral-1"], "people": [alice],
                                       "incidents": [later_incident["id"]], "notes": [referral_note["id"]],
                                       "evidence": []}
    # The police were refused this case; their list may hold cases other tests shared with the police.
    assert [r.action for r in _audit(store, "tvp1") if r.case_ref == shared] == ["read_refused"]

    # A partner has no door to the staff routes; unsharing ends what it sees.
    for method, path, body in (("GET", f"/cases/{shared}", None), ("GET", "/cases", None), ("GET", "/tasks", None),
                               ("POST", f"/cases/{shared}/commands/record_referral_outcome",
                                {"args": {"referral": "referral-1", "outcome": "accepted"}}),
                               ("POST", f"/cases/{shared}/shares", {"agency": "victim_support"}),
                               ("GET", "/agencies", None), ("GET", "/commands", None)):
        refused = await api.request(method, path, json=body, headers=partner)
        assert refused.status_code == 403, (path, refused.text)
    unshare = await api.post(f"/cases/{shared}/shares", json={"agency": "victim_support", "shared": False},
                             headers=tokens("manager", "m1"))
    assert unshare.status_code == 200 and unshare.json()["shared"] is False
    assert (await api.get(f"/partner/cases/{shared}", headers=partner)).status_code == 404


async def test_a_referral_without_consent_is_refused_unless_the_law_allows_it(
    api: httpx.AsyncClient, store: Store, state_dir: Any
) -> None:
    tokens = _tokens(state_dir)
    never_asked = await _case(api, tokens, consents={"action": True})
    refused = await _do(api, tokens, never_asked, "make_referral", agency="victim_support", note="please call")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith("no referral consent is recorded for the person")
    timeline = store.timeline(never_asked)
    assert not [e for e in timeline if e["event"] == "referral"]
    assert [e["command"] for e in timeline if e["event"] == "rejected"] == ["make_referral"]
    assert "please call" not in str((await api.get(f"/cases/{never_asked}", headers=tokens(*OFFICER))).json())

    # Consent given at intake, then withdrawn: the latest word counts.
    withdrawn = await _case(api, tokens)
    person = _party(store, withdrawn, "reporter")
    with store.session() as session, session.begin():
        session.add(ConsentRow(person_id=person, case_ref=withdrawn, kind="referral", given=False,
                               recorded_at=datetime.now(UTC) + timedelta(seconds=1), recorded_by="o1"))
    assert (await _do(api, tokens, withdrawn, "make_referral", agency="victim_support")).status_code == 409

    # 004 §2.2, §4.4: a safeguarding referral is made without consent; a support referral is not.
    reported = _party(store, never_asked, "reported_person")
    made = await _do(api, tokens, never_asked, "make_referral", agency="adult_social_care", basis="safeguarding",
                     person_id=reported)
    assert made.status_code == 200, made.text
    wrong = await _do(api, tokens, never_asked, "make_referral", agency="cmht", basis="safeguarding",
                      person_id=reported)
    assert wrong.status_code == 409 and "needs the person's consent" in wrong.json()["detail"]

    # Bad input is a 422 naming the field, and nothing is sent to the case.
    for args, field in (({"agency": "victim_support", "consent_ref": "C-1"}, "args.consent_ref"),
                        ({"agency": "victim_support", "person_id": "P-not-in-this-case"}, "args.person_id"),
                        ({"agency": "sari"}, "args.agency"),
                        ({"agency": "victim_support", "basis": "because"}, "args.basis"),
                        ({"agency": "victim_support", "follow_up": "next week"}, "args.follow_up")):
        bad = await api.post(f"/cases/{never_asked}/commands/make_referral", json={"args": args},
                             headers=tokens(*OFFICER))
        assert bad.status_code == 422 and bad.json()["field"] == field, (args, bad.text)
    assert [e["to"] for e in store.timeline(never_asked) if e["event"] == "referral"] == ["adult_social_care"]

    # Sharing: a known agency, by the case's officer or a manager.
    officer = tokens(*OFFICER)
    unknown = await api.post(f"/cases/{never_asked}/shares", json={"agency": "sari"}, headers=officer)
    assert unknown.status_code == 422 and unknown.json()["field"] == "agency"
    another = await api.post(f"/cases/{never_asked}/shares", json={"agency": "police"}, headers=tokens("officer", "o2"))
    assert another.status_code == 409 and another.json()["detail"] == "the case belongs to officer o1"
    intake = await api.post(f"/cases/{never_asked}/shares", json={"agency": "police"}, headers=tokens("intake", "i1"))
    assert intake.status_code == 403
    elsewhere = (await api.get(f"/cases/{withdrawn}", headers=officer)).json()["incidents"][0]["id"]
    foreign = await api.post(f"/cases/{never_asked}/shareable", json={"item": "incident", "id": elsewhere},
                             headers=officer)
    assert foreign.status_code == 404 and "no incident" in foreign.json()["detail"]


async def test_a_partner_records_the_outcome_of_its_own_referrals_only(
    api: httpx.AsyncClient, store: Store, state_dir: Any
) -> None:
    tokens = _tokens(state_dir)
    ref = await _case(api, tokens)
    assert (await _do(api, tokens, ref, "make_referral", agency="victim_support")).status_code == 200
    reported = _party(store, ref, "reported_person")
    assert (await _do(api, tokens, ref, "make_referral", agency="police", basis="crime",
                      person_id=reported)).status_code == 200
    partner = tokens("partner", "vs2", agency="victim_support")
    path = f"/partner/cases/{ref}/referrals/referral-1/outcome"
    before = await api.post(path, json={"outcome": "accepted"}, headers=partner)
    assert before.status_code == 404  # not shared yet: as if there were no case
    assert (await api.post(f"/cases/{ref}/shares", json={"agency": "victim_support"},
                           headers=tokens(*OFFICER))).status_code == 200

    follow_up = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    done = await api.post(path, json={"outcome": "accepted", "follow_up": follow_up, "note": "seen on Monday"},
                          headers=partner)
    assert done.status_code == 200, done.text
    assert (done.json()["outcome"], done.json()["follow_up"]) == ("accepted", follow_up)
    outcome = [e for e in store.timeline(ref) if e["event"] == "referral_outcome"]
    assert [(e["id"], e["outcome"]) for e in outcome] == [("referral-1", "accepted")]
    command = [e for e in store.timeline(ref) if e["event"] == "command" and e["command"] == "record_referral_outcome"]
    assert [(c["role"], c["by"]) for c in command] == [("partner", "vs2")]
    with store.session() as session:
        row = session.scalars(select(ReferralRow).where(ReferralRow.case_ref == ref,
                                                        ReferralRow.referral_id == "referral-1")).one()
        assert (row.outcome, row.outcome_by) == ("accepted", "vs2")

    # Not theirs: the police's referral on the same case, or a final outcome with a date.
    police = await api.post(f"/partner/cases/{ref}/referrals/referral-2/outcome", json={"outcome": "declined"},
                            headers=partner)
    assert police.status_code == 404 and "no referral referral-2 to victim_support" in police.json()["detail"]
    dated = await api.post(path, json={"outcome": "completed", "follow_up": follow_up}, headers=partner)
    assert dated.status_code == 422, dated.text
    assert (await api.post(path, json={"outcome": "completed"}, headers=partner)).status_code == 200
    again = await api.post(path, json={"outcome": "declined"}, headers=partner)
    assert again.status_code == 409 and "already has its final outcome" in again.json()["detail"]


async def test_a_partner_token_must_name_an_agency_the_service_works_with(
    api: httpx.AsyncClient, state_dir: Any
) -> None:
    tokens = _tokens(state_dir)
    nameless = await api.get("/partner/cases", headers=tokens("partner", "x1"))
    assert nameless.status_code == 403 and "agency claim" in nameless.json()["detail"]
    stranger = await api.get("/partner/cases", headers=tokens("partner", "x2", agency="sari"))
    assert stranger.status_code == 403 and "not one this service works with" in stranger.json()["detail"]
    me = await api.get("/me", headers=tokens("partner", "x3", agency="victim_support"))
    assert me.json() == {"role": "partner", "id": "x3"}
    # Someone holding a staff role and the partner role acts as staff.
    agencies = await api.get("/agencies", headers=tokens("officer", "o1"))
    assert {a["id"]: a["without_consent"] for a in agencies.json()["agencies"]}["police"] == ["crime", "safeguarding"]


async def test_a_subject_access_export_includes_the_referrals_made_about_the_person(
    api: httpx.AsyncClient, store: Store, state_dir: Any
) -> None:
    tokens = _tokens(state_dir)
    ref = await _case(api, tokens)
    assert (await _do(api, tokens, ref, "make_referral", agency="cmht")).status_code == 200
    alice = _party(store, ref, "reporter")
    with store.session() as session, session.begin():
        export = export_subject(session, alice, datetime.now(UTC))
    [case] = [c for c in export["cases"] if c["reference"] == ref]
    [referral] = case["referrals_about_you"]
    assert (referral["agency"], referral["purpose"], referral["basis"]) == ("cmht", "mental_health", "consent")
    assert "made_by" not in referral and "person_id" not in referral


def test_a_partner_tokens_agency_is_its_partition_and_a_staff_role_wins() -> None:
    from api.auth import AuthError, Principal, principal_from_claims

    assert principal_from_claims({"sub": "p9", "roles": ["ASB.Partner"], "agency": "sari"}) == Principal(
        role="partner", id="p9", agency="sari")
    for agency in (None, "", "Victim Support", "x" * 33, 5):
        try:
            principal_from_claims({"sub": "p9", "roles": ["partner"], "agency": agency})
        except AuthError as refused:
            assert refused.status == 403 and "agency claim" in refused.reason
        else:
            raise AssertionError(f"a partner token with agency {agency!r} was accepted")
    # Holding a staff role as well, one acts as staff: never partitioned by accident, nor given an agency.
    assert principal_from_claims({"sub": "o9", "roles": ["partner", "officer"], "agency": "sari"}) == Principal(
        role="officer", id="o9")


async def test_a_partner_sees_the_evidence_files_marked_shareable_and_nothing_of_who_gave_them(
    api: httpx.AsyncClient, store: Store, state_dir: Any, tmp_path: Any
) -> None:
    import io

    from PIL import Image

    from casefile.audit import act_as
    from casefile.evidence import add_evidence
    from casefile.evidence_store import LocalEvidenceStore

    def png(seed: int) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (4, 4), (seed, 9, 9)).save(out, "PNG")
        return out.getvalue()

    tokens = _tokens(state_dir)
    ref = await _case(api, tokens)
    alice = _party(store, ref, "reporter")
    files = LocalEvidenceStore(tmp_path / "evidence")
    ids = []
    for seed, name in ((71, "stairwell.png"), (72, "alice-at-home.png")):
        with store.session() as session, session.begin():
            act_as(session, "officer", "o1")
            ids.append(add_evidence(session, ref, png(seed), filename=name, kind="photo", role="officer",
                                    actor_id="o1", provided_by=alice, store=files,
                                    description=f"photo {name}").evidence.id)
    officer = tokens(*OFFICER)
    marked = await api.post(f"/cases/{ref}/shareable", json={"item": "evidence", "id": ids[0]}, headers=officer)
    assert marked.status_code == 200 and marked.json()["shareable"] is True, marked.text
    assert (await api.post(f"/cases/{ref}/shares", json={"agency": "police"}, headers=officer)).status_code == 200

    seen = await api.get(f"/partner/cases/{ref}", headers=tokens("partner", "tvp2", agency="police"))
    assert seen.status_code == 200, seen.text
    [shown] = seen.json()["evidence"]
    assert (shown["id"], shown["filename"], shown["kind"]) == (ids[0], "stairwell.png", "photo")
    assert "provided_by" not in shown and alice not in seen.text and "alice-at-home" not in seen.text
    [row] = [r for r in _audit(store, "tvp2") if r.action == "read"]
    assert row.after is not None and row.after["shown"]["evidence"] == [ids[0]]
