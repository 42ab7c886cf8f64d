"""The campaign: generate modules, run them on every configuration, compare, report.

``-j`` lanes run in parallel over module indices; each lane owns one warm worker per
configuration (``fuzz.worker``) and runs a module on its reference first (wasmtime-py 28, or
wasmtime-py 51 for a module using exceptions: ``fuzz.groups``), then on each cwasm
configuration, comparing each with wasmtime's record (``fuzz.compare``).
Mismatching modules are kept as ``mismatch-<index>.wasm`` with a ``.json`` report in
the run directory and, at the end, minimised with ``wasm-tools shrink`` (the
predicate is ``python -m fuzz check-interesting``, written into the run directory as
a script) into ``mismatch-<index>.min.wasm`` and ``.min.wat``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz.compare import Comparison, compare
from fuzz.engines import SHARE_ENV
from fuzz.gen import (
    DEFAULT_FUEL,
    generate,
    reference_of,
    to_wat,
    validate,
    wasm_tools,
    write_configs,
)
from fuzz.groups import (
    DEFAULT_GROUPS,
    FALLBACK_51,
    GROUPS,
    REFERENCE,
    REFERENCE_51,
    reference_for,
)
from fuzz.worker import ROOT, Worker

ALL_CONFIGS = ("O2", "O0", "explicit", "roundtrip")


@dataclass
class Options:
    """Settings of a campaign (the ``run`` command's options)."""

    count: int = 100
    seed: int = 0
    jobs: int = os.cpu_count() or 1
    configs: tuple[str, ...] = ALL_CONFIGS
    simd_fraction: float = 0.25
    timeout: float = 20.0
    out: Path | None = None
    fuel: int = DEFAULT_FUEL
    arg_count: int = 4
    shrink: bool = True
    shrink_attempts: int = 50
    shrink_timeout: float = 300.0
    max_shrink: int = 3
    progress_every: int = 100
    quiet: bool = False
    #: per configuration, ``--debug`` arguments for its workers (tests)
    debug: dict[str, list[str]] = field(default_factory=dict)
    #: the optional feature groups (``fuzz.groups``) and their probability per module
    groups: dict[str, float] = field(
        default_factory=lambda: {g: GROUPS[g].probability for g in DEFAULT_GROUPS}
    )


@dataclass
class Summary:
    """Counts and timings of a campaign."""

    generated: int = 0
    gen_failed: int = 0
    executed: int = 0
    calls_compared: int = 0
    mismatches: int = 0
    mismatch_modules: list[int] = field(default_factory=list)
    crashes: int = 0
    hangs: int = 0
    skipped: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    config_time: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: per feature group (``base`` for none): modules executed, calls compared, mismatching
    group_counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    wall: float = 0.0
    out: Path | None = None

    def failed(self) -> bool:
        """Whether anything went wrong (a mismatch, a crash or a hang)."""
        return bool(self.mismatches or self.crashes or self.hangs)

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON-able dict."""
        return {
            "generated": self.generated,
            "generation_failed": self.gen_failed,
            "executed": self.executed,
            "calls_compared": self.calls_compared,
            "mismatches": self.mismatches,
            "mismatch_modules": self.mismatch_modules,
            "crashes": self.crashes,
            "hangs": self.hangs,
            "skipped_stack_overflow": self.skipped,
            "kinds": dict(self.kinds),
            "config_time": dict(self.config_time),
            "groups": {g: dict(c) for g, c in self.group_counts.items()},
            "wall": self.wall,
        }

    def text(self) -> str:
        """A human-readable summary."""
        rate = self.executed / self.wall if self.wall else 0.0
        lines = [
            f"modules generated {self.generated} (generation failed {self.gen_failed}), "
            f"executed {self.executed}, calls compared {self.calls_compared}",
            f"mismatches {self.mismatches}, crashes {self.crashes}, hangs {self.hangs}, "
            f"skipped (stack overflow) {self.skipped}",
            f"wall {self.wall:.1f} s, {rate:.2f} modules/s",
            "time per config: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(self.config_time.items())),
        ]
        if self.group_counts:
            lines.append(
                "per group: "
                + ", ".join(
                    f"{g} {c['modules']} modules/{c['calls']} calls/{c['bad']} bad"
                    for g, c in sorted(self.group_counts.items())
                )
            )
        if self.kinds:
            lines.append("mismatch kinds: " + ", ".join(f"{k} {v}" for k, v in self.kinds.items()))
        if self.mismatch_modules:
            lines.append(f"mismatching modules: {sorted(self.mismatch_modules)} in {self.out}")
        return "\n".join(lines)


def run_one_module(
    path: Path,
    workers: dict[str, Worker],
    configs: tuple[str, ...],
    *,
    timeout: float,
    arg_seed: int,
    arg_count: int,
    times: dict[str, float] | None = None,
    reference: str | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Comparison]]:
    """Run ``path`` on the reference (``reference``, else the one ``fuzz.gen.reference_of``
    finds) and on ``configs``; records and comparisons."""
    reference = reference or reference_of(path)
    job = {"path": str(path), "arg_seed": arg_seed, "arg_count": arg_count}
    records: dict[str, dict[str, Any]] = {}
    for config in dict.fromkeys((reference, *configs)):  # (the O0 fallback reference)
        t = time.perf_counter()
        records[config] = workers[config].run(job, timeout)
        if times is not None:
            times[config] += time.perf_counter() - t
    ref = records[reference]
    return ref, records, {c: compare(ref, records[c]) for c in configs}


def make_workers(opts: Options, log_dir: Path | None, lane: int) -> dict[str, Worker]:
    """One worker per configuration (and the reference) for one lane."""
    workers = {}
    if "O2" in opts.configs and "roundtrip" in opts.configs:
        os.environ[SHARE_ENV] = "1"  # inherited by the workers
    for config in dict.fromkeys((REFERENCE, REFERENCE_51, FALLBACK_51, *opts.configs)):
        log = log_dir / f"worker-{config}-{lane}.log" if log_dir else None
        workers[config] = Worker(config, debug=opts.debug.get(config), log=log)
    return workers


def run_campaign(opts: Options) -> Summary:
    """Run a whole campaign; prints progress and returns the summary."""
    out = opts.out or ROOT / "build" / "fuzz" / f"run-{opts.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    gen_dir = out / "modules"
    gen_dir.mkdir(exist_ok=True)
    smith_cfgs = write_configs(out / "smith")
    summary = Summary(out=out)
    lock = threading.Lock()
    next_index = [0]
    start = time.perf_counter()
    mismatches: list[tuple[int, dict[str, Comparison]]] = []

    def report_progress(done: int) -> None:
        if opts.quiet or not opts.progress_every or done % opts.progress_every:
            return
        el = time.perf_counter() - start
        print(
            f"[{done:>6}/{opts.count}] {el:7.1f} s {done / el:6.2f} mod/s  "
            f"mismatches {summary.mismatches} crashes {summary.crashes} hangs {summary.hangs} "
            f"skipped {summary.skipped} calls {summary.calls_compared}",
            flush=True,
        )

    def lane(lane_no: int) -> None:
        workers = make_workers(opts, out, lane_no)
        times: dict[str, float] = defaultdict(float)
        try:
            while True:
                with lock:
                    i = next_index[0]
                    if i >= opts.count:
                        break
                    next_index[0] += 1
                path = gen_dir / f"module-{i:06d}.wasm"
                g = generate(
                    opts.seed,
                    i,
                    path,
                    smith_cfgs,
                    simd_fraction=opts.simd_fraction,
                    fuel=opts.fuel,
                    groups=opts.groups,
                )
                if g.path is None:
                    with lock:
                        summary.gen_failed += 1
                        report_progress(summary.generated + summary.gen_failed)
                    continue
                ref, records, comps = run_one_module(
                    path,
                    workers,
                    opts.configs,
                    timeout=opts.timeout,
                    arg_seed=opts.seed * 1_000_003 + i,
                    arg_count=opts.arg_count,
                    times=times,
                    reference=reference_for(g.groups, ROOT),
                )
                bad = {c: comp for c, comp in comps.items() if comp.mismatches}
                with lock:
                    summary.generated += 1
                    summary.executed += 1
                    _tally(summary, comps)
                    counts = summary.group_counts["+".join(g.groups) or "base"]
                    counts["modules"] += 1
                    counts["calls"] += sum(c.calls_compared for c in comps.values())
                    counts["bad"] += int(bool(bad))
                    if bad:
                        summary.mismatch_modules.append(i)
                        mismatches.append((i, bad))
                        save_mismatch(out, i, path, records, bad, g.simd, opts.seed * 1_000_003 + i)
                    report_progress(summary.generated + summary.gen_failed)
                if not bad:
                    path.unlink(missing_ok=True)
        finally:
            for w in workers.values():
                w.close()
            with lock:
                for k, v in times.items():
                    summary.config_time[k] += v

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(max(1, opts.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary.wall = time.perf_counter() - start
    (out / "summary.json").write_text(json.dumps(summary.to_json(), indent=1))
    if opts.shrink:
        for i, bad in sorted(mismatches, key=lambda m: m[0])[: opts.max_shrink]:
            shrink_mismatch(out, i, bad, opts)
    return summary


def _tally(summary: Summary, comps: dict[str, Comparison]) -> None:
    skipped = False
    for comp in comps.values():
        summary.calls_compared += comp.calls_compared
        skipped = skipped or bool(comp.skipped)
        for m in comp.mismatches:
            summary.kinds[m["kind"]] += 1
        kinds = {m["kind"] for m in comp.mismatches}
        if "crash" in kinds:
            summary.crashes += 1
        if "hang" in kinds:
            summary.hangs += 1
        if kinds - {"crash", "hang"}:
            summary.mismatches += 1
    summary.skipped += int(skipped)


def save_mismatch(
    out: Path,
    index: int,
    path: Path,
    records: dict[str, dict[str, Any]],
    bad: dict[str, Comparison],
    simd: bool,
    arg_seed: int = 0,
) -> None:
    """Keep the module and a JSON report of its mismatches in the run directory."""
    dest = out / f"mismatch-{index}.wasm"
    shutil.copyfile(path, dest)
    report = {
        "index": index,
        "arg_seed": arg_seed,
        "simd": simd,
        "configs": sorted(bad),
        "kinds": sorted({m["kind"] for c in bad.values() for m in c.mismatches}),
        "mismatches": {c: comp.mismatches[:20] for c, comp in bad.items()},
        "records": records,
    }
    (out / f"mismatch-{index}.json").write_text(json.dumps(report, indent=1, default=str))
    (out / f"mismatch-{index}.wat").write_text(to_wat(dest))


def shrink_mismatch(
    out: Path, index: int, bad: dict[str, Comparison], opts: Options
) -> Path | None:
    """Minimise ``mismatch-<index>.wasm`` keeping its first mismatch kind; the min path."""
    first = next(iter(bad.values())).mismatches[0]["kind"]
    configs = ",".join(
        sorted(c for c, comp in bad.items() if any(m["kind"] == first for m in comp.mismatches))
    )
    script = out / f"interesting-{index}.sh"
    best = out / f"mismatch-{index}.min.wasm"
    script.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH='{ROOT}' exec '{sys.executable}' -m fuzz check-interesting \"$1\" "
        f"--kind {first} --configs {configs} --timeout {opts.timeout} "
        f"--arg-seed {opts.seed * 1_000_003 + index} --save-best '{best}'\n"
    )
    script.chmod(0o755)
    tmp = out / f"mismatch-{index}.shrink.wasm"
    cmd = [wasm_tools(), "shrink", "-a", str(opts.shrink_attempts), str(script)]
    cmd += [str(out / f"mismatch-{index}.wasm"), "-o", str(tmp)]
    if not opts.quiet:
        print(f"shrinking mismatch {index} ({first} in {configs})...", flush=True)
    try:
        subprocess.run(cmd, capture_output=True, timeout=opts.shrink_timeout)
    except subprocess.TimeoutExpired:
        pass  # the predicate kept the smallest interesting module so far in `best`
    if tmp.exists() and (not best.exists() or tmp.stat().st_size <= best.stat().st_size):
        shutil.copyfile(tmp, best)
    tmp.unlink(missing_ok=True)
    tmp.with_suffix(".wat").unlink(missing_ok=True)  # shrink's own copy
    if not best.exists():
        return None
    best.with_suffix(".wat").write_text(to_wat(best))
    return best


def check_interesting(
    path: Path,
    kind: str,
    configs: tuple[str, ...],
    timeout: float,
    save_best: Path | None,
    arg_seed: int = 0,
) -> bool:
    """Whether ``path`` still shows a mismatch of ``kind`` on one of ``configs``."""
    if not validate(path):
        return False
    opts = Options(configs=configs, timeout=timeout)
    workers = make_workers(opts, None, 0)
    try:
        _, _, comps = run_one_module(
            path, workers, configs, timeout=timeout, arg_seed=arg_seed, arg_count=opts.arg_count
        )
    finally:
        for w in workers.values():
            w.close()
    hit = any(m["kind"] == kind for c in comps.values() for m in c.mismatches)
    if hit and save_best is not None:
        size = path.stat().st_size
        if not save_best.exists() or size < save_best.stat().st_size:
            shutil.copyfile(path, save_best)
    return hit
