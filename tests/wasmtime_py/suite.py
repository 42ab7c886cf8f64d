"""Runs wasmtime-py 28.0.0's own tests (``upstream/``) against cwasm or wasmtime-py.

Against cwasm, the tests see cwasm's API through ``shim/wasmtime`` (a rename-only
``wasmtime`` package) placed first on ``PYTHONPATH`` of a pytest subprocess, so the
real wasmtime-py installed in the same environment is shadowed there only. Each test's
outcome is read from pytest's JUnit XML and compared with ``known_failures.txt``: the
tests known to fail today, each with its cause.

    python -m tests.wasmtime_py.suite [--against cwasm|wasmtime] [-v]

exits non-zero when the outcomes differ from the expectations (against wasmtime-py:
when any test fails).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
UPSTREAM = HERE / "upstream"
SHIM = HERE / "shim"
MANIFEST = UPSTREAM / "SHA256SUMS"
KNOWN_FAILURES = HERE / "known_failures.txt"
#: tests in the vendored files; fewer outcomes means a file failed to import or collect
EXPECTED_TESTS = 85
TIMEOUT = 600.0
TARGETS = ("cwasm", "wasmtime")


@dataclass
class SuiteResult:
    """What one run of the upstream files produced."""

    outcomes: dict[str, str]  # test id (``test_func.py::TestFunc::test_add``) -> passed | failed
    messages: dict[str, str]  # test id -> first line of why it failed
    returncode: int
    output: str  # pytest's stdout and stderr

    def failed(self) -> set[str]:
        return {t for t, outcome in self.outcomes.items() if outcome != "passed"}


def manifest_problems() -> list[str]:
    """Why the vendored files differ from ``SHA256SUMS`` (empty when they are untouched)."""
    recorded: dict[str, str] = {}
    for line in MANIFEST.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        recorded[name] = digest
    present = {p.name for p in UPSTREAM.glob("test_*.py")}
    problems = [f"{name}: not in SHA256SUMS" for name in sorted(present - recorded.keys())]
    for name, digest in sorted(recorded.items()):
        path = UPSTREAM / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: modified (sha256 differs from SHA256SUMS)")
    return problems


def read_known_failures(path: Path = KNOWN_FAILURES) -> dict[str, str]:
    """``known_failures.txt``: test id -> reason (blank lines and ``#`` comments skipped)."""
    known: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path.name}:{n}: {test_id} has no reason")
        if test_id in known:
            raise ValueError(f"{path.name}:{n}: {test_id} listed twice")
        known[test_id] = reason.strip()
    return known


def _test_id(case: ET.Element) -> str:
    # classname is ``test_func.TestFunc`` (module, class); a file that failed to
    # import is reported with the module path as name and no classname
    module, _, cls = case.get("classname", "").partition(".")
    name = case.get("name", "")
    if not module:
        return name
    return f"{module}.py::{cls}::{name}" if cls else f"{module}.py::{name}"


def _outcome(case: ET.Element) -> tuple[str, str]:
    for tag in ("failure", "error"):
        problem = case.find(tag)
        if problem is not None:
            text = problem.get("message") or problem.text or tag
            return "failed", text.strip().splitlines()[0] if text.strip() else tag
    if case.find("skipped") is not None:
        return "skipped", "skipped"
    return "passed", ""


def run_suite(against: str, workdir: Path) -> SuiteResult:
    """Run every vendored test file under pytest in a subprocess, against ``cwasm`` (through
    the shim) or the installed ``wasmtime`` (wasmtime-py itself)."""
    if against not in TARGETS:
        raise ValueError(f"unknown target {against!r}")
    # the tests run from wasmtime-py's checkout root, where `wasmtime` is a directory
    # (test_wasi preopens it); an empty one here shadows nothing, being no package
    (workdir / "wasmtime").mkdir(exist_ok=True)
    junit = workdir / "junit.xml"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("RUST_BACKTRACE", None)  # it appends a Rust backtrace to wasmtime-py's messages
    env.pop("PYTHONPATH", None)
    if against == "cwasm":
        env["PYTHONPATH"] = os.pathsep.join([str(SHIM), str(ROOT)])
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--noconftest",
        "--rootdir",
        str(UPSTREAM),
        f"--junitxml={junit}",
        *sorted(str(p) for p in UPSTREAM.glob("test_*.py")),
    ]
    try:
        proc = subprocess.run(
            cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        returncode, output = -1, f"timed out after {TIMEOUT:.0f} s"
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            test_id = _test_id(case)
            outcomes[test_id], message = _outcome(case)
            if message:
                messages[test_id] = message
    return SuiteResult(outcomes, messages, returncode, output)


def compare(result: SuiteResult, known: dict[str, str]) -> list[str]:
    """Every difference between the run and the expectations (empty when they agree)."""
    problems: list[str] = []
    if len(result.outcomes) != EXPECTED_TESTS:
        tail = "\n".join(result.output.strip().splitlines()[-15:])
        problems.append(
            f"{len(result.outcomes)} test outcomes, expected {EXPECTED_TESTS} "
            f"(pytest exited with {result.returncode}):\n{tail}"
        )
    for test_id in sorted(result.failed() - known.keys()):
        problems.append(
            f"{test_id} {result.outcomes[test_id]} and is not a known failure: "
            f"{result.messages.get(test_id, '')}"
        )
    for test_id in sorted(known.keys() - result.failed()):
        if test_id in result.outcomes:
            problems.append(
                f"{test_id} passes now: remove it from {KNOWN_FAILURES.name} (was: {known[test_id]})"
            )
        else:
            problems.append(f"{test_id} is listed in {KNOWN_FAILURES.name} but did not run")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--against", choices=TARGETS, default="cwasm")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    args = ap.parse_args(argv)
    problems = manifest_problems()
    with tempfile.TemporaryDirectory(prefix="wasmtime-py-suite-") as tmp:
        result = run_suite(args.against, Path(tmp))
    known = read_known_failures() if args.against == "cwasm" else {}
    problems += compare(result, known)
    failed = result.failed()
    if args.verbose:
        for test_id in sorted(failed):
            print(f"{result.outcomes[test_id]:7} {test_id}: {result.messages.get(test_id, '')}")
    print(
        f"against {args.against}: {len(result.outcomes) - len(failed)} passed, "
        f"{len(failed)} failed ({len(known)} known failures)"
    )
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
