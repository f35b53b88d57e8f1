"""Letters and notifications as residents receive them: wording, PDFs, delivery, choices, exactly once.

Delivery goes to real servers on 127.0.0.1: aiosmtpd for SMTP, and a stand-in for GOV.UK Notify
that checks each request's path, its JWT (signed with the API key's secret) and its body. PDFs are
read back with pdfplumber and checked against Notify's precompiled-letter geometry.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.contracts import MessageRequest
from activities.messages import MessageActivities
from asb.cli import main as asb_main
from casefile.db import Store
from casefile.models import ActionPlanVersionRow, MessageRow, PersonRow
from letters.compose import LetterJob, PlanNotRecorded, compose
from letters.config import ConfigError, DeliverySettings, Landlord, NotifySettings, Officer, SmtpSettings, load_settings
from letters.delivery import message_id, print_path
from letters.pdf import ADDRESS_WINDOW_MM, BODY_TOP_MM, LOGO_AREA_MM, PRINTABLE_MM, SERVICE_AREA_MM, build_pdf
from letters.recipients import Recipient, find_recipient
from letters.render import LETTERS, Renderer, renderer
from tests.letters_helpers import (
    API_KEY,
    AT,
    Mailbox,
    NotifyStandIn,
    seed_case,
)
from tests.polling import eventually

ROOT = Path(__file__).resolve().parents[1]
MM = 25.4 / 72
LANDLORD = Landlord(name="Example Homes", address=("1 High Street", "Reading", "RG1 2AA"), phone="0300 123 4567",
                    email="asb@example.org")
OFFICERS = {"o1": Officer(id="o1", name="Sam Patel", phone="0300 123 4568", email="sam.patel@example.org")}
EMAIL_TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
SMS_TEMPLATE = "b3a29f69-6b4c-4c2b-9e36-7d2a7a3c1f0e"

_refs = iter(range(1, 10_000))


def new_ref() -> str:
    return f"ASB-2026-91{next(_refs):04d}"


def settings(kind: str = "outbox", *, smtp_port: int = 0, notify_url: str = "", api_key: str = API_KEY,
             give_up_after: timedelta = timedelta(hours=48), print_to: str | None = None) -> DeliverySettings:
    return DeliverySettings(
        kind=kind,  # type: ignore[arg-type]
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_port, sender="asb@example.org", timeout=10, print_to=print_to),
        notify=NotifySettings(api_key=api_key, base_url=notify_url, email_template_id=EMAIL_TEMPLATE,
                              sms_template_id=SMS_TEMPLATE, timeout=10),
        landlord=LANDLORD, officers=OFFICERS, give_up_after=give_up_after,
    )


def request(ref: str, template: str, to: str, recipient_id: str | None, *, seq: int = 3, channel: str = "letter",
            at: datetime | None = None, **extra: Any) -> MessageRequest:
    return MessageRequest(key=f"{ref}/{seq}/{channel}", case_ref=ref, channel=channel, template=template, to=to,
                          recipient_id=recipient_id, at=at or datetime.now(UTC), **extra)


def row(store: Store, key: str) -> MessageRow:
    with store.session() as session:
        return session.scalars(select(MessageRow).where(MessageRow.key == key)).one()


def render(store: Store, ref: str, template: str, *, variant: str | None = None, language: str | None = None,
           templates: Renderer | None = None, **job: Any) -> tuple[bytes, str]:
    role = LETTERS.get(template, "reporter")
    with store.session() as session:
        party = find_recipient(session, ref, role, None)
        assert isinstance(party, Recipient)
        rendered = compose(session, LetterJob(ref, template, role, party.person_id, AT, **job), party,
                           settings(), templates or renderer(None), variant=variant, language=language)
    return build_pdf(rendered.html), rendered.language


def pdf_text(pdf: bytes) -> str:
    """The letter's words, with line breaks and spacing evened out (wrapping is the layout's business)."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return " ".join(" ".join(page.extract_text() or "" for page in doc.pages).split())


def words(pdf: bytes, page: int = 0) -> list[dict[str, Any]]:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return list(doc.pages[page].extract_words(extra_attrs=["size"]))


def _inside(word: dict[str, Any], area: tuple[float, float, float, float]) -> bool:
    left, top, right, bottom = area
    return (word["x0"] * MM >= left - 0.1 and word["x1"] * MM <= right + 0.1
            and word["top"] * MM >= top - 0.1 and word["bottom"] * MM <= bottom + 0.1)


def layout_problems(pdf: bytes) -> list[str]:
    """Notify's precompiled-letter rules, as far as text goes: A4 pages, and every word on page 1 in the
    letterhead area, the address window, the landlord's column or the body; on later pages inside the margins."""
    problems = []
    body = (PRINTABLE_MM[0], BODY_TOP_MM, PRINTABLE_MM[2], PRINTABLE_MM[3])
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for number, page in enumerate(doc.pages, start=1):
            if abs(page.width * MM - 210) > 0.5 or abs(page.height * MM - 297) > 0.5:
                problems.append(f"page {number} is {page.width * MM:.1f} x {page.height * MM:.1f} mm, not A4")
            areas = [LOGO_AREA_MM, ADDRESS_WINDOW_MM, SERVICE_AREA_MM, body] if number == 1 else [PRINTABLE_MM]
            for word in page.extract_words():
                if not any(_inside(word, area) for area in areas):
                    problems.append(f"page {number}: {word['text']!r} at ({word['x0'] * MM:.1f}, "
                                    f"{word['top'] * MM:.1f}) mm is outside the printable areas")
    return problems


def address_block(pdf: bytes) -> list[str]:
    """The words inside the envelope window, line by line."""
    lines: dict[int, list[str]] = {}
    for word in words(pdf):
        if _inside(word, ADDRESS_WINDOW_MM):
            lines.setdefault(round(word["top"]), []).append(word["text"])
    return [" ".join(line) for _, line in sorted(lines.items())]


# ---------------------------------------------------------------------- templates and PDFs


def test_every_letter_the_lifecycle_sends_has_a_template() -> None:
    from statemachine.lifecycle import INTERVENTION_LETTERS

    source = "".join((ROOT / "statemachine" / name).read_text() for name in ("lifecycle.py", "catalogue.py"))
    sent = set(re.findall(r'\.letter\("([a-z_]+)"', source)) | set(INTERVENTION_LETTERS.values())
    for chosen in re.findall(r'template = "([a-z_]+)" if .* else "([a-z_]+)"', source):
        sent |= set(chosen)  # legal_warning / letter_before_action, not_asb_outcome / early_support
    assert {"acknowledgement", "case_closed_reporter", "letter_before_action", "not_asb_outcome",
            "early_support"} <= sent
    assert sent <= set(LETTERS)
    assert set(renderer(None).names()) == set(LETTERS)


@pytest.mark.parametrize("template", sorted(LETTERS))
def test_each_letter_is_a4_with_the_address_in_the_window_and_names_the_officer(store: Store, template: str) -> None:
    ref = new_ref()
    seed_case(store, ref, actions=True, legal="injunction", closure_reason="asb_stopped")
    for variant in ("standard", "large-print", "easy-read"):
        pdf, _ = render(store, ref, template, variant=variant)
        assert layout_problems(pdf) == [], variant
        text = pdf_text(pdf)
        assert ref in text
        assert "Your case officer is Sam Patel" in text and "one point of contact" in text
        assert "perpetrator" not in text.lower() and "victim" not in text.lower()
        window = address_block(pdf)
        if LETTERS[template] == "reporter":
            assert window == ["Alex Morgan", "Flat 2", "14 Acacia Road", "Reading", "RG1 1AA"]
        else:
            assert window == ["Jordan Lee", "16 Acacia Road", "Reading", "RG1 1AB"]


def test_acknowledgement_gives_the_reference_and_the_first_response_date(store: Store) -> None:
    ref = new_ref()
    seed_case(store, ref, risk="medium")  # reading: 3 working days from Monday 2 March 2026
    text = pdf_text(render(store, ref, "acknowledgement")[0])
    assert f"Your reference number is {ref}" in text
    assert "Your case officer will contact you by Thursday 5 March 2026" in text
    assert "every week by letter" in text  # the frequency and method the reporter agreed
    given = pdf_text(render(store, ref, "acknowledgement", due=datetime(2026, 3, 3, 17, tzinfo=UTC))[0])
    assert "by Tuesday 3 March 2026" in given  # the workflow's own deadline wins when it sends one


def test_initial_letter_to_the_reported_person_is_worded_as_the_scrutiny_panel_asked(store: Store) -> None:
    ref = new_ref()
    seed_case(store, ref)
    for variant in ("standard", "easy-read"):
        text = pdf_text(render(store, ref, "initial_letter_reported_person", variant=variant)[0])
        assert "will take further action" in text  # 001 rec. 7: "will", not "may"
        assert not re.search(r"\bmay\b", text)
        assert not re.search(r"three months|3 months|for up to", text)  # 001 rec. 6
        assert "complainant" not in text.lower() and "perpetrator" not in text.lower()
    text = pdf_text(render(store, ref, "initial_letter_reported_person")[0])
    assert "We have not reached any conclusions" in text
    assert "We look at every report as it comes in" in text
    assert "We cannot tell you who made the reports" in text


def test_closure_letters_give_the_reason_without_telling_the_reported_person_what_the_reporter_did(
    store: Store,
) -> None:
    ref = new_ref()
    seed_case(store, ref, closure_reason="declined_mediation")
    reporter = pdf_text(render(store, ref, "case_closed_reporter")[0])
    reported = pdf_text(render(store, ref, "case_closed_reported_person")[0])
    assert "because you decided not to take up the mediation we recommended" in reporter
    assert "mediation" not in reported
    closed = pdf_text(render(store, ref, "enquiry_closed", reason="unable_to_contact")[0])
    assert "we did not hear back from you in time" in closed


def test_the_action_plan_letter_states_the_version_agreed_never_the_person_record(store: Store) -> None:
    """Issue 11 item 6: an agreed weekly visit was told to the reporter as "every month by phone", read
    from the person record. The letter states exactly the version it was sent for: its actions (what, who,
    by when, done) and the contact agreed in it (004 §3.8)."""
    ref = new_ref()
    seed_case(store, ref, actions=True, reporter={"contact_every_days": 30, "contact_method": "letter"})
    # Version 2: the officer's visit was made and the police action moved.
    with store.session() as session, session.begin():
        items = [{"key": "A1", "description": "Visit the reported address and talk to the household",
                  "owner": "officer", "due": "2026-03-09", "done": True},
                 {"key": "A2", "description": "Record any noise with the Noise App", "owner": "reporter",
                  "due": "2026-03-16", "done": False},
                 {"key": "A3", "description": "Increase patrols in the evenings", "owner": "police",
                  "due": "2026-03-27", "done": False}]
        session.add(ActionPlanVersionRow(case_ref=ref, number=2, shared_at=AT, items=items, contact_every_days=14,
                                         contact_method="phone"))
    first = pdf_text(render(store, ref, "action_plan", plan_version=1)[0])
    assert "version 1, which replaces any copy we sent you before" in first
    assert "your case officer will contact you every week by visiting you" in first
    assert "every month" not in first and "30 days" not in first and "by letter" not in first
    for words in ("Visit the reported address and talk to the household Sam Patel 9 March 2026 Not yet",
                  "Record any noise with the Noise App You 16 March 2026 Not yet",
                  "Increase patrols in the evenings The police 20 March 2026 Not yet",
                  "Next risk assessment Sam Patel 2 April 2026 Not yet"):
        assert words in first
    second = pdf_text(render(store, ref, "action_plan", plan_version=2)[0])
    assert "version 2," in second and "every 2 weeks by phone" in second
    assert "talk to the household Sam Patel 9 March 2026 Done" in second
    assert "The police 27 March 2026 Not yet" in second and "Next risk assessment" not in second
    assert "version 2," in pdf_text(render(store, ref, "action_plan")[0])  # unnamed: the latest
    with pytest.raises(PlanNotRecorded, match="version 3"):  # never another version than the one sent for
        render(store, ref, "action_plan", plan_version=3)


def test_a_plan_letter_sent_before_its_version_is_recorded_waits_for_it(store: Store, tmp_path: Path) -> None:
    """The letter goes in the same workflow step that records the version: a send that finds no version yet
    is tried again (Temporal's retry), never sent stating another version nor parked for printing."""
    ref = new_ref()
    reporter, _ = seed_case(store, ref, actions=True)
    messages = MessageActivities(store, tmp_path, settings())
    with pytest.raises(ApplicationError) as early:
        messages.send_letter(request(ref, "action_plan", "reporter", reporter, plan_version=2))
    assert early.value.type == "LetterNotRendered" and not early.value.non_retryable
    with store.session() as session, session.begin():
        session.add(ActionPlanVersionRow(case_ref=ref, number=2, shared_at=AT, items=[], contact_every_days=7,
                                         contact_method="phone"))
    sent = Path(messages.send_letter(request(ref, "action_plan", "reporter", reporter, plan_version=2)))
    assert "version 2," in " ".join(sent.read_text().split())


def test_large_print_and_easy_read_are_what_they_say(store: Store) -> None:
    ref = new_ref()
    seed_case(store, ref)

    def body_sizes(pdf: bytes) -> set[float]:
        return {round(w["size"]) for w in words(pdf) if BODY_TOP_MM + 12 < w["top"] * MM < 280}

    standard, _ = render(store, ref, "acknowledgement")
    large, _ = render(store, ref, "acknowledgement", variant="large-print")
    easy, _ = render(store, ref, "acknowledgement", variant="easy-read")
    assert max(body_sizes(standard)) <= 12
    assert min(body_sizes(large)) >= 16  # RNIB: large print is at least 16 point
    assert min(body_sizes(easy)) >= 16
    assert pdf_text(large).split() != pdf_text(easy).split()
    assert "We will make a plan with you." in pdf_text(easy)


def test_the_persons_own_adjustments_choose_the_variant(store: Store) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, reporter={"easy_read": True})
    with store.session() as session:
        found = find_recipient(session, ref, "reporter", reporter)
        assert isinstance(found, Recipient)
        assert found.variant == "easy-read"


def test_welsh_where_a_translation_exists_english_otherwise(store: Store) -> None:
    ref = new_ref()
    seed_case(store, ref, reporter={"language": "cy"}, reported={"language": "pl"})
    pdf, language = render(store, ref, "acknowledgement")
    text = pdf_text(pdf)
    assert language == "cy"
    assert "Annwyl Alex Morgan" in text and "Dydd Iau 5 Mawrth 2026" in text and "Eich cyfeirnod yw" in text
    assert layout_problems(pdf) == []
    assert render(store, ref, "enquiry_closed")[1] == "en"  # not translated yet: English
    assert render(store, ref, "warning_letter")[1] == "en"  # Polish asked for, none exists: English


def test_a_landlord_replaces_a_letter_by_dropping_a_file_in_its_folder(store: Store, tmp_path: Path) -> None:
    ref = new_ref()
    seed_case(store, ref)
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "acknowledgement.html.j2").write_text(
        '{% extends "_page.html.j2" %}{% block subject %}Thanks from Example Homes{% endblock %}'
        "{% block body %}<p>Our own words for {{ case.reference }}.</p>{% endblock %}"
        "{% block easy_read %}<p>Easy.</p>{% endblock %}")
    (tmp_path / "en" / "labels.toml").write_text('sign_off = "With best wishes"\n')
    text = pdf_text(render(store, ref, "acknowledgement", templates=Renderer(tmp_path))[0])
    assert f"Our own words for {ref}." in text and "With best wishes" in text
    assert "Your case officer is Sam Patel" in text  # the shipped layout and labels still apply
    assert "Your case officer is Sam Patel" in pdf_text(render(store, ref, "action_plan",
                                                               templates=Renderer(tmp_path))[0])


def test_a_person_the_case_file_does_not_know_still_gets_a_letter(store: Store, tmp_path: Path) -> None:
    ref = new_ref()  # no case row, no people: a case started by `asb simulate`
    messages = MessageActivities(store, tmp_path, settings())
    unknown = f"r-{ref}"  # an id nobody in the session's shared case file has (scenarios there use r1)
    path = messages.send_letter(request(ref, "acknowledgement", "reporter", unknown))
    pdf = print_path(tmp_path, ref, f"{ref}/3/letter").read_bytes()
    assert address_block(pdf) == [unknown, "Address held on file"]
    assert layout_problems(pdf) == []
    assert Path(path).suffix == ".eml"


def test_a_representative_receives_the_letter_with_the_persons_consent(store: Store, tmp_path: Path) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, consents=[("third_party", True)])
    with store.session() as session, session.begin():
        session.add(PersonRow(id=f"advocate-{ref}", name="Chris Advocate", address="Advice Centre\n2 Market Place\n"
                              "Reading", postcode="RG1 3BB", large_print=False, easy_read=False, is_employee=False))
        session.flush()
        person = session.get(PersonRow, reporter)
        assert person is not None
        person.representative_id = f"advocate-{ref}"
    pdf, _ = render(store, ref, "acknowledgement")
    assert address_block(pdf)[0] == "Chris Advocate"
    assert "as the representative of Alex Morgan" in pdf_text(pdf)


# ---------------------------------------------------------------------- choices


def test_an_anonymous_reporter_receives_nothing(store: Store, tmp_path: Path, mailbox: Mailbox,
                                                notify: NotifyStandIn) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, anonymous=True, reporter={"contact_method": "email"},
                            consents=[("email", True), ("sms", True)])
    for config in (settings("smtp", smtp_port=mailbox.port), settings("notify", notify_url=notify.url)):
        messages = MessageActivities(store, tmp_path, config)
        seq = 3 if config.kind == "smtp" else 13
        assert messages.send_letter(request(ref, "acknowledgement", "reporter", reporter, seq=seq)) == \
            "skipped: anonymous"
        assert messages.send_notification(request(ref, "acknowledgement", "reporter", reporter, seq=seq + 1,
                                                  channel="sms")) == "skipped: anonymous"
        assert row(store, f"{ref}/{seq}/letter").status == "skipped"
    assert mailbox.messages == [] and notify.notifications == []
    assert not (tmp_path / ref).exists() and not (tmp_path / "print" / ref).exists()


def test_a_refused_channel_gets_nothing_and_the_letter_goes_by_post(store: Store, tmp_path: Path,
                                                                   mailbox: Mailbox) -> None:
    ref = new_ref()
    # Chose email and agreed to it, then withdrew: the latest consent wins. Never agreed to SMS.
    reporter, _ = seed_case(store, ref, reporter={"contact_method": "email"},
                            consents=[("email", True), ("sms", False), ("email", False)])
    messages = MessageActivities(store, tmp_path, settings("smtp", smtp_port=mailbox.port))
    letter = messages.send_letter(request(ref, "acknowledgement", "reporter", reporter))
    email = messages.send_notification(request(ref, "acknowledgement", "reporter", reporter, seq=4, channel="email"))
    sms = messages.send_notification(request(ref, "acknowledgement", "reporter", reporter, seq=5, channel="sms"))
    assert mailbox.messages == []  # no email, though the person's address is on file
    assert email == "skipped: no consent to email: the letter goes by post instead"
    assert sms == "skipped: no consent to SMS: the letter goes by post instead"
    assert print_path(tmp_path, ref, f"{ref}/3/letter").exists()
    assert row(store, f"{ref}/3/letter").status == "sent" and Path(letter).exists()
    assert row(store, f"{ref}/4/email").status == "skipped"


def test_outbox_keeps_every_message_as_a_file_you_can_open(store: Store, tmp_path: Path) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, consents=[("sms", True)])
    messages = MessageActivities(store, tmp_path, settings())
    eml = Path(messages.send_letter(request(ref, "action_plan", "reporter", reporter)))
    sms = Path(messages.send_notification(request(ref, "action_plan", "reporter", reporter, seq=4, channel="sms")))
    assert sorted(p.name for p in (tmp_path / ref).iterdir()) == sorted([eml.name, sms.name])
    assert "Your action plan" in eml.read_text() and "X-ASB-Template: action_plan" in eml.read_text()
    assert "07700900123" in sms.read_text() and ref in sms.read_text()
    assert layout_problems(print_path(tmp_path, ref, f"{ref}/3/letter").read_bytes()) == []


# ---------------------------------------------------------------------- SMTP


def test_smtp_emails_the_letter_as_a_pdf_once_to_someone_who_chose_email(store: Store, tmp_path: Path,
                                                                         mailbox: Mailbox) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, reporter={"contact_method": "email"}, consents=[("email", True)])
    messages = MessageActivities(store, tmp_path, settings("smtp", smtp_port=mailbox.port))
    req = request(ref, "acknowledgement", "reporter", reporter)
    first = messages.send_letter(req)
    again = messages.send_letter(req)  # Temporal retried after the send succeeded
    note = messages.send_notification(request(ref, "acknowledgement", "reporter", reporter, seq=4, channel="email"))
    assert first == again
    assert note == "skipped: sent with the letter: the letter itself went by email"
    assert len(mailbox.messages) == 1
    email = mailbox.messages[0]
    assert email["To"] == "alex@example.org"
    assert email["Subject"] == f"We have received your report: {ref}"
    assert email["Message-ID"] == message_id(req.key, "asb@example.org")
    body = email.get_body(preferencelist=("plain",))
    assert body is not None and "Your case officer is Sam Patel" in body.get_content()
    attachment = next(email.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert ref in pdf_text(attachment.get_content())
    saved = row(store, req.key)
    assert (saved.status, saved.provider_id, saved.attempts) == ("sent", email["Message-ID"], 1)
    assert not print_path(tmp_path, ref, req.key).exists()  # no paper copy as well


def test_smtp_sends_postal_letters_to_the_print_room_when_one_is_configured(store: Store, tmp_path: Path,
                                                                            mailbox: Mailbox) -> None:
    ref = new_ref()
    _, reported = seed_case(store, ref)
    messages = MessageActivities(store, tmp_path, settings("smtp", smtp_port=mailbox.port,
                                                           print_to="print-room@example.org"))
    messages.send_letter(request(ref, "warning_letter", "reported_person", reported))
    assert [m["To"] for m in mailbox.messages] == ["print-room@example.org"]
    pdf = next(mailbox.messages[0].iter_attachments()).get_content()
    assert address_block(pdf)[0] == "Jordan Lee" and layout_problems(pdf) == []


def _send_in_subprocess(url: str, outbox: Path, config: dict[str, Any], req: MessageRequest) -> subprocess.Popen[str]:
    """A worker process doing one send, to be killed mid-send by the test."""
    script = f"""
import json, sys
from datetime import timedelta
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from activities.contracts import MessageRequest
from activities.messages import MessageActivities
from casefile.db import Store
from letters.config import build
config = build(json.loads({json.dumps(config)!r}))
request = MessageRequest.model_validate_json({req.model_dump_json()!r})
MessageActivities(Store({url!r}), Path({str(outbox)!r}), config).send_letter(request)
print("finished")
"""
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(reached: threading.Event, proc: subprocess.Popen[str], release: threading.Event) -> None:
    assert reached.wait(60), proc.stderr.read() if proc.stderr else "the send never reached the server"
    proc.kill()
    proc.wait()
    release.set()


def test_smtp_killed_worker_resends_with_the_same_message_id(store: Store, postgres_url: str, tmp_path: Path,
                                                             mailbox: Mailbox) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, reporter={"contact_method": "email"}, consents=[("email", True)])
    req = request(ref, "acknowledgement", "reporter", reporter)
    reached, release = threading.Event(), threading.Event()

    def hold(_: EmailMessage) -> None:  # the server has the message; the worker dies before "250 OK"
        reached.set()
        release.wait(60)

    mailbox.on_data = hold
    proc = _send_in_subprocess(postgres_url, tmp_path, {"delivery": "smtp", "smtp": {
        "host": "127.0.0.1", "port": mailbox.port, "sender": "asb@example.org"}}, req)
    _kill_when(reached, proc, release)
    assert proc.returncode != 0 and row(store, req.key).status == "sending"
    mailbox.on_data = None
    MessageActivities(store, tmp_path, settings("smtp", smtp_port=mailbox.port)).send_letter(req)  # the retry
    # SMTP cannot be asked what it received: at least once, and the copy is recognisably the same message.
    assert len(mailbox.messages) == 2
    assert set(mailbox.message_ids()) == {message_id(req.key, "asb@example.org")}
    assert row(store, req.key).status == "sent"


def test_a_worker_killed_before_reaching_the_server_sends_exactly_once_on_retry(
    store: Store, tmp_path: Path, mailbox: Mailbox
) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, reporter={"contact_method": "email"}, consents=[("email", True)])
    req = request(ref, "acknowledgement", "reporter", reporter)
    with store.session() as session, session.begin():  # the row claimed, then the worker died
        session.add(MessageRow(key=req.key, case_ref=ref, channel="letter", template=req.template,
                               recipient_role="reporter", recipient_id=reporter, status="pending", created_at=req.at,
                               attempts=1))
    MessageActivities(store, tmp_path, settings("smtp", smtp_port=mailbox.port)).send_letter(req)
    assert len(mailbox.messages) == 1 and row(store, req.key).status == "sent"


def test_a_failing_delivery_is_retried_then_parked_for_printing_with_a_task(store: Store, tmp_path: Path,
                                                                           mailbox: Mailbox) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref, reporter={"contact_method": "email"}, consents=[("email", True)])
    mailbox.refuse_with = "451 4.3.0 Mail server temporarily unavailable"
    messages = MessageActivities(store, tmp_path, settings("smtp", smtp_port=mailbox.port,
                                                           give_up_after=timedelta(hours=2)))
    req = request(ref, "case_closed_reporter", "reporter", reporter)
    with pytest.raises(ApplicationError, match="451"):  # Temporal retries this, with backoff
        messages.send_letter(req)
    failed = row(store, req.key)
    assert (failed.status, failed.attempts) == ("failed", 1) and "451" in (failed.last_error or "")
    with pytest.raises(ApplicationError, match="451"):  # still within give_up_after: retried again
        messages.send_letter(req)
    assert row(store, req.key).status == "failed"
    # Three hours pass (the first attempt is dated back, rather than the test waiting): past give_up_after.
    with store.session() as session, session.begin():
        claimed = session.scalars(select(MessageRow).where(MessageRow.key == req.key)).one()
        claimed.created_at -= timedelta(hours=3)
    with pytest.raises(ApplicationError) as gave_up:  # not retried again: the case tells the officer
        messages.send_letter(req)
    assert (gave_up.value.type, gave_up.value.non_retryable) == ("DeliveryParked", True)
    parked = gave_up.value.details[0]
    assert parked == str(print_path(tmp_path, ref, req.key)) and "451" in gave_up.value.details[1]
    assert address_block(Path(parked).read_bytes())[0] == "Alex Morgan"
    saved = row(store, req.key)
    assert (saved.status, saved.attempts) == ("awaiting_print", 3)
    with pytest.raises(ApplicationError, match="not delivered"):
        messages.send_letter(req)  # a later retry changes nothing and still reports the failure
    assert row(store, req.key).attempts == 3 and mailbox.messages == []


def test_park_for_printing_is_idempotent_and_leaves_sent_letters_alone(store: Store, tmp_path: Path) -> None:
    ref = new_ref()
    reporter, _ = seed_case(store, ref)
    messages = MessageActivities(store, tmp_path, settings())
    req = request(ref, "unable_to_contact", "reporter", reporter)
    first = messages.park_for_printing(req)
    assert first == messages.park_for_printing(req) == str(print_path(tmp_path, ref, req.key))
    assert row(store, req.key).status == "awaiting_print"
    sent = request(ref, "action_plan", "reporter", reporter, seq=9)
    path = messages.send_letter(sent)
    assert messages.park_for_printing(sent) == path and row(store, sent.key).status == "sent"
    sms = request(ref, "action_plan", "reporter", reporter, seq=10, channel="sms")
    assert messages.park_for_printing(sms) == ""  # the letter itself went by post: nothing more to print
    assert row(store, sms.key).status == "undelivered"  # final: never sent after the officer is told
    assert messages.park_for_printing(sms) == ""


def test_a_broken_landlord_template_is_retried_and_the_officer_told(store: Store, tmp_path: Path) -> None:
    from dataclasses import replace

    ref = new_ref()
    reporter, _ = seed_case(store, ref)
    own = tmp_path / "templates"
    (own / "en").mkdir(parents=True)
    (own / "en" / "action_plan.html.j2").write_text('{% extends "_page.html.j2" %}{% block body %}'
                                                    "{{ letter.no_such_thing }}{% endblock %}")
    config = replace(settings(give_up_after=timedelta(0)), templates=own)
    messages = MessageActivities(store, tmp_path / "outbox", config)
    req = request(ref, "action_plan", "reporter", reporter)
    with pytest.raises(ApplicationError, match="cannot render 'action_plan'.*no_such_thing") as late:
        messages.send_letter(req)
    assert row(store, req.key).status == "failed"
    # Past give_up_after, so the case is told (its officer gets the task); a retry still works.
    assert (late.value.type, late.value.non_retryable) == ("LetterNotRendered", True)
    (own / "en" / "action_plan.html.j2").unlink()  # the landlord fixes it
    assert Path(messages.send_letter(req)).exists() and row(store, req.key).status == "sent"


# ---------------------------------------------------------------------- GOV.UK Notify


def test_notify_receives_a_precompiled_letter_once(store: Store, tmp_path: Path, notify: NotifyStandIn) -> None:
    ref = new_ref()
    _, reported = seed_case(store, ref)
    messages = MessageActivities(store, tmp_path, settings("notify", notify_url=notify.url))
    req = request(ref, "initial_letter_reported_person", "reported_person", reported)
    assert messages.send_letter(req) == messages.send_letter(req)
    [letter] = notify.posts("/v2/notifications/letter")
    assert notify.rejected == []  # the JWT, path and body passed the stand-in's checks
    assert letter["body"]["reference"] == req.key and letter["body"]["postage"] == "second"
    import base64

    pdf = base64.b64decode(letter["body"]["content"])
    assert address_block(pdf) == ["Jordan Lee", "16 Acacia Road", "Reading", "RG1 1AB"]
    assert layout_problems(pdf) == []
    assert row(store, req.key).provider_id == letter["id"]


def test_notify_email_and_sms_carry_the_letter_in_the_persons_chosen_way(store: Store, tmp_path: Path,
                                                                        notify: NotifyStandIn) -> None:
    ref = new_ref()
    emailer, _ = seed_case(store, ref, reporter={"contact_method": "email"}, consents=[("email", True)],
                           actions=True)
    messages = MessageActivities(store, tmp_path, settings("notify", notify_url=notify.url))
    messages.send_letter(request(ref, "action_plan", "reporter", emailer))
    [email] = notify.posts("/v2/notifications/email")
    assert email["body"]["email_address"] == "alex@example.org"
    assert email["body"]["template_id"] == EMAIL_TEMPLATE
    assert email["body"]["personalisation"]["subject"] == f"Your action plan: {ref}"
    assert "Record any noise with the Noise App" in email["body"]["personalisation"]["body"]
    assert notify.posts("/v2/notifications/letter") == []  # email instead of paper, as chosen

    ref2 = new_ref()
    texter, _ = seed_case(store, ref2, reporter={"contact_method": "sms"}, consents=[("sms", True)])
    messages.send_letter(request(ref2, "unable_to_contact", "reporter", texter))
    messages.send_notification(request(ref2, "unable_to_contact", "reporter", texter, seq=4, channel="sms"))
    [sms] = notify.posts("/v2/notifications/sms")
    assert sms["body"]["phone_number"] == "07700900123" and sms["body"]["template_id"] == SMS_TEMPLATE
    assert sms["body"]["reference"] == f"{ref2}/4/sms" and ref2 in sms["body"]["personalisation"]["body"]
    assert len(notify.posts("/v2/notifications/letter")) == 1  # an SMS cannot carry a letter: it is posted
    assert notify.rejected == []


def test_notify_killed_worker_finds_the_first_send_instead_of_sending_again(
    store: Store, postgres_url: str, tmp_path: Path, notify: NotifyStandIn
) -> None:
    ref = new_ref()
    _, reported = seed_case(store, ref)
    req = request(ref, "warning_letter", "reported_person", reported)
    reached, release = threading.Event(), threading.Event()

    def hold(_: dict[str, Any]) -> None:  # Notify has the letter; the worker dies before the answer
        reached.set()
        release.wait(60)

    notify.on_post = hold
    proc = _send_in_subprocess(postgres_url, tmp_path, {"delivery": "notify", "notify": {
        "api_key": API_KEY, "base_url": notify.url}}, req)
    _kill_when(reached, proc, release)
    assert proc.returncode != 0 and row(store, req.key).status == "sending"
    notify.on_post = None
    MessageActivities(store, tmp_path, settings("notify", notify_url=notify.url)).send_letter(req)  # the retry
    [letter] = notify.notifications  # exactly one letter, though the first send's answer was never seen
    assert ("GET", "/v2/notifications") in notify.requests
    saved = row(store, req.key)
    assert (saved.status, saved.provider_id) == ("sent", letter["id"])


def test_notify_server_error_is_retried_and_checked_before_resending(store: Store, tmp_path: Path,
                                                                     notify: NotifyStandIn) -> None:
    ref = new_ref()
    _, reported = seed_case(store, ref)
    messages = MessageActivities(store, tmp_path, settings("notify", notify_url=notify.url))
    req = request(ref, "legal_warning", "reported_person", reported)
    notify.fail_with = 500
    with pytest.raises(ApplicationError, match="500"):
        messages.send_letter(req)
    assert row(store, req.key).status == "sending"  # a 500 may still have been accepted
    notify.fail_with = None
    messages.send_letter(req)
    assert len(notify.posts("/v2/notifications/letter")) == 1
    assert notify.requests[-2:] == [("GET", "/v2/notifications"), ("POST", "/v2/notifications/letter")]


def test_notify_rejects_a_wrong_key_and_the_letter_is_parked_at_once(store: Store, tmp_path: Path,
                                                                     notify: NotifyStandIn) -> None:
    ref = new_ref()
    _, reported = seed_case(store, ref)
    wrong = API_KEY[:-36] + "00000000-0000-0000-0000-000000000000"
    messages = MessageActivities(store, tmp_path, settings("notify", notify_url=notify.url, api_key=wrong))
    req = request(ref, "warning_letter", "reported_person", reported)
    with pytest.raises(ApplicationError) as gave_up:  # a 403 will not get better by retrying
        messages.send_letter(req)
    assert notify.rejected and notify.rejected[0].startswith("Invalid token")
    assert notify.notifications == []
    parked = gave_up.value.details[0]
    assert gave_up.value.type == "DeliveryParked"
    assert parked == str(print_path(tmp_path, ref, req.key)) and Path(parked).exists()
    assert row(store, req.key).status == "awaiting_print"


# ---------------------------------------------------------------------- configuration and the command


def test_delivery_settings_per_landlord_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "delivery.toml"
    config.write_text("""
delivery = "smtp"
give_up_after = "2 days"
[smtp]
host = "mail.example.org"
[landlord]
name = "Example Homes"
[officers.o1]
name = "Sam Patel"
[profiles.reading]
delivery = "notify"
[profiles.reading.notify]
api_key = "{API_KEY}"
[profiles.reading.landlord]
name = "Reading Borough Council"
""".replace("{API_KEY}", API_KEY))
    env = {"ASB_DELIVERY_CONFIG": str(config), "ASB_SMTP_PORT": "2525"}
    general = load_settings("whg", env)
    assert (general.kind, general.smtp.host, general.smtp.port) == ("smtp", "mail.example.org", 2525)
    assert general.give_up_after == timedelta(days=2) and general.landlord.name == "Example Homes"
    reading = load_settings("reading", env)
    assert (reading.kind, reading.landlord.name, reading.notify.api_key) == ("notify", "Reading Borough Council",
                                                                            API_KEY)
    assert reading.officer("o1") == Officer(id="o1", name="Sam Patel")
    assert load_settings(None, {}).kind == "outbox"
    with pytest.raises(ConfigError, match="carrier pigeon"):
        load_settings(None, {"ASB_DELIVERY": "carrier pigeon"})
    with pytest.raises(ConfigError, match="ASB_NOTIFY_API_KEY"):
        load_settings(None, {"ASB_DELIVERY": "notify"})


def test_asb_letters_preview_writes_the_pdf(
    store: Store, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = new_ref()
    seed_case(store, ref)
    monkeypatch.setenv("ASB_DATABASE_URL", postgres_url)
    monkeypatch.delenv("ASB_DELIVERY_CONFIG", raising=False)
    out = tmp_path / "preview.pdf"
    assert asb_main(["letters", "preview", "acknowledgement", "--case", ref, "--variant", "large-print",
                     "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    pdf = out.read_bytes()
    assert layout_problems(pdf) == [] and ref in pdf_text(pdf)
    assert min(round(w["size"]) for w in words(pdf) if BODY_TOP_MM + 12 < w["top"] * MM < 280) >= 16
    assert asb_main(["letters", "preview", "no_such_letter", "--case", ref]) == 2
    assert "no letter template 'no_such_letter'" in capsys.readouterr().err
    assert asb_main(["letters", "preview", "acknowledgement", "--case", "ASB-1999-000001"]) == 2
    assert "no case ASB-1999-000001" in capsys.readouterr().err
    with store.session() as session:
        assert session.scalars(select(MessageRow).where(MessageRow.case_ref == ref)).first() is None  # nothing sent


def test_the_printed_page_shows_the_address_through_the_window(store: Store, tmp_path: Path) -> None:
    """Through pdftoppm (poppler-utils, installed by scripts/bootstrap), as a printer would see the page."""
    from PIL import Image

    assert shutil.which("pdftoppm"), "pdftoppm is missing: run scripts/bootstrap (it installs poppler-utils)"

    ref = new_ref()
    seed_case(store, ref)
    pdf_file = tmp_path / "letter.pdf"
    pdf_file.write_bytes(render(store, ref, "acknowledgement")[0])
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf_file), str(tmp_path / "page")],
                   check=True)
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    per_mm = image.width / 210

    def dark(left: float, top: float, right: float, bottom: float) -> int:
        box = (round(left * per_mm), round(top * per_mm), min(round(right * per_mm), image.width),
               min(round(bottom * per_mm), image.height))  # crop pads with black beyond the edge
        region = image.crop(box)
        return sum(1 for value in region.tobytes() if value < 128)  # one byte per pixel in mode "L"

    assert abs(image.height / image.width - 297 / 210) < 0.01
    assert dark(*ADDRESS_WINDOW_MM) > 50  # the address shows through the window
    assert dark(0, 0, 14, 297) == 0  # nothing printed in the left margin
    assert dark(15, 67, 120, 94) == 0  # nor between the window and the letter


# ---------------------------------------------------------------------- through the real workflow


async def test_the_workflow_sends_a_real_letter_and_text_through_the_worker(
    env: WorkflowEnvironment, store: Store, task_queue: str, outbox: Path
) -> None:
    from asb.scenario import Scenario
    from asb.simulate import play
    from profiles import load

    ref = new_ref()
    reporter, reported = seed_case(store, ref, risk=None, reporter={"contact_method": "sms"},
                                   consents=[("sms", True)])
    start = "2026-03-02T09:30:00+00:00"
    scenario = Scenario.model_validate({"profile": "reading", "start": start, "until": "2026-03-02T12:00:00+00:00",
                                        "reference": ref, "steps": [{"at": start, "do": "report", "with": {
                                            "category": "noise", "officer": "o1", "reported_person": {"id": reported},
                                            "reporter": {"id": reporter, "contact": {"method": "sms"}}}}]})
    timeline = await play(env, store, scenario, load("reading"), task_queue=task_queue)
    [letter] = [e for e in timeline if e["event"] == "letter"]
    assert letter["template"] == "acknowledgement"
    with store.session() as session:
        sent = {m.channel: m for m in session.scalars(select(MessageRow).where(MessageRow.case_ref == ref))}
    assert {c: m.status for c, m in sent.items()} == {"letter": "sent", "sms": "sent"}
    pdf = print_path(outbox, ref, sent["letter"].key).read_bytes()
    assert address_block(pdf)[0] == "Alex Morgan" and layout_problems(pdf) == []
    assert f"Your reference number is {ref}" in pdf_text(pdf)
    assert "07700900123" in Path(sent["sms"].path or "").read_text()


@pytest.fixture
async def private_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server for one test whose worker (and so its workflows) dies with it: left on the
    module's server, those workflows would hold up every later time skip, and terminating them wedges
    that server's clock. Shut down with the test instead, they trouble nobody."""
    from asb.simulate import start_time_skipping

    environment = await start_time_skipping()
    yield environment
    await environment.shutdown()


async def test_a_letter_that_cannot_be_delivered_gives_the_officer_a_task_on_the_case(
    private_env: WorkflowEnvironment, store: Store, tmp_path: Path, mailbox: Mailbox
) -> None:
    """Through the real workflow: the mail server refuses, the letter service gives up and parks the letter
    for printing, and the case records communication_failed with a task (a task workflow) for the officer."""
    from temporalio.worker import Worker

    from activities.calendar import fetch_bank_holidays
    from activities.case_file import CaseFileActivities
    from activities.tasks import TaskActivities
    from clients.caseclient import send_command, start_case
    from profiles import load
    from statemachine.commands import Actor, ReportArgs
    from worker import WORKFLOWS, workflow_runner

    ref = new_ref()
    reporter, reported = seed_case(store, ref, reporter={"contact_method": "email"}, consents=[("email", True)])
    mailbox.refuse_with = "550 5.1.1 Mailbox unavailable"
    messages = MessageActivities(store, tmp_path, settings("smtp", smtp_port=mailbox.port,
                                                           give_up_after=timedelta(0)))
    case_file = CaseFileActivities(store)
    queue = f"letters-{ref}"
    async with Worker(private_env.client, task_queue=queue, workflows=list(WORKFLOWS),
                      workflow_runner=workflow_runner(),
                      activities=[case_file.record_events, case_file.update_task, messages.send_letter,
                                  messages.send_notification, fetch_bank_holidays,
                                  TaskActivities(private_env.client).start_task],
                      activity_executor=__import__("concurrent.futures").futures.ThreadPoolExecutor(4)):
        report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reported_person": {"id": reported},
                                            "reporter": {"id": reporter, "contact": {"method": "email"}}})
        handle = await start_case(private_env.client, ref, load("reading"), report, task_queue=queue,
                                  search_attributes=False)
        # Commands are not held up by the failing delivery.
        result = await send_command(handle, "record_contact", {"outcome": "made", "method": "phone"},
                                    Actor(role="officer", id="o1"))
        assert result.accepted
        timeline = await eventually(
            lambda: store.timeline(ref), lambda events: any(
                e["event"] == "task" and e["kind"] == "communication_failed" for e in events),
            what="the communication_failed task on the case")
        from casefile.models import TaskRow

        def task_ids() -> list[str]:
            with store.session() as session:
                return [t.key for t in session.query(TaskRow).filter(TaskRow.case_ref == ref)]

        # The officer's task is a task workflow with its row in the case file.
        assert await eventually(task_ids, what="the communication_failed task's row")
    failed = [e for e in timeline if e["event"] == "communication_failed"]
    assert failed and failed[0]["template"] == "acknowledgement" and failed[0]["printing"] is True
    [task] = [e for e in timeline if e["event"] == "task" and e["kind"] == "communication_failed"]
    assert task["role"] == "officer"
    parked = print_path(tmp_path, ref, f"{ref}/{failed[0]['message_seq']}/letter")
    assert parked.exists() and address_block(parked.read_bytes())[0] == "Alex Morgan"
    assert mailbox.messages == []


async def test_after_a_reassignment_the_next_letter_names_the_new_officer(
    env: WorkflowEnvironment, store: Store, task_queue: str, outbox: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 12 item 7: a manager moves the case from Sam Patel to Priya Shah, with a reason; the reporter's
    next letter names Priya as their one point of contact (003 §9), through the real workflow and worker.
    The reason stays in the case file, never on the timeline."""
    from casefile.models import CaseNoteRow
    from clients.caseclient import send_command, start_case
    from profiles import load
    from statemachine.commands import Actor, ReportArgs

    config = tmp_path / "delivery.toml"
    config.write_text('[landlord]\nname = "Example Homes"\naddress = ["1 High Street", "Reading", "RG1 2AA"]\n'
                      'phone = "0300 123 4567"\n[officers.o1]\nname = "Sam Patel"\nphone = "0300 123 4568"\n'
                      '[officers.o2]\nname = "Priya Shah"\nphone = "0300 123 4569"\n')
    monkeypatch.setenv("ASB_DELIVERY_CONFIG", str(config))  # read by the worker at each send
    ref = new_ref()
    reporter, reported = seed_case(store, ref, risk=None)

    def sent(template: str) -> Any:
        def rows() -> list[MessageRow]:
            with store.session() as session:
                return list(session.scalars(select(MessageRow).where(
                    MessageRow.case_ref == ref, MessageRow.template == template, MessageRow.status == "sent")))
        return eventually(rows, what=f"the {template} letter sent")

    report = ReportArgs.model_validate({"category": "noise", "officer": "o1", "reported_person": {"id": reported},
                                        "reporter": {"id": reporter, "contact": {"method": "letter"}}})
    handle = await start_case(env.client, ref, load("reading"), report, task_queue=task_queue,
                              search_attributes=False)
    [first] = await sent("acknowledgement")
    assert "Your case officer is Sam Patel" in pdf_text(print_path(outbox, ref, first.key).read_bytes())

    reason = "Sam moves to the north team; Priya covers Acacia Road"
    manager = Actor(role="manager", id="m1")
    moved = await send_command(handle, "assign_officer", {"officer": "o2", "reason": reason}, manager, store=store,
                               at=datetime.now(UTC))
    assert moved.accepted, moved.reason
    plan = await send_command(handle, "agree_action_plan", {"contact_every_days": 14, "contact_method": "letter"},
                              Actor(role="officer", id="o2"))
    assert plan.accepted, plan.reason
    [letter] = await sent("action_plan")
    pdf = print_path(outbox, ref, letter.key).read_bytes()
    (tmp_path / "action_plan.pdf").write_bytes(pdf)  # to look at: pdftoppm -png -r 60 -f 1 -l 1
    text = pdf_text(pdf)
    assert "Your case officer is Priya Shah" in text and "0300 123 4569" in text
    assert "Sam Patel" not in text and layout_problems(pdf) == []

    [assigned] = [e for e in store.timeline(ref) if e["event"] == "officer"]
    assert (assigned["officer"], assigned["previous"]) == ("o2", "o1")
    with store.session() as session:
        note = session.scalars(select(CaseNoteRow).where(CaseNoteRow.ref == assigned["reason_ref"])).one()
    assert (note.command, note.field, note.text, note.status) == ("assign_officer", "reason", reason, "confirmed")
    assert reason not in json.dumps(store.timeline(ref))
    assert reason not in str(await handle.fetch_history())


def test_a_letter_never_names_an_officer_by_a_bare_id(store: Store) -> None:
    """Issue 11 item 3: an officer with no details in the settings is not called "o2" in a letter."""
    ref = new_ref()
    seed_case(store, ref, officer="o2")
    text = pdf_text(render(store, ref, "acknowledgement")[0])
    assert not re.search(r"\bo2\b", text), text
    assert "Sam Patel" not in text


def test_the_shipped_example_delivery_settings_fill_in_the_letterhead_and_asb_up_warns_without_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11 item 3: default settings leave the letterhead empty, and `asb up` says so; the example
    configuration in deploy/ fills in the landlord and the officers."""
    from asb.up import letterhead_warnings

    for name in ("ASB_DELIVERY_CONFIG", "ASB_DELIVERY"):
        monkeypatch.delenv(name, raising=False)
    warnings = letterhead_warnings("reading")
    assert any("address" in w for w in warnings) and any("officers" in w for w in warnings)
    assert any("deploy/delivery.example.toml" in w for w in warnings)
    monkeypatch.setenv("ASB_DELIVERY_CONFIG", str(ROOT / "deploy" / "delivery.example.toml"))
    assert letterhead_warnings("reading") == []
    officer = load_settings("reading").officer("o1")
    assert officer is not None and officer.name == "Sam Patel"


def test_the_letter_before_action_says_only_what_the_case_file_shows(store: Store) -> None:
    """Issue 11 item 8: no "we have warned you" without a recorded warning, no court for a remedy that
    is not a court application, no 14 days' notice for an emergency action."""
    from casefile.models import InterventionRow, LegalActionRow

    notice = new_ref()
    seed_case(store, notice, legal="notice_seeking_possession")
    text = pdf_text(render(store, notice, "letter_before_action")[0])
    assert "warned you" not in text and "apply to the court" not in text
    assert "serve you with a notice of seeking possession" in text
    assert "within 14 days" in text

    urgent = new_ref()
    seed_case(store, urgent, legal="injunction")
    with store.session() as session, session.begin():
        row = session.scalars(select(LegalActionRow).where(LegalActionRow.case_ref == urgent)).one()
        row.emergency = True
        session.add(InterventionRow(case_ref=urgent, kind="warning_letter", started_at=AT, by="o1"))
    text = pdf_text(render(store, urgent, "letter_before_action")[0])
    assert "we have warned you about it" in text
    assert "We intend to apply to the court for a civil injunction" in text
    assert "within 14 days" not in text and "we are acting now and cannot wait" in text
