"""The spec testsuite's `.wast` files: where they are, and their conversion cached under
`build/spec` (by content hash and wasm-tools version)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from cwasm.wast import script
from cwasm.wast.script import WastScript

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "build" / "spec"


def spec_dir() -> Path:
    """Where the `.wast` files live: $CWASM_SPEC_DIR or ../shared/spec-testsuite."""
    env = os.environ.get("CWASM_SPEC_DIR")
    if env:
        return Path(env)
    return ROOT.parent / "shared" / "spec-testsuite"


def convert(wast: Path, version: str | None = None) -> WastScript:
    """Convert one `.wast` into `build/spec/<stem>`, unless it already is."""
    version = version or script.wasm_tools_version()
    out_dir = BUILD_DIR / wast.stem
    stamp_file = out_dir / "stamp"
    stamp = hashlib.sha256(wast.read_bytes() + version.encode()).hexdigest()
    fresh = stamp_file.exists() and stamp_file.read_text() == stamp
    if fresh and script.json_path(wast, out_dir).exists():
        return script.load(wast, out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    converted = script.convert(wast, out_dir)
    stamp_file.write_text(stamp)
    return converted


def all_wast_files() -> list[Path]:
    return sorted(spec_dir().glob("*.wast"))
