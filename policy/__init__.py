"""The service standard as data: profiles, the working-day calendar and triage.

Everything here is pure (no I/O beyond reading a profile file, no clock), so the
workflow can use it deterministically and the CLI can use it directly.
"""
