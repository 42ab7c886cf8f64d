"""The ``cwasm`` command line: one argparse subcommand per verb (inspect, compile, run, wast).

Each subcommand registers itself through a function in :data:`COMMANDS` that adds
its parser and sets ``handler``. Errors cwasm raises on purpose are printed as one
line on stderr with exit status 1, never as a traceback. ``cwasm run`` exits as
Wasmtime's CLI does: with the program's ``proc_exit`` status, or 134 (128 + SIGABRT)
after printing the trap and its wasm backtrace when the program traps, or 130 (128 +
SIGINT) when Ctrl-C stops it. ``cwasm wast``
exits with 0 when every directive of its scripts passes, else 1 after one line per
failed directive. Subcommands import what they need when they run, so ``cwasm --version``
loads nothing but this module.
"""

from __future__ import annotations

import argparse
import contextlib
import decimal
import json
import math
import os
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cwasm.errors import CwasmError, error_chain

if TYPE_CHECKING:
    from cwasm.cache import Progress
    from cwasm.compile.partcache import PartCache
    from cwasm.runtime.engine import Engine
    from cwasm.runtime.func import Func
    from cwasm.runtime.module import ArtifactModule
    from cwasm.wasi import WasiConfig
    from cwasm.wasm.types import ValueType

WASM_MAGIC = b"\0asm"

Handler = Callable[[argparse.Namespace], int]
AddCommand = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
#: Functions that add one subcommand to the ``cwasm`` parser, in help order.
COMMANDS: list[AddCommand] = []


def command(add: AddCommand) -> AddCommand:
    """Register a subcommand-adding function (decorator)."""
    COMMANDS.append(add)
    return add


# --------------------------------------------------------------------------------------
# inspect


@command
def _add_inspect(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "inspect",
        help="show everything inside a compiled artifact (cwasm's or Wasmtime v28's) or a .wasm",
        description="Decode a .cwasm artifact (or summarize a .wasm module) and print it.",
    )
    p.add_argument("file", type=Path, help="artifact (.cwasm) or module (.wasm)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument(
        "--disas", action="store_true", help="disassemble every function (needs capstone)"
    )
    p.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    data = args.file.read_bytes()
    if data[:4] == WASM_MAGIC:
        from cwasm.wasm.summary import format_module_summary, summarize_wasm

        result = summarize_wasm(data)
        text = format_module_summary(result)
    else:
        from cwasm.inspect import format_inspection, inspect_artifact

        result = inspect_artifact(data, disassemble=args.disas)
        text = format_inspection(result)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text)
    return 0


# --------------------------------------------------------------------------------------
# shared by compile and run


def _add_codegen_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-O",
        dest="opt_level",
        type=int,
        choices=range(4),
        default=2,
        metavar="N",
        help="optimisation level 0-3 (default 2)",
    )
    p.add_argument(
        "--target", default="", metavar="TRIPLE", help="target triple (default: this machine)"
    )


def _engine(args: argparse.Namespace) -> Engine:
    from cwasm.runtime.config import Config
    from cwasm.runtime.engine import Engine

    config = Config()
    config.opt_level = args.opt_level
    config.target = args.target
    config.parallel_compilation = not getattr(args, "no_parallel", False)
    from cwasm import cli_options

    cli_options.configure(config, getattr(args, "wasm_options", []))
    return Engine(config)


def _compile_progress(args: argparse.Namespace) -> AbstractContextManager[Progress | None]:
    """A progress display on stderr: always with ``--progress``, on a terminal only for
    compilations taking over a second, else none."""
    from cwasm.progress import CompileProgress

    if args.progress:
        return CompileProgress(sys.stderr, delay=0.0)
    if sys.stderr.isatty():
        return CompileProgress(sys.stderr, delay=1.0)
    return contextlib.nullcontext()


def _module_bytes(path: Path, data: bytes) -> bytes:
    """The binary module in ``data`` (a ``.wasm``, or WebAssembly text converted)."""
    if data[:4] == WASM_MAGIC:
        return data
    from cwasm.obj.artifact import is_artifact

    if is_artifact(data[:64]):
        raise CwasmError(f"{path} is already a compiled artifact")
    from cwasm.wasm.text import wat_to_wasm

    return wat_to_wasm(data)


# --------------------------------------------------------------------------------------
# compile


@command
def _add_compile(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "compile",
        help="compile a .wasm (or .wat) module ahead of time into a .cwasm artifact",
        description="Compile a WebAssembly module to native code, written as a .cwasm artifact.",
    )
    p.add_argument("file", type=Path, help="module to compile (.wasm or .wat)")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        help="artifact to write (default: the input's name with .cwasm, in the current directory)",
    )
    _add_codegen_options(p)
    p.add_argument(
        "--progress", action="store_true", help="always show compilation progress on stderr"
    )
    p.add_argument(
        "--timings",
        action="store_true",
        help="print the time each compilation stage took on stderr (LLVM's stages summed "
        "over the parts of the module, wherever they were compiled)",
    )
    p.add_argument(
        "--no-parallel",
        action="store_true",
        help="compile in this process only (no worker processes; the artifact is the same)",
    )
    p.add_argument(
        "--cache",
        action="store_true",
        help="incremental compilation: reuse the parts of the module compiled before and keep "
        "the new ones, in the compile cache that `cwasm run` uses (the artifact is the same)",
    )
    p.set_defaults(handler=run_compile)


def run_compile(args: argparse.Namespace) -> int:
    from cwasm.api import compile_artifact
    from cwasm.obj.builder import write_atomically

    wasm = _module_bytes(args.file, args.file.read_bytes())
    output: Path = args.output or Path(args.file.stem + ".cwasm")
    engine = _engine(args)
    timings: dict[str, float] | None = {} if args.timings else None
    parts = _part_cache(engine) if args.cache else None
    with _compile_progress(args) as progress:
        artifact = compile_artifact(
            engine, wasm, progress=progress, timings=timings, part_cache=parts
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(output, artifact)
    if timings is not None:
        print(format_timings(timings), file=sys.stderr)
        if parts is not None:
            looked_up = parts.hits + parts.misses
            print(f"{'parts reused':>16}: {parts.hits:6d} of {looked_up}", file=sys.stderr)
    return 0


def _part_cache(engine: Engine) -> PartCache | None:
    """The compile cache's parts for ``engine``, or ``None`` (with a warning) if the
    cache's key is unusable."""
    from cwasm.cache import CacheKeyError, CompileCache

    try:
        return CompileCache.default().part_cache(engine)
    except CacheKeyError as e:
        print(f"cwasm: warning: compile cache disabled: {e}", file=sys.stderr)
        return None


def format_timings(timings: dict[str, float]) -> str:
    """The stage breakdown of one compilation, one stage a line (``--timings``)."""
    from cwasm.compile.artifact import STAGES

    total = timings.get("total", 0.0)
    lines = []
    for stage in (*STAGES, "total"):
        if stage in timings:
            lines.append(f"{stage:>16}: {timings[stage] * 1000:9.1f} ms")
    busy = sum(timings.get(s, 0.0) for s in STAGES)
    if total > 0 and busy > total * 1.05:
        lines.append(f"{'(cpu / wall)':>16}: {busy / total:9.2f}x  (stages ran in parallel)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# run

#: what ``cwasm run`` exits with when the program traps: a SIGABRT death, as Wasmtime's CLI
EXIT_TRAP = 128 + signal.SIGABRT
#: the exit status after Ctrl-C (128 + SIGINT), as a shell reports a process it ended
EXIT_INTERRUPT = 128 + signal.SIGINT


@command
def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run a WebAssembly program (.wasm, .wat or .cwasm) with WASI",
        description=(
            "Run a WASI command's _start (exit status = the program's), or call one export "
            "with --invoke. Modules given as .wasm or .wat are compiled once and cached."
        ),
    )
    p.add_argument("--invoke", metavar="NAME", help="call the export NAME with ARGS instead")
    p.add_argument(
        "--dir",
        dest="dirs",
        action="append",
        default=[],
        metavar="HOST[::GUEST]",
        help="give the program access to a host directory (as GUEST, default the same path)",
    )
    p.add_argument(
        "--env",
        dest="envs",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="set an environment variable for the program (without a value: inherit it)",
    )
    p.add_argument("--argv0", help="argv[0] for the program (default: the file's base name)")
    # a small module, but ``cwasm --version`` loads nothing but this one: only the
    # option's parser is built here, and the table is read when -W is parsed
    p.add_argument(
        "-W",
        "--wasm",
        dest="wasm_options",
        action="extend",
        type=_parse_wasm_options,
        default=[],
        metavar="KEY[=VAL[,..]]",
        help="WebAssembly options, as Wasmtime's CLI: max-memory-size=N, "
        "max-table-elements=N, max-instances=N, max-tables=N, max-memories=N, "
        "trap-on-grow-failure[=y|n] (see cwasm/cli_options.py)",
    )
    _add_codegen_options(p)
    p.add_argument(
        "--no-cache", action="store_true", help="compile without reading or writing the cache"
    )
    p.add_argument(
        "--progress", action="store_true", help="always show compilation progress on stderr"
    )
    p.add_argument("file", type=Path, help="module (.wasm, .wat) or artifact (.cwasm)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the program")
    p.set_defaults(handler=run_run)


def _parse_wasm_options(text: str) -> list[tuple[Any, Any]]:
    """One ``-W`` argument (``cwasm.cli_options.parse_wasm_options``)."""
    from cwasm.cli_options import parse_wasm_options

    return parse_wasm_options(text)


def _load_for_run(args: argparse.Namespace, engine: Engine) -> ArtifactModule:
    from cwasm.obj.artifact import is_artifact
    from cwasm.runtime.module import ArtifactModule

    path: Path = args.file
    data = path.read_bytes()
    if is_artifact(data[:64]):
        return ArtifactModule.deserialize_file(engine, path)
    from cwasm.cache import CacheKeyError, CompileCache, load_or_compile

    wasm = _module_bytes(path, data)
    cache = None if args.no_cache else CompileCache.default()
    if cache is not None:
        try:
            cache.key(engine)
        except CacheKeyError as e:
            print(f"cwasm: warning: compile cache disabled: {e}", file=sys.stderr)
            cache = None
    with _compile_progress(args) as progress:
        module, _ = load_or_compile(engine, wasm, cache, progress=progress)
    return module


def _wasi_config(args: argparse.Namespace) -> WasiConfig:
    from cwasm.wasi import WasiConfig

    config = WasiConfig()
    argv0 = args.argv0 if args.argv0 is not None else args.file.name
    config.argv = [argv0, *args.args]
    env: list[tuple[str, str]] = []
    for item in args.envs:
        name, eq, value = item.partition("=")
        if not eq:
            if name not in os.environ:
                continue
            value = os.environ[name]
        env.append((name, value))
    config.env = env
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    for spec in args.dirs:
        host, sep, guest = spec.partition("::")
        config.preopen_dir(host, guest if sep else host)
    return config


def run_run(args: argparse.Namespace) -> int:
    from cwasm.runtime.func import Func
    from cwasm.runtime.linker import Linker
    from cwasm.runtime.store import Store
    from cwasm.runtime.trap import Trap, TrapCode
    from cwasm.wasi import WasiExit

    engine = _engine(args)
    module = _load_for_run(args, engine)
    linker = Linker(engine)
    linker.define_wasi()
    store = Store(engine)
    from cwasm import cli_options

    cli_options.prepare(store, args.wasm_options)
    store.set_wasi(_wasi_config(args))
    sys.stdout.flush()
    try:
        instance = linker.instantiate(store, module)
        if args.invoke is not None:
            func = instance.exports(store).get(args.invoke)
            if not isinstance(func, Func):
                raise CwasmError(f"no exported function named `{args.invoke}`")
            results = func.call_raw(store, parse_invoke_args(func, args.invoke, args.args))
            closed = engine.func_type(func.type_id)  # its types closed over the engine's ids
            for kind, value in zip(closed.results, results, strict=True):
                print(format_value(engine.types.top(kind), value))
        else:
            start = instance.exports(store).get("_start")
            if isinstance(start, Func):
                start(store)
    except WasiExit as e:
        if not 0 <= e.code < 126:
            print(
                f"cwasm: error: failed to run main module `{args.file}`: "
                "exit with invalid exit status outside of [0..126)",
                file=sys.stderr,
            )
            return 1
        return e.code
    except Trap as trap:
        sys.stdout.flush()
        # Wasmtime's layout: the failure, then its causes (the backtrace, the trap)
        causes = [f"failed to run main module `{args.file}`", *trap.chain]
        timeout = cli_options.timeout_of(args.wasm_options)
        if timeout is not None and trap.trap_code == TrapCode.INTERRUPT:
            causes.insert(1, f"timeout of {cli_options.format_duration(timeout)} exceeded")
        text = error_chain(causes)
        print(f"cwasm: error: {text}", file=sys.stderr)
        return EXIT_TRAP
    return 0


def _parse_int(text: str, bits: int) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise CwasmError(f"invalid i{bits} argument {text!r}") from None
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise CwasmError(f"i{bits} argument {text!r} is out of range")
    return value & ((1 << bits) - 1)


def _parse_float(text: str, single: bool) -> int:
    what = "f32" if single else "f64"
    try:
        packed = struct.pack("<f" if single else "<d", float(text))
    except (ValueError, OverflowError):
        raise CwasmError(f"invalid {what} argument {text!r}") from None
    bits: int = struct.unpack("<I" if single else "<Q", packed)[0]
    return bits


def parse_invoke_args(func: Func, name: str, texts: Sequence[str]) -> list[int]:
    """``--invoke`` arguments as raw bits for ``func``'s parameter types."""
    from cwasm.wasm.types import ValType

    params = func.wasm_type.params
    if len(texts) < len(params):
        raise CwasmError(f"not enough arguments for `{name}`: it takes {len(params)}")
    if len(texts) > len(params):
        raise CwasmError(f"too many arguments for `{name}`: it takes {len(params)}")
    out: list[int] = []
    for kind, text in zip(params, texts, strict=True):
        if kind == ValType.I32:
            out.append(_parse_int(text, 32))
        elif kind == ValType.I64:
            out.append(_parse_int(text, 64))
        elif kind == ValType.F32:
            out.append(_parse_float(text, single=True))
        elif kind == ValType.F64:
            out.append(_parse_float(text, single=False))
        elif kind == ValType.V128:
            out.append(_parse_int(text, 128))
        else:
            raise CwasmError(f"unsupported argument type {kind.text} for `{name}`")
    return out


def _float_text(value: float, single: bool) -> str:
    """Rust's ``Display`` of a float: shortest round-trip digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    if single:
        for digits in range(1, 10):
            candidate = f"{value:.{digits}g}"
            try:
                same = struct.unpack("<f", struct.pack("<f", float(candidate)))[0] == value
            except OverflowError:
                same = False
            if same:
                text = candidate
                break
    return format(decimal.Decimal(text).normalize(), "f")


def format_value(kind: ValueType, raw: Any) -> str:
    """One ``--invoke`` result (raw bits) as Wasmtime's CLI prints it."""
    from cwasm.wasm.types import ValType

    if kind == ValType.I32:
        return str(raw - (1 << 32) if raw >> 31 else raw)
    if kind == ValType.I64:
        return str(raw - (1 << 64) if raw >> 63 else raw)
    if kind == ValType.F32:
        return _float_text(struct.unpack("<f", struct.pack("<I", raw))[0], single=True)
    if kind == ValType.F64:
        return _float_text(struct.unpack("<d", struct.pack("<Q", raw))[0], single=False)
    if kind == ValType.V128:
        return str(raw)
    if raw is None:
        return f"<null {kind.text}>"
    return f"<{kind.text}>"


# --------------------------------------------------------------------------------------
# wast


@command
def _add_wast(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "wast",
        help="run WebAssembly spec test scripts (.wast), as `wasmtime wast` does",
        description=(
            "Run every directive of each script (modules, assert_return, assert_trap, "
            "assert_malformed, ...) against cwasm's runtime. Exit status 0 when all pass; "
            "otherwise each failed directive is reported on stderr and the status is 1."
        ),
    )
    p.add_argument("scripts", nargs="+", type=Path, metavar="SCRIPT_FILE", help="a .wast script")
    p.set_defaults(handler=run_wast)


def run_wast(args: argparse.Namespace) -> int:
    from collections import Counter

    from cwasm.wast.runner import run_script

    failed = 0
    for path in args.scripts:
        if not path.is_file():
            raise CwasmError(f"no such script file: {path}")
        outcomes = run_script(path)
        skipped: Counter[str] = Counter()
        for o in outcomes:
            if o.status == "failed":
                failed += 1
                print(
                    f"cwasm: error: failed directive on {path}:{o.line}: {o.command}: {o.detail}",
                    file=sys.stderr,
                )
            elif o.status == "skipped":
                skipped[o.detail] += 1
        for reason, n in sorted(skipped.items()):
            print(f"cwasm: warning: {path}: {n} directive(s) skipped: {reason}", file=sys.stderr)
    if failed:
        print(f"cwasm: error: {failed} directive(s) failed", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------
# entry point


def build_parser() -> argparse.ArgumentParser:
    from cwasm import __version__

    parser = argparse.ArgumentParser(
        prog="cwasm", description="WebAssembly ahead-of-time compiler and runtime."
    )
    parser.add_argument(
        "-V", "--version", action="version", version=f"cwasm {__version__}", help="print version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cwasm`` command; returns the process exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        # Ctrl-C (also while wasm runs: see docs/interruption.md): the shell's status,
        # without a traceback even if Ctrl-C is pressed again meanwhile
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return EXIT_INTERRUPT
    except CwasmError as exc:
        print(f"cwasm: error: {exc}", file=sys.stderr)
    except BrokenPipeError:
        # the reader went away (``cwasm inspect x | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        target = f": {exc.filename}" if exc.filename else ""
        print(f"cwasm: error: {exc.strerror or exc}{target}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
