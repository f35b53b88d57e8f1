"""The case lifecycle drawn as a diagram (Mermaid, Graphviz DOT or BPMN 2.0), for `asb lifecycle --format`.

Why derive rather than draw by hand: the diagram is what managers, auditors and landlords read to
understand the process, so it must never drift from what the system enforces. Everything drawn is
read from the case catalogue (statemachine/catalogue.py): the stage moves from `STAGE_MOVES`, the
commands accepted in each stage from the command specs, and the timers from the deadline specs
(where each runs, the profile setting it reads, what it does when it fires). Only the layout is here.

A closed case is drawn with what it still accepts: for `case_review.apply_within_after_closure` after
its closure, the commands whose spec says `after_closure` (an ASB Case Review application and the
applicant's reports it rests on, 003 §10); and for `case.reopen_within`, a manager's reopening back to
the stage it closed from (reopen_case, drawn as its moves; issue 12 item 6).

Everything is pure (text in, text out) so the export is cheap to test and safe to call anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from statemachine.catalogue import COMMANDS, DEADLINES, STAGE_MOVES
from statemachine.commands import OPEN_STAGES, STAGES

FORMATS: tuple[str, ...] = ("mermaid", "dot", "bpmn")

#: The profile setting that bounds what a closed case still accepts (the guard of each `after_closure` command).
AFTER_CLOSURE_SETTING = "case_review.apply_within_after_closure"
#: The profile setting that bounds how long a manager may reopen a closed case (reopen_case's guard).
REOPEN_SETTING = "case.reopen_within"

#: Where each command may be issued, from its spec: its stages, and the closed stage when the spec says
#: `after_closure` (then only within `AFTER_CLOSURE_SETTING` of the closure).
COMMAND_STAGES: dict[str, tuple[str, ...]] = {
    name: spec.stages + ((STAGES[-1],) if spec.after_closure else ()) for name, spec in COMMANDS.items()
}


@dataclass(frozen=True)
class TimerEvent:
    """A deadline drawn as a timer boundary event on each stage it is attached to.

    `trigger` names the stage move an interrupting timer fires (its destination is read from
    `STAGE_MOVES`, not repeated here); non-interrupting timers leave the case in its stage.
    """

    kind: str
    stages: tuple[str, ...]
    effect: str
    setting: str
    interrupting: bool
    trigger: str | None = None


#: Every deadline kind of the catalogue, as a timer on each stage where it runs.
TIMER_EVENTS: tuple[TimerEvent, ...] = tuple(
    TimerEvent(spec.kind, tuple(s for s in spec.stages if s in OPEN_STAGES), spec.fires, spec.setting,
               spec.trigger is not None, spec.trigger)
    for spec in DEADLINES.values()
)


@dataclass(frozen=True)
class Move:
    """One edge of the lifecycle: `trigger` takes a case from `source` to `dest`."""

    trigger: str
    source: str
    dest: str


def stage_moves() -> list[Move]:
    """`STAGE_MOVES` flattened to one edge per (trigger, source, dest), duplicates merged, order kept."""
    seen: dict[Move, None] = {}
    for trigger, sources, dest in STAGE_MOVES:
        for source in sources:
            seen.setdefault(Move(trigger, source, dest), None)
    return list(seen)


def in_stage_commands(stage: str) -> list[str]:
    """Commands accepted in `stage` that keep the case there (the ones that move it are drawn as edges)."""
    leaving = {m.trigger for m in stage_moves() if m.source == stage and m.dest != stage}
    return [name for name, stages in COMMAND_STAGES.items() if stage in stages and name not in leaving]


def commands_heading(stage: str) -> str:
    """What a stage's list of commands is headed with: a closed case takes its few only for a while."""
    return "commands" if stage in OPEN_STAGES else f"commands within {AFTER_CLOSURE_SETTING} of closure"


def timers_on(stage: str) -> list[TimerEvent]:
    """Timers attached to `stage`, interrupting first (the BPMN layout relies on that order)."""
    found = [t for t in TIMER_EVENTS if stage in t.stages]
    return sorted(found, key=lambda t: not t.interrupting)


def timer_dest(timer: TimerEvent, stage: str) -> str | None:
    """Where an interrupting timer takes a case from `stage`, looked up in `STAGE_MOVES`."""
    if timer.trigger is None:
        return None
    for move in stage_moves():
        if move.trigger == timer.trigger and move.source == stage:
            return move.dest
    raise ValueError(f"timer {timer.kind} fires {timer.trigger}, which STAGE_MOVES has no move for from {stage}")


def _timer_triggers(stage: str) -> set[str]:
    return {t.trigger for t in timers_on(stage) if t.trigger is not None}


def _describe_timer(timer: TimerEvent) -> str:
    what = f"{timer.effect} via {timer.trigger}" if timer.trigger else timer.effect
    mode = "interrupting" if timer.interrupting else "non-interrupting"
    return f"timer {timer.kind} after {timer.setting}: {what} ({mode})"


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def export(fmt: str) -> str:
    """The lifecycle diagram in `fmt` ("mermaid", "dot" or "bpmn"); a ValueError names the formats otherwise."""
    renderers: dict[str, Callable[[], str]] = {"mermaid": to_mermaid, "dot": to_dot, "bpmn": to_bpmn}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return renderers[fmt]()


# ---------------------------------------------------------------------------------------------- mermaid


def _mermaid_text(text: str) -> str:
    # Mermaid reads "<" and ">" as HTML and ";" as the end of a statement.
    return text.replace(";", ",").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid() -> str:
    """A `stateDiagram-v2`: one edge per stage move, and a note per stage with its commands and timers."""
    lines = ["stateDiagram-v2", f"    [*] --> {STAGES[0]}"]
    lines += [f"    {m.source} --> {m.dest} : {m.trigger}" for m in stage_moves()]
    lines.append(f"    {STAGES[-1]} --> [*]")
    for stage in STAGES:
        body = [", ".join(chunk) for chunk in _chunks(in_stage_commands(stage), 4)]
        body = [f"{commands_heading(stage)}: " + body[0], *body[1:]] if body else ["accepts no commands"]
        body += [_describe_timer(t) for t in timers_on(stage)]
        lines.append(f"    note right of {stage}")
        lines += [f"        {_mermaid_text(line)}" for line in body]
        lines.append("    end note")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- dot


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_quote(text: str) -> str:
    return f'"{_dot_escape(text)}"'


def to_dot() -> str:
    """A Graphviz digraph: stage moves as labelled edges (dashed when a timer fires them), notes per stage."""
    lines = [
        "digraph lifecycle {",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    "__start" [shape=point, label=""];',
        f'    {_dot_quote(STAGES[-1])} [shape=doublecircle];',
        f'    "__start" -> {_dot_quote(STAGES[0])} [label="report"];',
    ]
    for m in stage_moves():
        dashed = ", style=dashed" if m.trigger in _timer_triggers(m.source) else ""
        lines.append(f"    {_dot_quote(m.source)} -> {_dot_quote(m.dest)} [label={_dot_quote(m.trigger)}{dashed}];")
    for stage in STAGES:
        commands, timers = in_stage_commands(stage), timers_on(stage)
        body = [f"{commands_heading(stage)}:", *(f"  {c}" for c in commands)] if commands else ["accepts no commands"]
        if timers:
            body += ["timers:", *(f"  {_describe_timer(t).removeprefix('timer ')}" for t in timers)]
        note = _dot_quote(f"{stage}__note")
        label = '"' + "".join(f"{_dot_escape(line)}\\l" for line in body) + '"'  # \l: left-justified lines
        lines.append(f'    {note} [shape=note, fontsize=9, label={label}];')
        lines.append(f"    {note} -> {_dot_quote(stage)} [style=dashed, arrowhead=none];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- bpmn

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# Layout (pixels): stages left to right on one row, moves that skip or go back routed above it,
# timer outcomes stacked below each stage, interrupting timers routed along the bottom. Each event's
# label has its own place (bpmn-js would otherwise stack them under the events, over the lines).
_TASK_H, _X0, _MIN_TASK_W = 80, 220, 220
_GW, _EV = 50, 36
_TIMER_PITCH = _EV + 8  # timers side by side on their stage's bottom edge, none over another
_LANE = 28  # between the lanes above the row
_LANE_BELOW = 40  # between the lanes along the bottom: room for a timer's label over its lane
_ABOVE = 70  # room between the stage row and the first lane above it, for the gateway labels
_OUTCOME_X = 140  # a non-interrupting timer's outcome, this far right of its stage (its label goes between)
_GAP = 380  # from one stage to the next: its gateway, its timer outcomes and their labels
_LABEL_H = 28  # two lines of label text


@dataclass
class _El:
    """A minimal XML element, so the BPMN text is built without global namespace registration."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_El] = field(default_factory=list)
    text: str | None = None

    def add(self, tag: str, text: str | None = None, **attrs: str) -> _El:
        child = _El(tag, dict(attrs), [], text)
        self.children.append(child)
        return child

    def render(self, depth: int = 0) -> list[str]:
        pad = "  " * depth
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in self.attrs.items())
        if self.text is not None:
            return [f"{pad}<{self.tag}{attrs}>{escape(self.text)}</{self.tag}>"]
        if not self.children:
            return [f"{pad}<{self.tag}{attrs} />"]
        inner = [line for child in self.children for line in child.render(depth + 1)]
        return [f"{pad}<{self.tag}{attrs}>", *inner, f"{pad}</{self.tag}>"]


@dataclass
class _Node:
    id: str
    tag: str
    name: str
    x: float
    y: float
    w: float
    h: float
    doc: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    timer: TimerEvent | None = None
    label: tuple[float, float, float, float] | None = None

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    name: str
    points: list[tuple[float, float]]


def _task_id(stage: str) -> str:
    return f"stage_{stage}"


class _BpmnLayout:
    """Builds the BPMN nodes and flows with coordinates; kept apart from the XML so each stays simple."""

    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.flows: list[_Flow] = []
        self.by_id: dict[str, _Node] = {}
        self.open: list[str] = [s for s in STAGES if s != STAGES[-1]]
        # The moves each stage's gateway (or task) chooses between: timer-fired moves leave by the timer.
        self.choices: dict[str, dict[str, list[str]]] = {}
        for stage in self.open:
            targets: dict[str, list[str]] = {}
            for m in stage_moves():
                if m.source == stage and m.trigger not in _timer_triggers(stage):
                    targets.setdefault(m.dest, []).append(m.trigger)
            self.choices[stage] = targets
        # Every stage task is wide enough for the most timers any stage has, side by side.
        most = max((len(timers_on(stage)) for stage in self.open), default=0)
        self.task_w = max(_MIN_TASK_W, 24 + _EV + _TIMER_PITCH * max(most - 1, 0))
        self.col = self.task_w + _GAP
        upper = sum(
            1 for stage, targets in self.choices.items() for dest in targets if not self._adjacent(stage, dest)
        )
        self.main_y = 60 + _LANE * upper + _ABOVE
        self.upper_used = 0
        self.entries: dict[str, int] = {}

    def column(self, stage: str) -> int:
        return STAGES.index(stage)

    def _adjacent(self, source: str, dest: str) -> bool:
        return self.column(dest) == self.column(source) + 1

    def node(self, node: _Node) -> _Node:
        self.nodes.append(node)
        self.by_id[node.id] = node
        return node

    def flow(self, source: str, target: str, name: str, points: list[tuple[float, float]]) -> None:
        self.flows.append(_Flow(f"flow_{source}__{target}", source, target, name, points))

    def build(self) -> _BpmnLayout:
        mid = self.main_y + _TASK_H / 2
        start = self.node(_Node("start_report_received", "startEvent", "Report received",
                                100, mid - _EV / 2, _EV, _EV, label=(100 + _EV / 2 - 40, mid + _EV / 2 + 6, 80, 14)))
        for stage in self.open:
            x = _X0 + self.column(stage) * self.col
            commands = ", ".join(in_stage_commands(stage))
            self.node(_Node(_task_id(stage), "task", stage.capitalize(), x, self.main_y, self.task_w, _TASK_H,
                            doc=f"Stage {stage}. In-stage commands: {commands}."))
        closed, after = STAGES[-1], ", ".join(in_stage_commands(STAGES[-1]))
        end_x = _X0 + self.column(closed) * self.col
        accepts = f"{commands_heading(closed).capitalize()}: {after}" if after else "Accepts no commands"
        # An end event has no outgoing flow in BPMN: reopening (a manager, within the profile's period) is
        # said on it rather than drawn; the Mermaid and DOT diagrams draw its moves.
        reopen = sorted({m.dest for m in stage_moves() if m.source == closed})
        reopening = (f" A manager may reopen the case within {REOPEN_SETTING} (reopen_case), back to the stage it "
                     f"closed from: {', '.join(reopen)}.") if reopen else ""
        self.node(_Node(_task_id(closed), "endEvent", "Case closed", end_x, mid - _EV / 2, _EV, _EV,
                        doc=f"Stage {closed}. {accepts}.{reopening}", label=(end_x + _EV + 6, mid - 7, 80, 14)))
        first = self.by_id[_task_id(STAGES[0])]
        self.flow(start.id, first.id, "", [(start.x + _EV, mid), (first.x, mid)])
        for stage in self.open:
            self._choices(stage)
        self._timers()
        return self

    def _choices(self, stage: str) -> None:
        task = self.by_id[_task_id(stage)]
        targets = self.choices[stage]
        source = task
        if len(targets) > 1:
            triggers = list(dict.fromkeys(t for names in targets.values() for t in names))
            source = self.node(_Node(f"gateway_{stage}", "exclusiveGateway", " / ".join(triggers),
                                     task.x + task.w + 50, task.cy - _GW / 2, _GW, _GW,
                                     label=(task.x + task.w + 105, task.y - 75, 200, 70)))
            self.flow(task.id, source.id, "", [(task.x + task.w, task.cy), (source.x, source.cy)])
        for dest, triggers in targets.items():
            target = self.by_id[_task_id(dest)]
            if self._adjacent(stage, dest):
                points = [(source.x + source.w, source.cy), (target.x, target.cy)]
            else:
                self.upper_used += 1
                lane = self.main_y - _ABOVE - _LANE * self.upper_used
                if target.tag == "task":
                    entry = self.entries.get(target.id, 0)
                    self.entries[target.id] = entry + 1
                    tx = target.x + 20 + 25 * entry
                else:
                    tx = target.cx
                points = [(source.cx, source.y), (source.cx, lane), (tx, lane), (tx, target.y)]
            self.flow(source.id, target.id, " / ".join(triggers), points)

    def _timers(self) -> None:
        stacks: list[tuple[_Node, TimerEvent, str]] = []
        deepest = self.main_y + _TASK_H + _EV / 2  # the bottom lanes run below the row even with no outcome
        for stage in self.open:
            task = self.by_id[_task_id(stage)]
            timers = timers_on(stage)
            waiting = [t for t in timers if not t.interrupting]
            ex = task.x + task.w + _OUTCOME_X
            for i, timer in enumerate(timers):
                boundary = self.node(_Node(
                    f"timer_{stage}_{timer.kind}", "boundaryEvent", f"{timer.kind} ({timer.setting})",
                    task.x + 12 + _TIMER_PITCH * i, task.y + _TASK_H - _EV / 2, _EV, _EV,
                    doc=f"Profile setting {timer.setting}: {_describe_timer(timer)}.",
                    attrs={"attachedToRef": task.id, "cancelActivity": "true" if timer.interrupting else "false"},
                    timer=timer,
                ))
                if timer.interrupting:
                    stacks.append((boundary, timer, stage))
                    continue
                # Rightmost timer gets the shallowest outcome, so no flow crosses another; its label sits
                # over its own line, right of its drop, where no other line runs.
                depth = task.y + _TASK_H + 60 + 50 * (len(waiting) - 1 - waiting.index(timer))
                end = self.node(_Node(f"{boundary.id}_done", "endEvent", timer.effect.capitalize(),
                                      ex, depth - _EV / 2, _EV, _EV, label=(ex + _EV + 6, depth - 8, 160, _LABEL_H)))
                boundary.label = (boundary.cx + 6, depth - 4 - _LABEL_H, min(ex - 12 - boundary.cx, 220), _LABEL_H)
                self.flow(boundary.id, end.id, "", [(boundary.cx, boundary.y + _EV), (boundary.cx, depth),
                                                    (end.x, depth)])
                deepest = max(deepest, depth + _EV)
        # Interrupting timers run along the bottom; leftmost deepest, so none crosses another's drop.
        for k, (boundary, timer, stage) in enumerate(stacks):
            dest = timer_dest(timer, stage)
            assert dest is not None  # interrupting timers name their move
            target = self.by_id[_task_id(dest)]
            lane = deepest + 40 + _LANE_BELOW * (len(stacks) - 1 - k)
            boundary.label = (boundary.cx + 6, lane - 4 - _LABEL_H, 240, _LABEL_H)
            points = [(boundary.cx, boundary.y + _EV), (boundary.cx, lane)]
            if target.tag == "task":
                points += [(target.x - 25, lane), (target.x - 25, target.cy), (target.x, target.cy)]
            else:
                points += [(target.cx, lane), (target.cx, target.y + _EV)]
            self.flow(boundary.id, target.id, timer.trigger or "", points)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _bounds(parent: _El, x: float, y: float, w: float, h: float) -> None:
    parent.add("dc:Bounds", x=_num(x), y=_num(y), width=_num(w), height=_num(h))


def to_bpmn() -> str:
    """BPMN 2.0 XML with diagram interchange, so Camunda Modeler and bpmn.io open it with a visible layout.

    Stages are tasks, the closed stage is the end event, stages with several moves end in an exclusive
    gateway labelled with their triggers, and each timer is a boundary event on every stage it guards
    (interrupting ones carry the stage move they fire; the others end in what they raise).
    """
    layout = _BpmnLayout().build()
    definitions = _El("bpmn:definitions", {
        "xmlns:bpmn": BPMN_NS, "xmlns:bpmndi": BPMNDI_NS, "xmlns:dc": DC_NS, "xmlns:di": DI_NS,
        "xmlns:xsi": XSI_NS, "id": "asb_lifecycle_definitions",
        "targetNamespace": "urn:asb:lifecycle", "exporter": "asb lifecycle", "exporterVersion": "1",
    })
    process = definitions.add("bpmn:process", id="asb_lifecycle", name="ASB case lifecycle",
                              isExecutable="false")
    process.add("bpmn:documentation", "Derived from the case catalogue (statemachine/catalogue.py): "
                "stage moves, commands, and deadlines as timers.")
    incoming = _group(layout.flows, lambda f: f.target)
    outgoing = _group(layout.flows, lambda f: f.source)
    for node in layout.nodes:
        el = process.add(f"bpmn:{node.tag}", id=node.id, name=node.name, **node.attrs)
        if node.doc:
            el.add("bpmn:documentation", node.doc)
        for flow in incoming.get(node.id, []):
            el.add("bpmn:incoming", flow.id)
        for flow in outgoing.get(node.id, []):
            el.add("bpmn:outgoing", flow.id)
        if node.timer is not None:
            definition = el.add("bpmn:timerEventDefinition", id=f"{node.id}_definition")
            duration = definition.add("bpmn:timeDuration", **{"xsi:type": "bpmn:tFormalExpression"})
            duration.add("bpmn:documentation", f"From the case's profile setting {node.timer.setting}")
    for flow in layout.flows:
        attrs = {"id": flow.id, "sourceRef": flow.source, "targetRef": flow.target}
        if flow.name:
            attrs["name"] = flow.name
        process.add("bpmn:sequenceFlow", **attrs)
    diagram = definitions.add("bpmndi:BPMNDiagram", id="asb_lifecycle_diagram")
    plane = diagram.add("bpmndi:BPMNPlane", id="asb_lifecycle_plane", bpmnElement="asb_lifecycle")
    for node in layout.nodes:
        attrs = {"id": f"{node.id}_di", "bpmnElement": node.id}
        if node.tag == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        shape = plane.add("bpmndi:BPMNShape", **attrs)
        _bounds(shape, node.x, node.y, node.w, node.h)
        if node.label is not None:
            _bounds(shape.add("bpmndi:BPMNLabel"), *node.label)
    for flow in layout.flows:
        edge = plane.add("bpmndi:BPMNEdge", id=f"{flow.id}_di", bpmnElement=flow.id)
        for x, y in flow.points:
            edge.add("di:waypoint", x=_num(x), y=_num(y))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(definitions.render()) + "\n"


def _group(flows: Iterable[_Flow], key: Callable[[_Flow], str]) -> dict[str, list[_Flow]]:
    grouped: dict[str, list[_Flow]] = {}
    for flow in flows:
        grouped.setdefault(key(flow), []).append(flow)
    return grouped
