"""Drawings of the lifecycle (Mermaid, Graphviz DOT, BPMN 2.0): layout and pixels, kept out of the
pure domain package. What is drawn (stages, stage moves, commands, deadline kinds) is read from
`statemachine/`; only where it goes on the page is decided here."""
