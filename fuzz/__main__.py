"""Command line of the differential fuzzer: ``python -m fuzz COMMAND`` (see fuzz/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from fuzz.driver import ALL_CONFIGS, Options, check_interesting, run_campaign, run_one_module
from fuzz.gen import DEFAULT_FUEL
from fuzz.groups import DEFAULT_GROUPS, parse_groups
from fuzz.worker import ROOT, worker_main

REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"


def _configs(text: str) -> tuple[str, ...]:
    out = tuple(c.strip() for c in text.split(",") if c.strip())
    for c in out:
        if c not in ALL_CONFIGS:
            raise argparse.ArgumentTypeError(f"unknown config {c!r} (choose from {ALL_CONFIGS})")
    return out


def _groups(text: str) -> dict[str, float]:
    try:
        return parse_groups(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="generate and compare N modules")
    r.add_argument("--count", type=int, default=100)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    r.add_argument("--configs", type=_configs, default=ALL_CONFIGS, help="comma-separated")
    r.add_argument("--simd-fraction", type=float, default=0.25)
    r.add_argument("--simd", dest="simd", action="store_const", const=True, default=None)
    r.add_argument("--no-simd", dest="simd", action="store_const", const=False)
    r.add_argument("--timeout", type=float, default=20.0, help="seconds per module and config")
    r.add_argument("--out", type=Path, default=None, help="run directory")
    r.add_argument("--fuel", type=int, default=DEFAULT_FUEL)
    r.add_argument(
        "--groups",
        type=_groups,
        default=",".join(DEFAULT_GROUPS),
        help="feature groups NAME[:P],... (threads, memory64, exceptions, funcref, throws; none)",
    )
    r.add_argument("--no-shrink", dest="shrink", action="store_false")
    r.add_argument("--shrink-attempts", type=int, default=50)
    r.add_argument("--debug", action="append", default=[], help=argparse.SUPPRESS)

    o = sub.add_parser("one", help="run one module through all configs and print the diff")
    o.add_argument("file", type=Path)
    o.add_argument("--configs", type=_configs, default=ALL_CONFIGS)
    o.add_argument("--timeout", type=float, default=20.0)
    o.add_argument("--arg-seed", type=int, default=0)
    o.add_argument("--json", action="store_true", help="also print the records")

    c = sub.add_parser("check-interesting", help="shrink predicate: exit 0 if KIND still occurs")
    c.add_argument("file", type=Path)
    c.add_argument("--kind", required=True)
    c.add_argument("--configs", type=_configs, default=ALL_CONFIGS)
    c.add_argument("--timeout", type=float, default=20.0)
    c.add_argument("--arg-seed", type=int, default=0)
    c.add_argument("--save-best", type=Path, default=None)

    s = sub.add_parser("save-regression", help="copy a minimised module into the regressions")
    s.add_argument("file", type=Path)
    s.add_argument("name")

    w = sub.add_parser("worker", help=argparse.SUPPRESS)
    w.add_argument("config")
    w.add_argument("--debug", action="append", default=[])
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        return worker_main(args.config, args.debug)
    if args.command == "run":
        debug: dict[str, list[str]] = {}
        for d in args.debug:  # CONFIG:ACTION:SUBSTR
            config, _, rest = d.partition(":")
            debug.setdefault(config, []).append(rest)
        fraction = args.simd_fraction if args.simd is None else float(args.simd)
        opts = Options(
            count=args.count,
            seed=args.seed,
            jobs=args.jobs,
            configs=args.configs,
            simd_fraction=fraction,
            timeout=args.timeout,
            out=args.out,
            fuel=args.fuel,
            shrink=args.shrink,
            shrink_attempts=args.shrink_attempts,
            debug=debug,
            groups=args.groups if isinstance(args.groups, dict) else parse_groups(args.groups),
        )
        summary = run_campaign(opts)
        print(summary.text())
        return 1 if summary.failed() else 0
    if args.command == "one":
        return _one(args)
    if args.command == "check-interesting":
        hit = check_interesting(
            args.file.resolve(),
            args.kind,
            args.configs,
            args.timeout,
            args.save_best,
            args.arg_seed,
        )
        return 0 if hit else 1
    if args.command == "save-regression":
        REGRESSIONS.mkdir(parents=True, exist_ok=True)
        dest = REGRESSIONS / f"{args.name}.wasm"
        shutil.copyfile(args.file, dest)
        print(dest)
        return 0
    return 2


def _one(args: argparse.Namespace) -> int:
    from fuzz.driver import Options, make_workers

    opts = Options(configs=args.configs, timeout=args.timeout)
    workers = make_workers(opts, None, 0)
    try:
        ref, records, comps = run_one_module(
            args.file.resolve(),
            workers,
            args.configs,
            timeout=args.timeout,
            arg_seed=args.arg_seed,
            arg_count=opts.arg_count,
        )
    finally:
        for w in workers.values():
            w.close()
    if args.json:
        print(json.dumps(records, indent=1, default=str))
    failed = False
    for config, comp in comps.items():
        extra = f", skipped: {comp.skipped}" if comp.skipped else ""
        if not comp.mismatches:
            print(f"{config}: ok ({comp.calls_compared} calls compared{extra})")
            continue
        failed = True
        print(f"{config}: {len(comp.mismatches)} mismatch(es){extra}")
        for m in comp.mismatches[:20]:
            print(f"  [{m['kind']}] {m['where']}")
            print(f"    wasmtime: {json.dumps(m['expected'], default=str)[:400]}")
            print(f"    cwasm:    {json.dumps(m['actual'], default=str)[:400]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
