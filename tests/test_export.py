"""`asb lifecycle --format ...`: the diagrams show every stage move and timer, and the BPMN opens in a modeller."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from asb.cli import main
from diagrams.lifecycle import TIMER_EVENTS, export, stage_moves
from profiles import load
from statemachine.commands import OPEN_STAGES, STAGES
from statemachine.lifecycle import STAGE_MOVES

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"

#: Every (source, dest, trigger) the state machine allows, read straight from the table.
EDGES = {(source, dest, trigger) for trigger, sources, dest in STAGE_MOVES for source in sources}


def bpmn_root() -> ET.Element:
    return ET.fromstring(export("bpmn"))


def process_of(root: ET.Element) -> ET.Element:
    process = root.find(f"{BPMN}process")
    assert process is not None
    return process


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def test_mermaid_shows_every_stage_and_every_move() -> None:
    text = export("mermaid")
    assert text.startswith("stateDiagram-v2")
    assert "[*] --> enquiry" in text
    assert "closed --> [*]" in text
    for stage in STAGES:
        assert f"note right of {stage}" in text
    lines = {line.strip() for line in text.splitlines()}
    for source, dest, trigger in EDGES:
        assert f"{source} --> {dest} : {trigger}" in lines


def test_mermaid_notes_list_commands_and_timers() -> None:
    text = export("mermaid")
    enquiry_note = text.split("note right of enquiry", 1)[1].split("end note", 1)[0]
    assert "record_contact" in enquiry_note
    assert "enquiry_expiry" in enquiry_note and "enquiry.length" in enquiry_note
    assert "first_response.#lt;risk#gt;" in enquiry_note  # "<" would be read as HTML by Mermaid
    legal_note = text.split("note right of legal", 1)[1].split("end note", 1)[0]
    assert "conclude_legal_action" in legal_note


def test_dot_is_a_digraph_with_every_move_as_a_labelled_edge() -> None:
    text = export("dot")
    assert text.startswith("digraph lifecycle {")
    assert text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    found = set(re.findall(r'"(\w+)" -> "(\w+)" \[label="(\w+)"', text))
    assert found >= EDGES
    # A timer-fired move is drawn dashed.
    assert '"enquiry" -> "closed" [label="expire_enquiry", style=dashed]' in text


def test_merged_moves_keep_each_destination_of_withdraw_legal() -> None:
    withdrawals = {m.dest for m in stage_moves() if m.trigger == "withdraw_legal"}
    assert withdrawals == {"investigation", "review", "interventions"}
    assert len(stage_moves()) == len(EDGES)


def test_bpmn_has_one_start_an_end_and_a_task_per_open_stage() -> None:
    process = process_of(bpmn_root())
    starts = process.findall(f"{BPMN}startEvent")
    assert len(starts) == 1 and starts[0].get("name") == "Report received"
    ends = process.findall(f"{BPMN}endEvent")
    assert "Case closed" in {e.get("name") for e in ends}
    tasks = {t.get("id") for t in process.findall(f"{BPMN}task")}
    assert tasks == {f"stage_{stage}" for stage in OPEN_STAGES}
    assert process.get("isExecutable") == "false"


def test_bpmn_ids_are_unique_and_flows_connect_existing_elements() -> None:
    root = bpmn_root()
    ids = [el.get("id") for el in root.iter() if el.get("id") is not None]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z_][\w.-]*", i or "") for i in ids)
    process = process_of(root)
    nodes = {el.get("id"): el for el in process if local(el.tag) not in ("sequenceFlow", "documentation")}
    flows = process.findall(f"{BPMN}sequenceFlow")
    assert flows
    for flow in flows:
        assert flow.get("sourceRef") in nodes
        assert flow.get("targetRef") in nodes
    # Each node's incoming/outgoing lists match the flows, as modellers expect.
    for node_id, node in nodes.items():
        incoming = {e.text for e in node.findall(f"{BPMN}incoming")}
        outgoing = {e.text for e in node.findall(f"{BPMN}outgoing")}
        assert incoming == {f.get("id") for f in flows if f.get("targetRef") == node_id}
        assert outgoing == {f.get("id") for f in flows if f.get("sourceRef") == node_id}


def test_bpmn_shows_every_stage_move_trigger_on_a_flow() -> None:
    process = process_of(bpmn_root())
    names = " / ".join(f.get("name", "") for f in process.findall(f"{BPMN}sequenceFlow"))
    for source, _, trigger in EDGES:
        if source != "closed":
            assert trigger in names
    # A BPMN end event has no outgoing flow: reopening a closed case is said on it (issue 12 item 6).
    closed = process.find(f"{BPMN}endEvent[@id='stage_closed']")
    assert closed is not None and "reopen_case" in "".join(closed.itertext())
    gateway = process.find(f"{BPMN}exclusiveGateway[@id='gateway_enquiry']")
    assert gateway is not None and "convert_to_case" in (gateway.get("name") or "")


def test_bpmn_timers_are_boundary_events_on_stage_tasks() -> None:
    process = process_of(bpmn_root())
    tasks = {t.get("id") for t in process.findall(f"{BPMN}task")}
    boundaries = process.findall(f"{BPMN}boundaryEvent")
    assert len(boundaries) == sum(len(t.stages) for t in TIMER_EVENTS)
    outgoing = {f.get("sourceRef") for f in process.findall(f"{BPMN}sequenceFlow")}
    for event in boundaries:
        assert event.get("attachedToRef") in tasks
        assert event.find(f"{BPMN}timerEventDefinition") is not None
        assert event.get("id") in outgoing  # every timer leads somewhere, so the model validates
    on_enquiry = {
        e.get("id", "").removeprefix("timer_enquiry_"): e.get("cancelActivity")
        for e in boundaries if e.get("attachedToRef") == "stage_enquiry"
    }
    assert on_enquiry["enquiry_expiry"] == "true"
    assert on_enquiry["unable_to_contact"] == "true"
    assert on_enquiry["first_response"] == "false"
    # Contact is promised in every open stage, so its timer is on every stage task.
    contact = {e.get("attachedToRef") for e in boundaries if e.get("id", "").endswith("_contact")}
    assert contact == tasks


def test_bpmn_interrupting_timers_fire_their_stage_move() -> None:
    process = process_of(bpmn_root())
    by_source = {f.get("sourceRef"): f for f in process.findall(f"{BPMN}sequenceFlow")}
    expiry = by_source["timer_enquiry_enquiry_expiry"]
    assert (expiry.get("targetRef"), expiry.get("name")) == ("stage_closed", "expire_enquiry")
    review = by_source["timer_investigation_investigation_end"]
    assert (review.get("targetRef"), review.get("name")) == ("stage_review", "begin_review")


def test_bpmn_timers_name_the_profile_setting() -> None:
    process = process_of(bpmn_root())
    event = process.find(f"{BPMN}boundaryEvent[@id='timer_enquiry_enquiry_expiry']")
    assert event is not None
    duration = event.find(f"{BPMN}timerEventDefinition/{BPMN}timeDuration")
    assert duration is not None
    assert "enquiry.length" in "".join(duration.itertext())


def test_timer_settings_exist_in_the_profile() -> None:
    profile = load("default")
    for timer in TIMER_EVENTS:
        section, _, name = timer.setting.partition(".")
        value = getattr(profile, section)
        assert name == "<risk>" or hasattr(value, name), timer.setting


def test_bpmn_diagram_draws_every_flow_element() -> None:
    root = bpmn_root()
    process = process_of(root)
    plane = root.find(f"{BPMNDI}BPMNDiagram/{BPMNDI}BPMNPlane")
    assert plane is not None and plane.get("bpmnElement") == process.get("id")
    shapes = {s.get("bpmnElement") for s in plane.findall(f"{BPMNDI}BPMNShape")}
    edges = {e.get("bpmnElement") for e in plane.findall(f"{BPMNDI}BPMNEdge")}
    for el in process:
        kind = local(el.tag)
        if kind == "documentation":
            continue
        if kind == "sequenceFlow":
            assert el.get("id") in edges
        else:
            assert el.get("id") in shapes
    for shape in plane.findall(f"{BPMNDI}BPMNShape"):
        assert shape.find("{http://www.omg.org/spec/DD/20100524/DC}Bounds") is not None
    for edge in plane.findall(f"{BPMNDI}BPMNEdge"):
        assert len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="mermaid"):
        export("svg")


def test_cli_prints_bpmn(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lifecycle", "--format", "bpmn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<?xml")
    assert ET.fromstring(out.strip()).tag == f"{BPMN}definitions"


def test_cli_defaults_to_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lifecycle"]) == 0
    assert capsys.readouterr().out.startswith("stateDiagram-v2")


def test_cli_refuses_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lifecycle", "--format", "svg"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
