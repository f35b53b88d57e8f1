"""`asb lifecycle --format ...`: the diagrams show every move, command and timer; the BPMN opens in a modeller.

What is expected is read from the case catalogue (statemachine/catalogue.py), not from the diagram code:
which commands each stage accepts (a command that moves the case out is drawn as an edge instead), which
deadlines run there and what they do. The BPMN layout is checked for what a reader would notice: shapes
that overlap, lines that pass through shapes or labels, timers off their stage, stages out of order.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from itertools import combinations

import pydot
import pytest
from lxml import etree

import diagrams.lifecycle as diagram
from asb.cli import main
from diagrams.lifecycle import TIMER_EVENTS, TimerEvent, export, stage_moves, timer_dest
from profiles import load
from statemachine.catalogue import COMMANDS, DEADLINES, DeadlineSpec
from statemachine.commands import OPEN_STAGES, STAGES
from statemachine.lifecycle import STAGE_MOVES

# pydot's parser still calls pyparsing's old camelCase names (deprecated in pyparsing 3.3): not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:'\\w+' deprecated - use:DeprecationWarning")

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
DI = "{http://www.omg.org/spec/DD/20100524/DI}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
CLOSED = STAGES[-1]

#: Every (source, dest, trigger) the state machine allows, read straight from the table.
EDGES = {(source, dest, trigger) for trigger, sources, dest in STAGE_MOVES for source in sources}
#: The stage moves a timer fires, per stage.
TIMER_FIRED = {(stage, spec.trigger) for spec in DEADLINES.values() if spec.trigger for stage in spec.stages}


# ---------------------------------------------------------------------------------------- from the catalogue


def accepted(stage: str) -> list[str]:
    """Commands a case in `stage` accepts, in catalogue order (a closed one: those its spec allows after closure)."""
    if stage == CLOSED:
        return [name for name, spec in COMMANDS.items() if spec.after_closure]
    return [name for name, spec in COMMANDS.items() if stage in spec.stages]


def moves_out(stage: str) -> set[str]:
    """Triggers that take a case from `stage` to another stage."""
    return {trigger for source, dest, trigger in EDGES if source == stage and dest != stage}


def listed(stage: str) -> list[str]:
    """What a stage's note lists: every command it accepts except those drawn as a move out of it."""
    return [name for name in accepted(stage) if name not in moves_out(stage)]


def deadlines_on(stage: str) -> list[DeadlineSpec]:
    """The deadlines that run in `stage`: those that move the case first, then the others, each in catalogue order."""
    running = [spec for spec in DEADLINES.values() if stage in spec.stages]
    return [s for s in running if s.trigger] + [s for s in running if not s.trigger]


def described(spec: DeadlineSpec) -> str:
    """A timer as the notes put it: when it fires, what it does, the move it fires, and whether the stage ends."""
    what = f"{spec.fires} via {spec.trigger}" if spec.trigger else spec.fires
    return f"{spec.kind} after {spec.setting}: {what} ({'interrupting' if spec.trigger else 'non-interrupting'})"


#: What the BPMN end event says of reopening, since an end event has no outgoing flow (issue 12 item 6).
REOPENING = (" A manager may reopen the case within case.reopen_within (reopen_case), back to the stage it closed "
             f"from: {', '.join(sorted(dest for source, dest, _ in EDGES if source == CLOSED))}.")


def heading(stage: str) -> str:
    return "commands" if stage != CLOSED else "commands within case_review.apply_within_after_closure of closure"


def test_the_catalogue_gives_each_reading_of_a_note_something_to_show() -> None:
    """The notes' tests below lean on these facts; if the catalogue changes, the tests still read it."""
    assert "convert_to_case" in accepted("enquiry") and "convert_to_case" in moves_out("enquiry")
    assert ("interventions", "interventions", "start_intervention") in EDGES  # a move that stays put
    assert accepted(CLOSED)  # a closed case still takes an ASB Case Review application
    assert any(";" in spec.fires for spec in DEADLINES.values())
    assert any("<" in spec.setting for spec in DEADLINES.values())
    assert any(len(listed(stage)) > 8 for stage in STAGES)  # notes wrap their commands over several lines


def test_after_closure_setting_exists_in_the_profile() -> None:
    section, _, name = diagram.AFTER_CLOSURE_SETTING.partition(".")
    assert hasattr(getattr(load("default"), section), name)


# ---------------------------------------------------------------------------------------------- mermaid

MERMAID_LINE = re.compile(
    r"stateDiagram-v2"
    r"|    \[\*\] --> \w+"
    r"|    \w+ --> \w+ : \w+"
    r"|    \w+ --> \[\*\]"
    r"|    note right of \w+"
    r"|        \S.*"
    r"|    end note"
)


def mermaid_notes() -> dict[str, list[str]]:
    """Each stage's note, as its lines, with Mermaid's entities read back as the characters a reader sees."""
    text = export("mermaid")
    notes: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("    note right of "):
            current = notes.setdefault(line.removeprefix("    note right of "), [])
        elif line == "    end note":
            current = None
        elif current is not None:
            current.append(line.strip().replace("#lt;", "<").replace("#gt;", ">"))
    return notes


def test_mermaid_shows_every_stage_and_every_move() -> None:
    text = export("mermaid")
    assert text.startswith("stateDiagram-v2\n")
    lines = text.splitlines()
    assert f"    [*] --> {STAGES[0]}" in lines
    assert f"    {CLOSED} --> [*]" in lines
    moves = [tuple(re.fullmatch(r"    (\w+) --> (\w+) : (\w+)", line).groups())  # type: ignore[union-attr]
             for line in lines if " : " in line and "-->" in line]
    assert Counter(moves) == Counter(EDGES)  # each move once, none invented
    assert set(mermaid_notes()) == set(STAGES)


def test_mermaid_is_made_only_of_statements_mermaid_reads() -> None:
    """Every line is a statement of the state diagram; every note is closed; nothing trails the last one."""
    text = export("mermaid")
    assert text.endswith("    end note\n")
    lines = text.splitlines()
    for line in lines:
        assert MERMAID_LINE.fullmatch(line), line
    opened = [i for i, line in enumerate(lines) if line.startswith("    note right of")]
    closed = [i for i, line in enumerate(lines) if line == "    end note"]
    assert len(opened) == len(closed) and all(o < c for o, c in zip(opened, closed, strict=True))
    assert all(c < o for c, o in zip(closed, opened[1:], strict=False))


def test_mermaid_notes_escape_what_mermaid_would_misread() -> None:
    """';' ends a Mermaid statement and '<' '>' are read as HTML: the notes carry none of them raw."""
    text = export("mermaid")
    notes = [line for line in text.splitlines() if line.startswith("        ")]
    for line in notes:
        assert "<" not in line and ">" not in line, line
        assert ";" not in line.replace("#lt;", "").replace("#gt;", ""), line
    assert "first_response.#lt;risk#gt;" in text


def test_mermaid_notes_list_each_stages_commands_in_lines_of_four() -> None:
    for stage, note in mermaid_notes().items():
        commands_lines = [line for line in note if not line.startswith("timer ")]
        assert commands_lines[0].startswith(f"{heading(stage)}: "), (stage, commands_lines[0])
        commands_lines[0] = commands_lines[0].removeprefix(f"{heading(stage)}: ")
        rows = [line.split(", ") for line in commands_lines]
        assert [c for row in rows for c in row] == listed(stage), stage
        assert all(1 <= len(row) <= 4 for row in rows), stage  # wrapped, so the note stays narrow
        assert all(len(row) == 4 for row in rows[:-1]), stage


def test_mermaid_notes_keep_moves_out_of_a_stage_off_its_list() -> None:
    notes = mermaid_notes()
    enquiry = " ".join(notes["enquiry"])
    assert "convert_to_case" not in enquiry and "close_enquiry" not in enquiry  # drawn as edges instead
    assert "start_intervention" not in enquiry
    assert "start_intervention" in " ".join(notes["interventions"])  # another one keeps the case there
    assert "conclude_legal_action" in " ".join(notes["legal"])
    assert "conclude_legal_action" not in enquiry


def test_mermaid_note_of_a_closed_case_lists_what_it_still_accepts() -> None:
    """A closed case takes an ASB Case Review application for a while (003 §10): the note must not say 'none'."""
    note = mermaid_notes()[CLOSED]
    assert note == [f"{heading(CLOSED)}: " + ", ".join(accepted(CLOSED))]
    assert "request_asb_case_review" in note[0]


def test_mermaid_notes_describe_each_timer_interrupting_first() -> None:
    for stage, note in mermaid_notes().items():
        timers = [line for line in note if line.startswith("timer ")]
        assert timers == [f"timer {described(spec)}".replace(";", ",") for spec in deadlines_on(stage)], stage
    enquiry = mermaid_notes()["enquiry"]
    assert any(line.endswith("via expire_enquiry (interrupting)") for line in enquiry)
    assert any(line.startswith("timer first_response ") and line.endswith("(non-interrupting)") for line in enquiry)


def test_a_stage_with_no_commands_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram, "COMMAND_STAGES", {})
    notes = mermaid_notes()
    assert notes[CLOSED] == ["accepts no commands"]
    assert notes["review"][0] == "accepts no commands"
    dot_notes = {stage: dot_lines(dot_nodes(dot_graph())[f"{stage}__note"].get("label")) for stage in STAGES}
    assert dot_notes[CLOSED] == ["accepts no commands"]
    assert dot_notes["review"][:2] == ["accepts no commands", "timers:"]
    closed = process_of(bpmn_root()).find(f"{BPMN}endEvent[@id='stage_{CLOSED}']/{BPMN}documentation")
    assert closed is not None and closed.text == f"Stage {CLOSED}. Accepts no commands.{REOPENING}"


# ---------------------------------------------------------------------------------------------- dot


def dot_graph() -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(export("dot"))
    assert graphs is not None and len(graphs) == 1
    return graphs[0]


def unquote(value: object) -> str:
    assert isinstance(value, str)
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


def dot_lines(label: str) -> list[str]:
    """A quoted DOT label read as Graphviz shows it: `\\l` ends a line, `\\"` and `\\\\` are a quote and a backslash."""
    text, lines, line, i = unquote(label), [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "ln":
                lines.append(line)
                line = ""
            else:
                line += nxt
            i += 2
        else:
            line += text[i]
            i += 1
    assert line == "", "every line of a note ends in \\l"
    return lines


def dot_nodes(graph: pydot.Dot) -> dict[str, pydot.Node]:
    """Every node drawn: those declared with attributes, and those only named by an edge (no attributes)."""
    nodes = {unquote(n.get_name()): n for n in graph.get_nodes() if n.get_name() not in ("node", "edge", "graph")}
    for source, dest, _ in dot_edges(graph):
        for name in (source, dest):
            nodes.setdefault(name, pydot.Node(name))
    return nodes


def dot_edges(graph: pydot.Dot) -> list[tuple[str, str, pydot.Edge]]:
    return [(unquote(e.get_source()), unquote(e.get_destination()), e) for e in graph.get_edges()]


def test_dot_is_a_left_to_right_digraph_of_the_stages() -> None:
    assert export("dot").endswith("\n}\n")  # nothing trails the graph: Graphviz would read it as another
    graph = dot_graph()
    assert graph.get_type() == "digraph" and graph.get_name() == "lifecycle"
    assert graph.get("rankdir") == "LR"
    nodes = dot_nodes(graph)
    assert set(nodes) == {*STAGES, "__start", *(f"{s}__note" for s in STAGES)}
    defaults = graph.get_node("node")[0]
    assert (defaults.get("shape"), defaults.get("style")) == ("box", "rounded")  # stages are rounded boxes
    edge_defaults = graph.get_node("edge")[0]
    assert int(edge_defaults.get("fontsize")) < 14  # move labels in a smaller type than Graphviz's default
    assert nodes[CLOSED].get("shape") == "doublecircle"
    assert all(nodes[s].get("shape") is None for s in OPEN_STAGES)
    assert nodes["__start"].get("shape") == "point" and unquote(nodes["__start"].get("label")) == ""
    starts = [(dest, unquote(e.get("label"))) for source, dest, e in dot_edges(graph) if source == "__start"]
    assert starts == [(STAGES[0], "report")]


def test_dot_draws_every_move_once_dashed_when_a_timer_fires_it() -> None:
    moves = [(s, d, e) for s, d, e in dot_edges(dot_graph()) if s in STAGES and d in STAGES]
    assert Counter((s, d, unquote(e.get("label"))) for s, d, e in moves) == Counter(EDGES)
    dashed = {(s, unquote(e.get("label"))) for s, _, e in moves if e.get("style") == "dashed"}
    assert dashed == TIMER_FIRED
    assert all(set(e.get_attributes()) <= {"label", "style"} for _, _, e in moves)
    assert all(e.get("style") in (None, "dashed") for _, _, e in moves)


def test_dot_notes_list_commands_and_timers_of_their_stage() -> None:
    graph = dot_graph()
    nodes = dot_nodes(graph)
    for stage in STAGES:
        note = nodes[f"{stage}__note"]
        assert note.get("shape") == "note"
        lines = dot_lines(note.get("label"))
        expected = [f"{heading(stage)}:", *(f"  {c}" for c in listed(stage))]
        if deadlines_on(stage):
            expected += ["timers:", *(f"  {described(spec)}" for spec in deadlines_on(stage))]
        assert lines == expected, stage
        ties = [e for s, d, e in dot_edges(graph) if (s, d) == (f"{stage}__note", stage)]
        assert len(ties) == 1 and ties[0].get("style") == "dashed" and ties[0].get("arrowhead") == "none"


def test_dot_keeps_quotes_and_backslashes_in_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = TimerEvent("odd", ("review",), 'a "final" warning \\ letter', "case.review_interval", False)
    monkeypatch.setattr(diagram, "TIMER_EVENTS", (*TIMER_EVENTS, odd))
    graph = dot_graph()
    assert set(dot_nodes(graph)) == {*STAGES, "__start", *(f"{s}__note" for s in STAGES)}
    lines = dot_lines(dot_nodes(graph)["review__note"].get("label"))
    assert '  odd after case.review_interval: a "final" warning \\ letter (non-interrupting)' in lines


# ---------------------------------------------------------------------------------------------- bpmn


def bpmn_root() -> ET.Element:
    return ET.fromstring(export("bpmn"))


def process_of(root: ET.Element) -> ET.Element:
    process = root.find(f"{BPMN}process")
    assert process is not None
    return process


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@cache
def bpmn_schema() -> etree.XMLSchema:
    """The OMG BPMN 2.0 schema (with DI), as shipped by SpiffWorkflow, a BPMN engine."""
    path = files("SpiffWorkflow.bpmn.parser") / "schema" / "BPMN20.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def test_bpmn_is_valid_against_the_bpmn_2_schema() -> None:
    """What Camunda Modeler and bpmn.io expect: a valid BPMN 2.0 document with diagram interchange."""
    text = export("bpmn")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    schema = bpmn_schema()
    document = etree.fromstring(text.encode())
    assert schema.validate(document), schema.error_log.last_error


def test_bpmn_has_one_start_an_end_and_a_task_per_open_stage() -> None:
    process = process_of(bpmn_root())
    assert process.get("name") == "ASB case lifecycle"
    assert process.get("isExecutable") == "false"
    doc = process.find(f"{BPMN}documentation")
    assert doc is not None and "statemachine/catalogue.py" in (doc.text or "")
    starts = process.findall(f"{BPMN}startEvent")
    assert len(starts) == 1 and starts[0].get("name") == "Report received"
    closed = process.find(f"{BPMN}endEvent[@id='stage_{CLOSED}']")
    assert closed is not None and closed.get("name") == "Case closed"
    tasks = {t.get("id"): t.get("name") for t in process.findall(f"{BPMN}task")}
    assert tasks == {f"stage_{stage}": stage.capitalize() for stage in OPEN_STAGES}
    kinds = {local(el.tag) for el in process}
    assert kinds <= {"documentation", "startEvent", "endEvent", "task", "exclusiveGateway", "boundaryEvent",
                     "sequenceFlow"}


def test_bpmn_ids_are_present_unique_and_flows_connect_existing_elements() -> None:
    root = bpmn_root()
    unnamed = {"definitions", "documentation", "incoming", "outgoing", "timeDuration", "Bounds", "waypoint",
               "BPMNLabel"}
    for el in root.iter():
        if local(el.tag) not in unnamed:
            assert el.get("id"), local(el.tag)  # a modeller refers to every element by its id
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


def stage_of(process: ET.Element, element_id: str) -> str | None:
    """The stage a flow leaves from or arrives at: a stage's task or end event, its gateway, or its timers."""
    el = process.find(f"*[@id='{element_id}']")
    assert el is not None
    if local(el.tag) == "boundaryEvent":
        element_id = el.get("attachedToRef", "")
    for prefix in ("stage_", "gateway_"):
        if element_id.startswith(prefix):
            return element_id.removeprefix(prefix)
    return None


def bpmn_moves(root: ET.Element) -> Counter[tuple[str, str, str]]:
    """(source stage, destination stage, trigger) for every named flow, however it is drawn."""
    process = process_of(root)
    moves: Counter[tuple[str, str, str]] = Counter()
    for flow in process.findall(f"{BPMN}sequenceFlow"):
        name = flow.get("name")
        source, dest = stage_of(process, flow.get("sourceRef", "")), stage_of(process, flow.get("targetRef", ""))
        if not name:
            # Unnamed flows are not moves: the start, a stage into its own gateway, a timer into its outcome.
            assert source is None or dest is None or source == dest, flow.get("id")
            continue
        assert source is not None and dest is not None, flow.get("id")
        moves.update((source, dest, trigger) for trigger in name.split(" / "))
    return moves


def test_bpmn_draws_each_stage_move_once_from_its_stage() -> None:
    root = bpmn_root()
    assert bpmn_moves(root) == Counter(e for e in EDGES if e[0] != "closed")
    # A BPMN end event has no outgoing flow: reopening a closed case is said on it (issue 12 item 6).
    closed = process_of(root).find(f"{BPMN}endEvent[@id='stage_closed']")
    assert closed is not None
    said = "".join(closed.itertext())
    assert "reopen_case" in said and "case.reopen_within" in said
    assert all(dest in said for source, dest, _ in EDGES if source == "closed")


def test_bpmn_report_received_leads_to_the_first_stage() -> None:
    process = process_of(bpmn_root())
    flows = [f for f in process.findall(f"{BPMN}sequenceFlow") if f.get("sourceRef") == "start_report_received"]
    assert [(f.get("targetRef"), f.get("name")) for f in flows] == [(f"stage_{STAGES[0]}", None)]


def test_bpmn_a_stage_with_several_ways_out_chooses_at_a_gateway_with_its_marker() -> None:
    root = bpmn_root()
    process = process_of(root)
    for stage in OPEN_STAGES:
        ways = {(d, t) for s, d, t in EDGES if s == stage and (s, t) not in TIMER_FIRED}
        gateway = process.find(f"{BPMN}exclusiveGateway[@id='gateway_{stage}']")
        assert (gateway is not None) == (len({d for d, _ in ways}) > 1), stage
        if gateway is not None:
            assert set((gateway.get("name") or "").split(" / ")) == {t for _, t in ways}
            into = [f for f in process.findall(f"{BPMN}sequenceFlow") if f.get("targetRef") == f"gateway_{stage}"]
            assert [f.get("sourceRef") for f in into] == [f"stage_{stage}"]
    plane = root.find(f"{BPMNDI}BPMNDiagram/{BPMNDI}BPMNPlane")
    assert plane is not None
    for shape in plane.findall(f"{BPMNDI}BPMNShape"):
        is_gateway = (shape.get("bpmnElement") or "").startswith("gateway_")
        assert shape.get("isMarkerVisible") == ("true" if is_gateway else None)  # the X a reader expects


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
    # Contact is promised in every open stage, so its timer is on every stage task.
    contact = {e.get("attachedToRef") for e in boundaries if e.get("id", "").endswith("_contact")}
    assert contact == tasks


def test_bpmn_each_timer_says_when_it_fires_and_what_follows() -> None:
    process = process_of(bpmn_root())
    flows = process.findall(f"{BPMN}sequenceFlow")
    for stage in OPEN_STAGES:
        for spec in deadlines_on(stage):
            event = process.find(f"{BPMN}boundaryEvent[@id='timer_{stage}_{spec.kind}']")
            assert event is not None, (stage, spec.kind)
            assert event.get("name") == f"{spec.kind} ({spec.setting})"
            assert event.get("cancelActivity") == ("true" if spec.trigger else "false")
            doc = event.find(f"{BPMN}documentation")
            assert doc is not None and doc.text == f"Profile setting {spec.setting}: timer {described(spec)}."
            duration = event.find(f"{BPMN}timerEventDefinition/{BPMN}timeDuration")
            assert duration is not None and duration.get(f"{XSI}type") == "bpmn:tFormalExpression"
            assert spec.setting in "".join(duration.itertext())
            out = [f for f in flows if f.get("sourceRef") == event.get("id")]
            assert len(out) == 1
            target = process.find(f"*[@id='{out[0].get('targetRef')}']")
            assert target is not None
            if spec.trigger:
                dests = [f"stage_{d}" for s, d, t in EDGES if (s, t) == (stage, spec.trigger)]
                assert ([target.get("id")], out[0].get("name")) == (dests, spec.trigger)
            else:
                assert local(target.tag) == "endEvent" and (target.get("name") or "").lower() == spec.fires.lower()
                assert out[0].get("name") is None


def test_bpmn_interrupting_timers_fire_their_stage_move() -> None:
    process = process_of(bpmn_root())
    by_source = {f.get("sourceRef"): f for f in process.findall(f"{BPMN}sequenceFlow")}
    expiry = by_source["timer_enquiry_enquiry_expiry"]
    assert (expiry.get("targetRef"), expiry.get("name")) == ("stage_closed", "expire_enquiry")
    review = by_source["timer_investigation_investigation_end"]
    assert (review.get("targetRef"), review.get("name")) == ("stage_review", "begin_review")


def test_bpmn_stages_document_the_commands_they_accept() -> None:
    process = process_of(bpmn_root())
    for stage in OPEN_STAGES:
        doc = process.find(f"{BPMN}task[@id='stage_{stage}']/{BPMN}documentation")
        assert doc is not None and doc.text is not None
        head, _, commands = doc.text.removesuffix(".").partition(". In-stage commands: ")
        assert head == f"Stage {stage}" and commands.split(", ") == listed(stage)
    doc = process.find(f"{BPMN}endEvent[@id='stage_{CLOSED}']/{BPMN}documentation")
    assert doc is not None
    assert doc.text == f"Stage {CLOSED}. {heading(CLOSED).capitalize()}: {', '.join(accepted(CLOSED))}.{REOPENING}"


def test_timer_settings_exist_in_the_profile() -> None:
    profile = load("default")
    for timer in TIMER_EVENTS:
        value: object = profile
        for name in timer.setting.split("."):  # nested settings too: risk_matrix.review_every.<risk>
            if name == "<risk>":
                continue
            assert hasattr(value, name), timer.setting
            value = getattr(value, name)


def test_a_timer_whose_move_is_missing_is_named_in_the_error() -> None:
    """A deadline given a trigger the stage has no move for is a catalogue slip: the export says which."""
    lost = TimerEvent("review_lapse", ("review",), "case closes", "case.review_interval", True, "expire_enquiry")
    with pytest.raises(ValueError, match="timer review_lapse fires expire_enquiry, which STAGE_MOVES has no move "
                                         "for from review"):
        timer_dest(lost, "review")
    quiet = TimerEvent("prompt", ("review",), "a prompt", "case.inactivity", False)
    assert timer_dest(quiet, "review") is None


def test_merged_moves_keep_each_destination_of_withdraw_legal() -> None:
    withdrawals = {m.dest for m in stage_moves() if m.trigger == "withdraw_legal"}
    assert withdrawals == {"investigation", "review", "interventions"}
    assert len(stage_moves()) == len(EDGES)


# ---------------------------------------------------------------------------------------------- bpmn layout


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def overlaps(self, other: Box) -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom

    def crossed_by(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Whether the (horizontal or vertical) segment a-b runs through the inside of the box."""
        (x1, y1), (x2, y2) = a, b
        if y1 == y2:
            return self.y < y1 < self.bottom and max(min(x1, x2), self.x) < min(max(x1, x2), self.right)
        return self.x < x1 < self.right and max(min(y1, y2), self.y) < min(max(y1, y2), self.bottom)


@dataclass(frozen=True)
class Drawn:
    kind: str
    box: Box
    label: Box | None
    attached_to: str | None


Point = tuple[float, float]


def box_of(bounds: ET.Element | None) -> Box:
    assert bounds is not None
    return Box(*(float(bounds.get(k, "nan")) for k in ("x", "y", "width", "height")))


def layout(root: ET.Element) -> tuple[dict[str, Drawn], dict[str, tuple[str, str, list[Point]]]]:
    """Shapes (kind, bounds, label bounds) and flows (source, target, waypoints) as the diagram draws them."""
    process = process_of(root)
    kinds = {el.get("id"): (local(el.tag), el.get("attachedToRef")) for el in process}
    plane = root.find(f"{BPMNDI}BPMNDiagram/{BPMNDI}BPMNPlane")
    assert plane is not None
    shapes: dict[str, Drawn] = {}
    for shape in plane.findall(f"{BPMNDI}BPMNShape"):
        element = shape.get("bpmnElement", "")
        label = shape.find(f"{BPMNDI}BPMNLabel/{DC}Bounds")
        kind, attached = kinds[element]
        shapes[element] = Drawn(kind or "", box_of(shape.find(f"{DC}Bounds")),
                                box_of(label) if label is not None else None, attached)
    refs = {f.get("id"): (f.get("sourceRef", ""), f.get("targetRef", ""))
            for f in process.findall(f"{BPMN}sequenceFlow")}
    flows = {}
    for edge in plane.findall(f"{BPMNDI}BPMNEdge"):
        points = [(float(p.get("x", "nan")), float(p.get("y", "nan"))) for p in edge.findall(f"{DI}waypoint")]
        source, target = refs[edge.get("bpmnElement")]
        flows[edge.get("bpmnElement", "")] = (source, target, points)
    return shapes, flows


def segments(points: list[Point]) -> list[tuple[Point, Point]]:
    return list(zip(points, points[1:], strict=False))


def on_outline(shape: Drawn, point: Point) -> bool:
    """Whether a line's end touches the shape's outline (a task's box, an event's circle, a gateway's diamond)."""
    box, (x, y) = shape.box, point
    dx, dy = abs(x - box.cx), abs(y - box.cy)
    if shape.kind == "task":
        on_side = box.x <= x <= box.right and y in (box.y, box.bottom)
        return on_side or (box.y <= y <= box.bottom and x in (box.x, box.right))
    if shape.kind == "exclusiveGateway":
        return abs(dx / (box.w / 2) + dy / (box.h / 2) - 1) < 1e-6
    return abs((dx**2 + dy**2) ** 0.5 - box.w / 2) < 1e-6


def check_layout(root: ET.Element) -> None:
    """What a reader of the BPMN notices, for any catalogue: run on the real one and on a made-up one."""
    shapes, flows = layout(root)
    everything = [v for s in shapes.values() for v in (s.box, s.label) if v is not None]
    everything += [Box(x, y, 0, 0) for _, _, points in flows.values() for x, y in points]
    assert all(b.x >= 0 and b.y >= 0 for b in everything), "the diagram starts in view"

    # No shape lies over another, except a timer on its own stage's edge.
    for (a_id, a), (b_id, b) in combinations(shapes.items(), 2):
        if a_id == b.attached_to or b_id == a.attached_to:
            continue
        assert not a.box.overlaps(b.box), (a_id, b_id)

    # Each timer straddles the bottom edge of its stage, within its width.
    for event_id, event in shapes.items():
        if event.kind == "boundaryEvent":
            task = shapes[event.attached_to or ""].box
            assert event.box.cy == task.bottom, event_id
            assert task.x <= event.box.x and event.box.right <= task.right, event_id

    # Every event and gateway has its label's place, clear of every shape, label and line.
    labels = {i: s.label for i, s in shapes.items() if s.label is not None}
    assert set(labels) == {i for i, s in shapes.items() if s.kind != "task"}
    for label_id, label in labels.items():
        assert not any(label.overlaps(s.box) for s in shapes.values()), label_id
        assert not any(label.overlaps(o) for i, o in labels.items() if i != label_id), label_id
        for flow_id, (_, _, points) in flows.items():
            assert not any(label.crossed_by(a, b) for a, b in segments(points)), (label_id, flow_id)

    # A reader pairs a label with the shape nearest to it: each label is nearest its own event or gateway,
    # and a timer's sits on its own line, just over it, beside the drop from the timer.
    def gap(a: Box, b: Box) -> float:
        dx, dy = max(a.x - b.right, b.x - a.right, 0), max(a.y - b.bottom, b.y - a.bottom, 0)
        return float((dx**2 + dy**2) ** 0.5)

    for label_id, label in labels.items():
        if shapes[label_id].kind == "boundaryEvent":
            (_, _, points), = [f for f in flows.values() if f[0] == label_id]
            assert any(a[1] == b[1] and 0 < a[1] - label.bottom <= 8 and 0 < label.x - min(a[0], b[0]) <= 8
                       for a, b in segments(points)), label_id
            continue
        own = gap(label, shapes[label_id].box)
        assert all(own < gap(label, s.box) for i, s in shapes.items() if i != label_id), label_id

    # Lines run straight across or straight down, from one shape's outline to another's, through none.
    for flow_id, (source, target, points) in flows.items():
        assert len(points) >= 2, flow_id
        assert all(a != b and (a[0] == b[0] or a[1] == b[1]) for a, b in segments(points)), flow_id
        assert on_outline(shapes[source], points[0]), (flow_id, "leaves", source)
        assert on_outline(shapes[target], points[-1]), (flow_id, "reaches", target)
        for shape_id, shape in shapes.items():
            assert not any(shape.box.crossed_by(a, b) for a, b in segments(points)), (flow_id, shape_id)

    # Two lines share a stretch only where they leave one shape, or merge into one event, never into a stage:
    # each move into a stage arrives at its own point.
    def shared(p: tuple[Point, Point], q: tuple[Point, Point]) -> bool:
        (a, b), (c, d) = p, q
        if a[1] == b[1] == c[1] == d[1]:
            return max(min(a[0], b[0]), min(c[0], d[0])) < min(max(a[0], b[0]), max(c[0], d[0]))
        if a[0] == b[0] == c[0] == d[0]:
            return max(min(a[1], b[1]), min(c[1], d[1])) < min(max(a[1], b[1]), max(c[1], d[1]))
        return False

    for (f_id, (fs, ft, fp)), (g_id, (gs, gt, gp)) in combinations(flows.items(), 2):
        if fs == gs or (ft == gt and shapes[ft].kind != "task"):
            continue
        assert not any(shared(p, q) for p in segments(fp) for q in segments(gp)), (f_id, g_id)

    # Stages read left to right in lifecycle order on one row, from the report to the closure.
    row = [shapes["start_report_received"].box, *(shapes[f"stage_{s}"].box for s in STAGES)]
    assert all(a.right < b.x for a, b in zip(row, row[1:], strict=False))
    assert len({b.cy for b in row}) == 1
    top = min(b.y for b in row)

    # A move to the next stage is a straight arrow; others go over the top; timers' moves run underneath.
    columns = {f"stage_{s}": i for i, s in enumerate(STAGES)}
    for flow_id, (source, target, points) in flows.items():
        if source.startswith(("gateway_", "stage_")) and not target.startswith("gateway_"):
            stage = source.removeprefix("gateway_").removeprefix("stage_")
            if columns[target] == columns[f"stage_{stage}"] + 1:
                assert len(points) == 2 and points[0][1] == points[1][1] == row[0].cy, flow_id
            else:
                assert all(y < top for _, y in points[1:-1]), flow_id
        elif shapes[source].kind == "boundaryEvent" and target in columns:
            lowest = max(s.box.bottom for s in shapes.values())
            assert max(y for _, y in points) > lowest, flow_id

    # Timers' lines never cross one another.
    timer_lines = [(i, points) for i, (s, _, points) in flows.items() if shapes[s].kind == "boundaryEvent"]

    def cross(p: tuple[Point, Point], q: tuple[Point, Point]) -> bool:
        (a, b), (c, d) = p, q
        if a[1] == b[1] and c[0] == d[0]:
            return min(a[0], b[0]) < c[0] < max(a[0], b[0]) and min(c[1], d[1]) < a[1] < max(c[1], d[1])
        if a[0] == b[0] and c[1] == d[1]:
            return cross(q, p)
        return False

    for (f_id, fp), (g_id, gp) in combinations(timer_lines, 2):
        assert not any(cross(p, q) for p in segments(fp) for q in segments(gp)), (f_id, g_id)


def test_bpmn_layout_is_readable() -> None:
    check_layout(bpmn_root())


def test_bpmn_layout_stays_readable_for_another_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout follows the catalogue: a stage with one way out needs no gateway, one timer still runs below."""
    moves = [
        ("convert_to_case", ["enquiry"], "investigation"),
        ("begin_review", ["investigation"], "review"),
        ("close_case", ["investigation"], "closed"),
        ("start_intervention", ["review"], "interventions"),
        ("approve_closure", ["review", "interventions", "legal"], "closed"),
        ("close_review", ["review"], "closed"),  # a second way from review to closed: one line, both names
        ("enter_legal", ["interventions"], "legal"),
    ]
    timers = (TimerEvent("investigation_end", ("investigation",), "initial case review", "case.investigation",
                         True, "begin_review"),)
    monkeypatch.setattr(diagram, "STAGE_MOVES", moves)
    monkeypatch.setattr(diagram, "TIMER_EVENTS", timers)
    root = bpmn_root()
    check_layout(root)
    assert bpmn_moves(root) == Counter((s, d, t) for t, sources, d in moves for s in sources)
    gateways = {g.get("id") for g in process_of(root).findall(f"{BPMN}exclusiveGateway")}
    assert gateways == {"gateway_review", "gateway_interventions"}
    to_closed = [f.get("name") for f in process_of(root).findall(f"{BPMN}sequenceFlow")
                 if (f.get("sourceRef"), f.get("targetRef")) == ("gateway_review", f"stage_{CLOSED}")]
    assert to_closed == ["approve_closure / close_review"]
    assert bpmn_schema().validate(etree.fromstring(export("bpmn").encode()))


def test_bpmn_diagram_draws_every_flow_element() -> None:
    root = bpmn_root()
    process = process_of(root)
    plane = root.find(f"{BPMNDI}BPMNDiagram/{BPMNDI}BPMNPlane")
    assert plane is not None and plane.get("bpmnElement") == process.get("id")
    shapes = [s.get("bpmnElement") for s in plane.findall(f"{BPMNDI}BPMNShape")]
    edges = [e.get("bpmnElement") for e in plane.findall(f"{BPMNDI}BPMNEdge")]
    drawn = [el.get("id") for el in process if local(el.tag) not in ("documentation", "sequenceFlow")]
    assert sorted(shapes) == sorted(drawn)  # type: ignore[type-var]
    assert sorted(edges) == sorted(f.get("id") for f in process.findall(f"{BPMN}sequenceFlow"))  # type: ignore[type-var]


# ---------------------------------------------------------------------------------------------- the command


def test_unknown_format_is_refused_naming_the_formats() -> None:
    with pytest.raises(ValueError, match=r"^unknown format 'svg' \(choose from mermaid, dot, bpmn\)$"):
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
