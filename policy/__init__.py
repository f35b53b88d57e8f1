"""The service standard as data: profiles, the working-day calendar and triage.

Everything here is pure (no I/O, no clock: `profiles` reads the files), so the
workflow can use it deterministically and the CLI can use it directly.
"""
