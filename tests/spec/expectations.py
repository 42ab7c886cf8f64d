"""Which spec-command failures `--check` tolerates: none, unless listed here with a reason.

Every binary-module command of every `.wast` file must pass (decoding, validation
and execution, SIMD included). Text-format modules are skipped and counted.
"""

from __future__ import annotations

from typing import Protocol


class _Outcome(Protocol):
    command: str
    line: int


# (file stem, line) -> why the failure is accepted. Keep empty unless a failure is
# understood and cannot be fixed; every entry must be named in the note.
KNOWN_FAILURES: dict[tuple[str, int], str] = {}


def is_required(stem: str, outcome: _Outcome) -> bool:
    return (stem, outcome.line) not in KNOWN_FAILURES
