"""Spec scripts as data: ``wasm-tools json-from-wast`` turns a ``.wast`` file into its
directives (JSON) and the modules they name (``.wasm``, or ``.wat`` for ``module quote``)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cwasm.errors import CwasmError
from cwasm.wasm.text import wasm_tools


@dataclass
class WastScript:
    """The directives of one script and the directory holding the modules they name."""

    name: str  # file stem, e.g. "i32"
    directory: Path
    commands: list[dict[str, Any]]

    def module_bytes(self, filename: str) -> bytes:
        """The module a directive names by ``filename``."""
        return (self.directory / filename).read_bytes()


def wasm_tools_version() -> str:
    """``wasm-tools --version``: the converter's version, part of a conversion's identity."""
    out = subprocess.run([wasm_tools(), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def json_path(wast: Path, out_dir: Path) -> Path:
    """Where ``convert`` writes the directives of ``wast``."""
    return out_dir / f"{wast.stem}.json"


def convert(wast: Path, out_dir: Path) -> WastScript:
    """Convert ``wast`` into ``out_dir`` (its JSON and modules); a script wasm-tools cannot
    parse raises ``CwasmError`` with wasm-tools' message."""
    proc = subprocess.run(
        [
            wasm_tools(),
            "json-from-wast",
            str(wast),
            "-o",
            str(json_path(wast, out_dir)),
            "--wasm-dir",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise CwasmError(f"failed to parse script {wast}: {proc.stderr.strip()}")
    return load(wast, out_dir)


def load(wast: Path, out_dir: Path) -> WastScript:
    """The script ``convert`` wrote into ``out_dir`` earlier."""
    data = json.loads(json_path(wast, out_dir).read_text())
    return WastScript(wast.stem, out_dir, data["commands"])
