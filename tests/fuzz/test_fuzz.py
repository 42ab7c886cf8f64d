"""Tests of the differential fuzzer (``fuzz``): a fixed-seed batch, the regression modules,
the comparator, and crash/hang isolation of the workers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fuzz.compare import compare
from fuzz.driver import ALL_CONFIGS, Options, make_workers, run_campaign, run_one_module
from fuzz.groups import GROUPS

REGRESSIONS = Path(__file__).parent / "regressions"

#: the fixed-seed batch: about 60-90 s on 2 cores
BATCH_COUNT = 300
BATCH_SEED = 20250101


def test_fixed_seed_batch(tmp_path: Path) -> None:
    summary = run_campaign(
        Options(
            count=BATCH_COUNT,
            seed=BATCH_SEED,
            out=tmp_path / "run",
            shrink=False,
            quiet=True,
            groups={},  # the 2.0 base (the groups: test_feature_groups)
        )
    )
    print(summary.text())
    assert summary.executed > BATCH_COUNT * 0.9
    assert summary.calls_compared > 0
    assert (summary.mismatches, summary.crashes, summary.hangs) == (0, 0, 0), summary.text()


#: seed 20's first three modules (every group at 0.5): throws, typed function
#: references, threads + memory64 + exceptions + gc
GROUPS_SEED = 20


def test_feature_groups(tmp_path: Path) -> None:
    # one module of each 3.0 feature group (exceptions and GC against wasmtime-py 51 when
    # its venv is there, else against cwasm at opt level 0)
    summary = run_campaign(
        Options(
            count=3,
            seed=GROUPS_SEED,
            jobs=1,
            out=tmp_path / "run",
            shrink=False,
            quiet=True,
            groups={g: 0.5 for g in GROUPS},
        )
    )
    print(summary.text())
    covered = {g for key in summary.group_counts for g in key.split("+")}
    assert covered == set(GROUPS)
    assert summary.calls_compared > 0
    assert (summary.mismatches, summary.crashes, summary.hangs) == (0, 0, 0), summary.text()


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.wasm")), ids=lambda p: p.stem)
def test_regression(path: Path) -> None:
    workers = make_workers(Options(), None, 0)
    try:
        _, _, comps = run_one_module(
            path, workers, ALL_CONFIGS, timeout=60, arg_seed=0, arg_count=4
        )
    finally:
        for w in workers.values():
            w.close()
    problems = {c: comp.mismatches for c, comp in comps.items() if comp.mismatches}
    assert problems == {}
    assert all(comp.calls_compared > 0 for comp in comps.values())


def _record() -> dict[str, Any]:
    return {
        "engine": "wasmtime",
        "status": "ok",
        "imports": [["env::h", "func", "(i32) -> (i32)"]],
        "exports": [["f", "func"], ["mem", "memory"]],
        "instantiate": {"ok": True, "host_log": []},
        "calls": [
            {"func": "f", "args": [0], "results": [5], "host_log": [["env::h", [0]]]},
            {
                "func": "f",
                "args": [1],
                "trap": "MEMORY_OUT_OF_BOUNDS",
                "message": "wasm trap: out of bounds memory access",
                "host_log": [],
            },
        ],
        "state": {"export:mem": {"pages": 1, "sha256": "aa"}, "export:g": 7},
    }


def _kinds(ref: dict[str, Any], other: dict[str, Any]) -> list[str]:
    return [m["kind"] for m in compare(ref, other).mismatches]


def test_comparator_detects_differences() -> None:
    ref = _record()
    assert _kinds(ref, copy.deepcopy(ref)) == []
    assert compare(ref, copy.deepcopy(ref)).calls_compared == 2

    other = copy.deepcopy(ref)
    other["calls"][0]["results"] = [6]
    assert _kinds(ref, other) == ["result"]

    other = copy.deepcopy(ref)
    other["calls"][1]["trap"] = "TABLE_OUT_OF_BOUNDS"
    assert _kinds(ref, other) == ["trap_code"]

    other = copy.deepcopy(ref)
    del other["calls"][1]["trap"]
    other["calls"][1]["results"] = []
    assert _kinds(ref, other) == ["trap_code"]

    other = copy.deepcopy(ref)
    other["calls"][1]["message"] = "wasm trap: something else"
    assert _kinds(ref, other) == ["trap_message"]

    other = copy.deepcopy(ref)
    other["state"]["export:mem"]["sha256"] = "bb"
    assert _kinds(ref, other) == ["memory"]

    other = copy.deepcopy(ref)
    other["state"]["export:g"] = 0
    assert _kinds(ref, other) == ["global"]

    other = copy.deepcopy(ref)
    other["calls"][0]["host_log"] = [["env::h", [1]]]
    assert _kinds(ref, other) == ["host_log"]

    other = {"engine": "O2", "status": "compile_error", "error": "CodegenError: boom"}
    assert _kinds(ref, other) == ["compile"]

    other = {"engine": "O2", "status": "crash", "signal": 6}
    assert _kinds(ref, other) == ["crash"]


def test_comparator_stack_overflow_is_skipped() -> None:
    ref = _record()
    other = copy.deepcopy(ref)
    other["calls"][0] = {"func": "f", "args": [0], "trap": "STACK_OVERFLOW", "host_log": []}
    other["skipped"] = "stack overflow in call 0 (f)"
    del other["state"]
    c = compare(ref, other)
    assert c.mismatches == []
    assert c.skipped


def test_comparator_stack_overflow_in_instantiation_is_skipped() -> None:
    ref = _record()
    ref["instantiate"] = {"trap": "UNREACHABLE", "message": "wasm trap: unreachable"}
    other = copy.deepcopy(ref)
    other["instantiate"] = {"trap": "STACK_OVERFLOW", "message": "wasm trap: stack"}
    other["skipped"] = "stack overflow (instantiation)"
    c = compare(ref, other)
    assert c.mismatches == []
    assert c.skipped


def test_worker_crash_and_hang_are_recorded(tmp_path: Path) -> None:
    # module 1 aborts the O2 worker, module 2 hangs the O0 worker: both are recorded and
    # the run goes on with fresh workers
    summary = run_campaign(
        Options(
            count=4,
            seed=7,
            jobs=1,
            configs=("O2", "O0"),
            timeout=10,
            out=tmp_path / "run",
            shrink=False,
            quiet=True,
            debug={"O2": ["abort:module-000001"], "O0": ["hang:module-000002"]},
        )
    )
    print(summary.text())
    assert summary.executed == 4
    assert summary.crashes == 1
    assert summary.hangs == 1
    assert summary.mismatches == 0
    assert sorted(summary.mismatch_modules) == [1, 2]
    assert summary.calls_compared > 0
