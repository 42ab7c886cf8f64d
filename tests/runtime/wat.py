"""Shared helpers for runtime tests: WAT → wasm bytes through the wasm-tools CLI (cached)."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path


def _tool() -> str:
    exe = Path(sys.executable).with_name("wasm-tools")
    found = str(exe) if exe.exists() else shutil.which("wasm-tools")
    assert found, "wasm-tools CLI not found"
    return found


@functools.cache
def wat(text: str) -> bytes:
    """The binary module for a WAT text."""
    proc = subprocess.run([_tool(), "parse"], input=text.encode(), capture_output=True, check=True)
    return proc.stdout
