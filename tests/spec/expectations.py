"""Which spec commands the project must pass so far (what `--check` enforces).

Every file's decoding and validation commands are required. Execution commands
are required for the files listed in EXEC_REQUIRED (grown issue by issue).
"""

from __future__ import annotations

from typing import Protocol


class _Outcome(Protocol):
    command: str
    stage: str


DECODE_COMMANDS = frozenset({"module", "assert_malformed", "assert_invalid"})

# Files whose every binary-module command must pass, execution included.
EXEC_REQUIRED: frozenset[str] = frozenset()


def is_required(stem: str, outcome: _Outcome) -> bool:
    if outcome.command in DECODE_COMMANDS and outcome.stage == "decode":
        return True
    return stem in EXEC_REQUIRED
