"""The compile cache: artifacts of already-compiled modules, found again by a content key.

An entry is ``<cache dir>/<key[:2]>/<key>.cwasm``, an ordinary artifact. The key is a
SHA-256 over the module's bytes and everything that changes the generated code: the
engine metadata the artifact records (target, CPU features, optimisation level, wasm
features, format version...), cwasm's version, the llvmlite version and a digest of
the sources of cwasm's decoder, compiler and artifact writer (so a changed compiler
never reuses stale code). Entries are written atomically and loaded through
``Module.deserialize``, which checks them; a corrupt or incompatible entry is treated
as a miss and replaced.

Entries are authenticated: each carries a MAC under the cache's key (see
``docs/artifact-trust.md``), checked before any of its code is mapped, so a file that
someone else put or edited in the directory is a miss, never code that runs. The key is
the engine's ``Config.artifact_key`` if it has one, else the per-user key file
``<cache dir>/key``: 32 random bytes, created once (atomically, mode 0600). A key file
that is not a regular file of 32 bytes owned by this user and private to them is never
used: the cache is then disabled (``CacheKeyError``; ``load_or_compile`` compiles
without it) until the file is fixed or removed.

The same directory keeps the compiled parts of modules under ``parts/``
(``cwasm.compile.partcache``: incremental compilation), salted with the compiler's
fingerprint and the engine metadata as the artifacts' keys are and authenticated with
the same key: a module that misses here is compiled reusing every part of it that an
earlier compilation of a similar module already compiled.

The directory is ``$CWASM_CACHE_DIR``, else ``~/.cache/cwasm``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from cwasm import __version__
from cwasm.api import Module, compile_artifact
from cwasm.errors import CwasmError
from cwasm.obj.builder import write_atomically
from cwasm.obj.integrity import reseal_with_key
from cwasm.runtime.engine import Engine

if TYPE_CHECKING:
    from cwasm.compile.partcache import PartCache

CACHE_DIR_ENV = "CWASM_CACHE_DIR"
#: the per-user key file inside the cache directory, and its size
KEY_FILE_NAME = "key"
KEY_FILE_SIZE = 32
#: the directory of compiled parts inside the cache directory
PARTS_DIR_NAME = "parts"
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
    writer and the ABI (``cwasm.abi``) the compiled code is written against."""
    paths: list[Path] = []
    for package in ("wasm", "compile", "obj", "abi"):
        paths.extend((_PACKAGE_DIR / package).rglob("*.py"))
    return sorted(p for p in paths if p.exists())


def engine_salt(engine: Engine) -> bytes:
    """What every key of ``engine``'s entries covers: the compiler and the engine metadata."""
    h = hashlib.sha256(_KEY_VERSION)
    h.update(toolchain_fingerprint())
    meta = engine.metadata()
    for f in dataclasses.fields(meta):
        h.update(f"{f.name}={getattr(meta, f.name)!r}\n".encode())
    return h.digest()


def cache_key(engine: Engine, wasm: bytes) -> str:
    """The hex key of the artifact ``engine`` would compile from ``wasm``."""
    h = hashlib.sha256(engine_salt(engine))
    h.update(hashlib.sha256(wasm).digest())
    return h.hexdigest()


class CacheKeyError(CwasmError):
    """The cache's key file cannot be used safely (or at all): the cache is disabled."""


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``, created first if missing (``CacheKeyError`` if unusable)."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # written in full under a private name, then linked into place: a concurrent
        # reader sees no key file or a complete one, and only one creator wins
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_FILE_SIZE))
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
        return _read_key(path)
    except OSError as e:
        raise CacheKeyError(f"cannot create the cache key file {path}: {e}") from None


def _read_key(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise CacheKeyError(f"cannot read the cache key file {path}: {e}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise CacheKeyError(f"the cache key file {path} is not a regular file")
        if st.st_uid != os.getuid():
            raise CacheKeyError(f"the cache key file {path} belongs to another user")
        if st.st_mode & 0o077:
            raise CacheKeyError(
                f"the cache key file {path} is accessible to other users "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); remove it to get a new one"
            )
        key = f.read(KEY_FILE_SIZE + 1)
    if len(key) != KEY_FILE_SIZE:
        raise CacheKeyError(f"the cache key file {path} does not hold {KEY_FILE_SIZE} bytes")
    return key


class CacheOutcome(enum.Enum):
    """How a module was obtained."""

    HIT = "hit"  # loaded from the cache
    MISS = "miss"  # compiled, then stored in the cache
    BYPASS = "bypass"  # compiled without looking at the cache
    DISABLED = "disabled"  # compiled without the cache, whose key file is unusable


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

    def key(self, engine: Engine) -> bytes:
        """The key entries are authenticated with (``CacheKeyError`` if it is unusable)."""
        if engine.artifact_key is not None:
            return engine.artifact_key
        return load_or_create_key(self.directory / KEY_FILE_NAME)

    def part_cache(self, engine: Engine) -> PartCache:
        """The cache of compiled parts for ``engine`` (incremental compilation), in
        ``parts/`` of this directory (``CacheKeyError`` if the key is unusable). It
        imports the compiler's package: a cache hit never needs it."""
        from cwasm.compile.partcache import PartCache

        return PartCache(self.directory / PARTS_DIR_NAME, self.key(engine), engine_salt(engine))

    def load(self, engine: Engine, wasm: bytes) -> Module | None:
        """The cached module, or ``None`` if there is no usable entry (one not
        authenticated by the cache's key is not usable)."""
        key = self.key(engine)
        path = self.path(engine, wasm)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            return Module.deserialize_authenticated(engine, data, key)
        except CwasmError:
            return None  # corrupt, stale or forged: the caller recompiles and overwrites it

    def store(self, engine: Engine, wasm: bytes, artifact: bytes) -> Path | None:
        """Keep ``artifact`` for ``wasm``, authenticated with the cache's key; ``None`` if
        the cache directory is not writable."""
        key = self.key(engine)
        path = self.path(engine, wasm)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, reseal_with_key(artifact, key))
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
    disabled = False
    if cache is not None:
        try:
            module = cache.load(engine, wasm)
        except CacheKeyError:
            cache, disabled = None, True
        else:
            if module is not None:
                return module, CacheOutcome.HIT
    parts = None if cache is None else cache.part_cache(engine)
    artifact = compile_artifact(engine, wasm, progress=progress, part_cache=parts)
    module = Module.deserialize(engine, artifact)
    if cache is None:
        return module, CacheOutcome.DISABLED if disabled else CacheOutcome.BYPASS
    cache.store(engine, wasm, artifact)
    return module, CacheOutcome.MISS


__all__ = [
    "CACHE_DIR_ENV",
    "CacheKeyError",
    "CacheOutcome",
    "CompileCache",
    "Progress",
    "cache_key",
    "engine_salt",
    "default_cache_dir",
    "load_or_compile",
    "toolchain_fingerprint",
]
