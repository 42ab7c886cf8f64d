"""wasmtime-py 28.0.0's own tests, unmodified, against cwasm through a rename-only ``wasmtime``.

Every test outside ``known_failures.txt`` must pass, and every listed one must still fail
(so the list only shrinks). The same files also run against wasmtime-py itself, which
shows that the runner's setup is the one they expect.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.wasmtime_py import suite


def test_vendored_files_match_their_recorded_sha256() -> None:
    assert suite.manifest_problems() == []


def test_known_failures_name_tests_of_the_vendored_files() -> None:
    known = suite.read_known_failures()
    files = {p.name for p in suite.UPSTREAM.glob("test_*.py")}
    for test_id in known:
        file_name, *_, func = test_id.split("::")
        assert file_name in files, test_id
        assert f"def {func}(" in (suite.UPSTREAM / file_name).read_text(), test_id


def test_upstream_suite_on_cwasm_fails_only_the_known_failures(tmp_path: Path) -> None:
    result = suite.run_suite("cwasm", tmp_path)
    problems = suite.compare(result, suite.read_known_failures())
    assert problems == [], "\n".join(problems)


@pytest.mark.skipif(importlib.util.find_spec("wasmtime") is None, reason="needs wasmtime-py")
def test_upstream_suite_passes_on_wasmtime_py(tmp_path: Path) -> None:
    result = suite.run_suite("wasmtime", tmp_path)
    problems = suite.compare(result, {})
    assert problems == [], "\n".join(problems)
