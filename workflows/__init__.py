"""Temporal workflows: the timing of a case. Deterministic: no I/O, no clock but workflow time."""
