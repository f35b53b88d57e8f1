"""The case lifecycle: six stages, the commands that move a case, and the guards the policy sets.

Pure: no I/O and no clock. Time comes in as an argument, so the workflow can replay it and the
API, the CLI and the diagram export can ask the same questions ("what may happen next?").
"""

from statemachine.commands import Actor, CommandError
from statemachine.facts import CaseFacts
from statemachine.lifecycle import Decision, Lifecycle, Refused

__all__ = ["Actor", "CaseFacts", "CommandError", "Decision", "Lifecycle", "Refused"]
