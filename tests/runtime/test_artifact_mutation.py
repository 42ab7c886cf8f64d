"""Metadata mutations never crash the process (see ``artifact_mutation.py``).

``CWASM_MUTATIONS`` sets how many mutated artifacts each campaign runs (default 1000;
the acceptance run uses 10000); ``CWASM_MUTATION_SEED`` picks another sequence.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.runtime.artifact_mutation import build_bases, run_campaign

COUNT = int(os.environ.get("CWASM_MUTATIONS", "1000"))
SEED = int(os.environ.get("CWASM_MUTATION_SEED", "1"))
KEY = bytes.fromhex("5ec4e7" * 10 + "00ff")

#: what a mutated artifact may do: be refused with a cwasm error, trap, or run
ALLOWED = ("refused at", "trapped at instantiation", "ran")


def _report(outcomes: dict[str, int]) -> str:
    return "\n".join(f"{n:6d}  {what}" for what, n in sorted(outcomes.items(), key=lambda x: -x[1]))


def test_metadata_mutations_never_crash(tmp_path: Path) -> None:
    build_bases(tmp_path)
    result = run_campaign(tmp_path, COUNT, seed=SEED)
    print(f"\n{COUNT} metadata mutations:\n{_report(result.outcomes)}")
    assert not result.failures, "\n".join(result.failures)
    assert sum(result.outcomes.values()) == COUNT
    assert all(what.startswith(ALLOWED) for what in result.outcomes)


def test_with_a_key_every_mutation_is_refused_at_load(tmp_path: Path) -> None:
    build_bases(tmp_path, KEY)
    result = run_campaign(tmp_path, COUNT, seed=SEED + 1, key=KEY)
    print(f"\n{COUNT} mutations of keyed artifacts:\n{_report(result.outcomes)}")
    assert not result.failures, "\n".join(result.failures)
    assert all(what.startswith("refused at load") for what in result.outcomes), _report(
        result.outcomes
    )


@pytest.mark.parametrize("key", [None, bytes(range(32))], ids=["no-key", "other-key"])
def test_artifacts_made_without_the_key_are_refused(tmp_path: Path, key: bytes | None) -> None:
    import cwasm
    from cwasm.obj.errors import UnauthenticatedArtifactError

    build_bases(tmp_path, key)
    config = cwasm.Config()
    config.artifact_key = KEY
    engine = cwasm.Engine(config)
    for path in tmp_path.glob("*.cwasm"):
        with pytest.raises(UnauthenticatedArtifactError):
            cwasm.Module.deserialize(engine, path.read_bytes())
