"""The case file: people, incidents, plans, letters, tasks, the timeline and the audit trail.

The workflow owns the process; this package owns what officers, managers, regulators and a
subject access request read. Personal data lives here and nowhere else.
"""
