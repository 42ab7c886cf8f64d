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


def spec3_dir() -> Path:
    """Where the 3.0 `.wast` files live: $CWASM_SPEC3_DIR, or `spec-testsuite-3` beside
    the 2.0 suite's directory."""
    env = os.environ.get("CWASM_SPEC3_DIR")
    if env:
        return Path(env)
    return spec_dir().parent / "spec-testsuite-3"


#: the prefix naming a 3.0 file among the harness's files (``3/relaxed_min_max``)
SUITE3_PREFIX = "3/"


def wast_path(name: str) -> Path:
    """The `.wast` of a harness file name: a 2.0 stem, or a 3.0 one after ``3/``."""
    if name.startswith(SUITE3_PREFIX):
        return spec3_dir() / f"{name.removeprefix(SUITE3_PREFIX)}.wast"
    return spec_dir() / f"{name}.wast"


def convert(wast: Path, version: str | None = None) -> WastScript:
    """Convert one `.wast` into `build/spec/<stem>` (`build/spec/3/<stem>` for the 3.0
    suite's, `build/spec/3/threads/<stem>` for its threads files), unless it already is."""
    version = version or script.wasm_tools_version()
    out_dir = BUILD_DIR / wast.stem
    if wast.resolve().is_relative_to(spec3_dir().resolve()):
        out_dir = (
            BUILD_DIR / "3" / wast.resolve().relative_to(spec3_dir().resolve()).with_suffix("")
        )
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


def suite3_stems() -> set[str]:
    """The stems of the 3.0 suite's files: ``<stem>`` at its top level, and
    ``threads/<stem>`` for the threads proposal's files."""
    root = spec3_dir()
    return {p.relative_to(root).with_suffix("").as_posix() for p in root.glob("*.wast")} | {
        p.relative_to(root).with_suffix("").as_posix() for p in root.glob("threads/*.wast")
    }


def all_wast_files() -> list[Path]:
    return sorted(spec_dir().glob("*.wast"))
