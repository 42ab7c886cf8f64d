"""The spec-testsuite harness: runs every `.wast` of the WebAssembly 2.0 testsuite.

Each file runs in its own worker process (so nothing a module does can take the
harness down), prints one line per file and a final `total:` line. `--check`
exits non-zero when a command the project must pass fails (see expectations.py).

    python -m tests.spec.run [--check] [-j N] [-v] [FILE_STEM ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from tests.spec import expectations
from tests.spec.wast import ROOT, WastScript, all_wast_files, convert, spec_dir

WORKER_TIMEOUT = 600.0

DECODE_COMMANDS = {"module", "assert_malformed", "assert_invalid"}


@dataclass
class Outcome:
    command: str  # the command type
    line: int
    status: str  # passed | failed | skipped
    stage: str = "decode"  # decode | exec: which half of the project the command tested
    detail: str = ""


def _expected_message_matches(expected: str, actual: str) -> bool:
    # the reference interpreter's rule: the expected text is a prefix of the message
    return actual.startswith(expected)


class ScriptRunner:
    """Runs the commands of one script against a backend."""

    def __init__(self, script: WastScript) -> None:
        from tests.spec.backend import make_backend

        self.script = script
        self.backend = make_backend()
        self.current: Any = None
        self.named: dict[str, Any] = {}
        self.module_ok = True

    def run(self) -> Iterator[Outcome]:
        for cmd in self.script.commands:
            yield self.run_command(cmd)

    def _instance(self, name: str | None) -> Any:
        if name is None:
            if not self.module_ok:
                raise _ModuleMissing("the current module failed to instantiate")
            return self.current
        if name not in self.named:
            raise _ModuleMissing(f"unknown module {name}")
        return self.named[name]

    def run_command(self, cmd: dict[str, Any]) -> Outcome:
        from tests.spec.backend import Unsupported

        ctype = cmd["type"]
        line = cmd.get("line", 0)
        if cmd.get("module_type") == "text":
            return Outcome(ctype, line, "skipped", detail="text-format module")
        try:
            return self._run(ctype, line, cmd)
        except Unsupported as e:
            stage = "decode" if ctype in ("assert_malformed", "assert_invalid") else "exec"
            return Outcome(ctype, line, "skipped", stage, str(e))
        except _ModuleMissing as e:
            return Outcome(ctype, line, "failed", "exec", str(e))
        except Exception as e:  # a harness-visible failure, never a crash
            stage = "decode" if ctype in DECODE_COMMANDS else "exec"
            return Outcome(ctype, line, "failed", stage, f"{type(e).__name__}: {e}")

    def _run(self, ctype: str, line: int, cmd: dict[str, Any]) -> Outcome:
        from tests.spec.backend import Unsupported

        backend = self.backend
        if ctype == "module":
            wasm = self.script.module_bytes(cmd["filename"])
            self.module_ok = False
            try:
                backend.validate(wasm)
            except Exception as e:
                return Outcome(ctype, line, "failed", "decode", f"{type(e).__name__}: {e}")
            try:
                inst = backend.instantiate(wasm)
            except Unsupported:
                raise
            except Exception as e:
                return Outcome(ctype, line, "failed", "exec", f"{type(e).__name__}: {e}")
            self.current = inst
            self.module_ok = True
            if cmd.get("name"):
                self.named[cmd["name"]] = inst
            return Outcome(ctype, line, "passed", "exec" if backend.executes else "decode")
        if ctype in ("assert_malformed", "assert_invalid"):
            wasm = self.script.module_bytes(cmd["filename"])
            try:
                backend.validate(wasm)
            except Exception as e:
                if not backend.is_wasm_error(e):
                    return Outcome(ctype, line, "failed", detail=f"{type(e).__name__}: {e}")
                msg = getattr(e, "message", str(e))
                if _expected_message_matches(cmd["text"], msg):
                    return Outcome(ctype, line, "passed")
                return Outcome(
                    ctype, line, "failed", detail=f"expected {cmd['text']!r}, got {msg!r}"
                )
            return Outcome(ctype, line, "failed", detail=f"accepted; expected {cmd['text']!r}")
        if ctype == "register":
            backend.register(cmd["as"], self._instance(cmd.get("name")))
            return Outcome(ctype, line, "passed", "exec")
        if ctype in ("action", "assert_return", "assert_trap", "assert_exhaustion"):
            return self._run_action(ctype, line, cmd)
        if ctype in ("assert_unlinkable", "assert_uninstantiable"):
            if not backend.executes:
                raise Unsupported("no runtime yet")
            wasm = self.script.module_bytes(cmd["filename"])
            try:
                backend.instantiate(wasm)
            except Exception as e:
                if backend.is_wasm_error(e):
                    return Outcome(ctype, line, "failed", "exec", f"rejected by validation: {e}")
                return Outcome(ctype, line, "passed", "exec", f"{type(e).__name__}: {e}")
            return Outcome(ctype, line, "failed", "exec", "instantiated; expected a failure")
        raise Unsupported(f"command {ctype}")

    def _run_action(self, ctype: str, line: int, cmd: dict[str, Any]) -> Outcome:
        from tests.spec.values import arg_value, describe, result_matches

        backend = self.backend
        action = cmd["action"]
        inst = self._instance(action.get("module"))
        try:
            if action["type"] == "invoke":
                args = [arg_value(a) for a in action.get("args", [])]
                results = backend.invoke(inst, action["field"], args)
            elif action["type"] == "get":
                results = [backend.get(inst, action["field"])]
            else:
                raise ValueError(f"unknown action {action['type']}")
        except Exception as e:
            if ctype in ("assert_trap", "assert_exhaustion") and backend.is_trap(e):
                if backend.trap_matches(e, cmd["text"]):
                    return Outcome(ctype, line, "passed", "exec")
                return Outcome(
                    ctype,
                    line,
                    "failed",
                    "exec",
                    f"expected trap {cmd['text']!r}, got {backend.trap_message(e)!r}",
                )
            raise
        if ctype in ("assert_trap", "assert_exhaustion"):
            return Outcome(
                ctype, line, "failed", "exec", f"returned {results}; expected {cmd['text']!r}"
            )
        if ctype == "assert_return":
            expected = cmd.get("expected", [])
            if len(expected) != len(results) or not all(
                result_matches(e, r) for e, r in zip(expected, results, strict=True)
            ):
                got = ", ".join(describe(r) for r in results)
                return Outcome(ctype, line, "failed", "exec", f"got [{got}], expected {expected}")
        return Outcome(ctype, line, "passed", "exec")


class _ModuleMissing(Exception):
    pass


# ---------------------------------------------------------------------------------------
# worker and driver


def _worker(stem: str) -> None:
    wast = spec_dir() / f"{stem}.wast"
    script = convert(wast)
    runner = ScriptRunner(script)
    for outcome in runner.run():
        sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
    sys.stdout.flush()


@dataclass
class FileResult:
    stem: str
    outcomes: list[Outcome]
    error: str = ""
    seconds: float = 0.0

    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)


def run_file(stem: str) -> FileResult:
    start = time.perf_counter()
    # convert in the parent so a conversion failure is reported, not hidden in a worker
    script = convert(spec_dir() / f"{stem}.wast")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.spec.run", "--worker", stem],
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT,
            cwd=ROOT,
            env=env,
        )
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = f"timed out after {WORKER_TIMEOUT:.0f} s", -1
    outcomes = [Outcome(**json.loads(line)) for line in out.splitlines() if line.startswith("{")]
    error = ""
    if rc != 0 or len(outcomes) < len(script.commands):
        tail = err.strip().splitlines()[-3:] if err else []
        error = f"worker exited with {rc}: " + " | ".join(tail)
        for cmd in script.commands[len(outcomes) :]:
            outcomes.append(Outcome(cmd["type"], cmd.get("line", 0), "failed", "exec", error))
    return FileResult(stem, outcomes, error, time.perf_counter() - start)


def _by_command(outcomes: list[Outcome]) -> str:
    per: dict[str, Counter[str]] = {}
    for o in outcomes:
        per.setdefault(o.command, Counter())[o.status] += 1
    parts = []
    for ctype in sorted(per):
        c = per[ctype]
        part = f"{ctype} {c['passed']}/{c['passed'] + c['failed']}"
        if c["skipped"]:
            part += f" ({c['skipped']} skipped)"
        parts.append(part)
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*", help="file stems to run (default: all)")
    ap.add_argument("--check", action="store_true", help="fail on required failures")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return 0

    stems = args.files or [p.stem for p in all_wast_files()]
    if not stems:
        print(f"no .wast files found in {spec_dir()}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run_file, stems))

    total: Counter[str] = Counter()
    required_failures: list[tuple[str, Outcome]] = []
    skip_reasons: Counter[str] = Counter()
    for r in results:
        c = r.counts()
        total.update(c)
        status = "passed" if c["failed"] == 0 else "failed"
        line = (
            f"{r.stem + '.wast:':28} {status:6}  {c['passed']} passed, {c['failed']} failed, "
            f"{c['skipped']} skipped  [{_by_command(r.outcomes)}]"
        )
        if r.error:
            line += f"  !! {r.error}"
        print(line)
        for o in r.outcomes:
            if o.status == "skipped":
                skip_reasons[o.detail] += 1
            if o.status == "failed":
                if expectations.is_required(r.stem, o):
                    required_failures.append((r.stem, o))
                if args.verbose:
                    print(f"    line {o.line}: {o.command} [{o.stage}]: {o.detail}")
    for reason, n in skip_reasons.most_common():
        print(f"skipped {n}: {reason}")
    elapsed = time.perf_counter() - start
    print(f"({len(results)} files in {elapsed:.1f} s)")
    if required_failures:
        print(f"{len(required_failures)} required command(s) failed:")
        for stem, o in required_failures[:50]:
            print(f"    {stem}.wast line {o.line}: {o.command} [{o.stage}]: {o.detail}")
    print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    if args.check and required_failures:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
