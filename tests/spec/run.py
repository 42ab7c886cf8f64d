"""The spec-testsuite harness: runs every `.wast` of the WebAssembly 2.0 testsuite, and
the 3.0 suite's files whose features cwasm implements (``suite3``), each 3.0 file with
those features switched on in its engine's ``Config`` (named ``3/<stem>``).

Each file runs in its own worker process (so nothing a module does can take the
harness down), prints one line per file and a final `total:` line. `--check`
exits non-zero when a command the project must pass fails (see expectations.py).
The directives themselves run in ``cwasm.wast`` (as with ``cwasm wast``).

    python -m tests.spec.run [--check] [-j N] [-v] [FILE_STEM | 3/FILE_STEM ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from cwasm.runtime.config import Config
from cwasm.wast.runner import Outcome, ScriptRunner
from tests.spec import expectations, suite3
from tests.spec.wast import ROOT, SUITE3_PREFIX, all_wast_files, convert, spec_dir, wast_path

WORKER_TIMEOUT = 600.0

# ---------------------------------------------------------------------------------------
# worker and driver


def run_config(name: str) -> Config:
    """The engine configuration a harness file runs with: the default one without the
    3.0 features the 2.0 suite expects to be rejected (``suite3.OFF_FOR_2_0``), with
    the 3.0 features a 3.0 file needs switched on (and the few features it predates,
    ``suite3.OFF_FOR_FILE``, off)."""
    config = Config()
    for feature in suite3.OFF_FOR_2_0:
        setattr(config, f"wasm_{feature}", False)
    if name.startswith(SUITE3_PREFIX):
        stem = name.removeprefix(SUITE3_PREFIX)
        for feature in suite3.FEATURES[stem]:
            setattr(config, f"wasm_{feature}", True)
        for feature in suite3.OFF_FOR_FILE.get(stem, ()):
            setattr(config, f"wasm_{feature}", False)
    return config


def _worker(stem: str) -> None:
    script = convert(wast_path(stem))
    runner = ScriptRunner(script, run_config(stem))
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
    script = convert(wast_path(stem))
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

    stems = args.files or [p.stem for p in all_wast_files()] + [
        SUITE3_PREFIX + stem for stem in suite3.runnable()
    ]
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
