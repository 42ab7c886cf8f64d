"""The compile cache: artifacts of already-compiled modules, found again by a content key.

An entry is ``<cache dir>/<key[:2]>/<key>.cwasm``, an ordinary artifact. The key is a
SHA-256 over the module's bytes and everything that changes the generated code: the
engine metadata the artifact records (target, CPU features, optimisation level, wasm
features, format version...), cwasm's version, the llvmlite version and a digest of
the sources of cwasm's decoder, compiler and artifact writer (so a changed compiler
never reuses stale code). Entries are written atomically and loaded through
``Module.deserialize``, which checks them; a corrupt or incompatible entry is treated
as a miss and replaced.

The directory is ``$CWASM_CACHE_DIR``, else ``~/.cache/cwasm``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cwasm import __version__
from cwasm.api import Module, compile_artifact
from cwasm.errors import CwasmError
from cwasm.obj.builder import write_atomically
from cwasm.runtime.engine import Engine

CACHE_DIR_ENV = "CWASM_CACHE_DIR"
#: bumped whenever the key's recipe changes
_KEY_VERSION = b"cwasm-cache-key-1"
_PACKAGE_DIR = Path(__file__).resolve().parent

#: the compiler's progress callback: ``(stage, done, total)``
Progress = Callable[[str, int, int], None]


def default_cache_dir() -> Path:
    """``$CWASM_CACHE_DIR`` if set, else ``~/.cache/cwasm``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "cwasm"


@functools.cache
def toolchain_fingerprint() -> bytes:
    """What identifies the compiler itself: versions and a digest of cwasm's sources."""
    h = hashlib.sha256()
    h.update(f"cwasm {__version__}\n".encode())
    try:
        h.update(f"llvmlite {metadata.version('llvmlite')}\n".encode())
    except metadata.PackageNotFoundError:
        h.update(b"llvmlite ?\n")
    for path in _code_shaping_sources():
        h.update(str(path.relative_to(_PACKAGE_DIR)).encode() + b"\0")
        h.update(path.read_bytes())
    return h.digest()


def _code_shaping_sources() -> list[Path]:
    """The sources whose changes can change an artifact: decoder, compiler, artifact
    writer and the runtime ABI the compiled code is written against."""
    paths: list[Path] = []
    for package in ("wasm", "compile", "obj"):
        paths.extend((_PACKAGE_DIR / package).rglob("*.py"))
    paths.extend(_PACKAGE_DIR / "runtime" / name for name in ("vmoffsets.py", "builtins.py"))
    return sorted(p for p in paths if p.exists())


def cache_key(engine: Engine, wasm: bytes) -> str:
    """The hex key of the artifact ``engine`` would compile from ``wasm``."""
    h = hashlib.sha256(_KEY_VERSION)
    h.update(toolchain_fingerprint())
    meta = engine.metadata()
    for f in dataclasses.fields(meta):
        h.update(f"{f.name}={getattr(meta, f.name)!r}\n".encode())
    h.update(hashlib.sha256(wasm).digest())
    return h.hexdigest()


class CacheOutcome(enum.Enum):
    """How a module was obtained."""

    HIT = "hit"  # loaded from the cache
    MISS = "miss"  # compiled, then stored in the cache
    BYPASS = "bypass"  # compiled without looking at the cache


@dataclass(frozen=True, slots=True)
class CompileCache:
    """A cache directory of compiled artifacts."""

    directory: Path

    @classmethod
    def default(cls) -> CompileCache:
        return cls(default_cache_dir())

    def path(self, engine: Engine, wasm: bytes) -> Path:
        """Where the artifact for ``wasm`` compiled by ``engine`` is (or would be) kept."""
        key = cache_key(engine, wasm)
        return self.directory / key[:2] / f"{key}.cwasm"

    def load(self, engine: Engine, wasm: bytes) -> Module | None:
        """The cached module, or ``None`` if there is no usable entry."""
        path = self.path(engine, wasm)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            return Module.deserialize(engine, data)
        except CwasmError:
            return None  # corrupt or stale: the caller recompiles and overwrites it

    def store(self, engine: Engine, wasm: bytes, artifact: bytes) -> Path | None:
        """Keep ``artifact`` for ``wasm``; ``None`` if the cache directory is not writable."""
        path = self.path(engine, wasm)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, artifact)
        except OSError:
            return None
        return path


def load_or_compile(
    engine: Engine,
    wasm: bytes,
    cache: CompileCache | None,
    *,
    progress: Progress | None = None,
) -> tuple[Module, CacheOutcome]:
    """A module for the binary ``wasm``: from ``cache`` if it has it, else compiled (and
    then cached). ``cache=None`` always compiles."""
    if cache is not None:
        module = cache.load(engine, wasm)
        if module is not None:
            return module, CacheOutcome.HIT
    artifact = compile_artifact(engine, wasm, progress=progress)
    module = Module.deserialize(engine, artifact)
    if cache is None:
        return module, CacheOutcome.BYPASS
    cache.store(engine, wasm, artifact)
    return module, CacheOutcome.MISS


__all__ = [
    "CACHE_DIR_ENV",
    "CacheOutcome",
    "CompileCache",
    "Progress",
    "cache_key",
    "default_cache_dir",
    "load_or_compile",
    "toolchain_fingerprint",
]
