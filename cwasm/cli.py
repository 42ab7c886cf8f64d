"""The ``cwasm`` command line: one argparse subcommand per verb (``inspect`` for now).

Each subcommand registers itself through a function in :data:`COMMANDS` that adds
its parser and sets ``handler``; ``compile`` and ``run`` plug in the same way.
Errors cwasm raises on purpose are printed as one line on stderr with exit
status 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cwasm.errors import CwasmError

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
        from cwasm.obj.inspect import format_inspection, inspect_artifact

        result = inspect_artifact(data, disassemble=args.disas)
        text = format_inspection(result)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text)
    return 0


# --------------------------------------------------------------------------------------
# entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwasm", description="WebAssembly ahead-of-time compiler and runtime."
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
