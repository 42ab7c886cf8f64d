"""Config and Engine: compilation settings, runtime limits and the engine-wide signature registry.

An ``Engine`` turns its ``Config`` into the ``EngineMetadata`` recorded in (and
checked against) every artifact, and interns function types: two modules loaded
by the same engine agree on the id of a signature, which is what ``call_indirect``
compares.
"""

from __future__ import annotations

import functools
import platform
import threading

from cwasm.abi import guard_layout
from cwasm.errors import CwasmError
from cwasm.obj.engine import EngineMetadata
from cwasm.obj.integrity import check_key
from cwasm.wasm.types import FuncType

_OPT_LEVELS = {"none": 0, "speed": 2, "speed_and_size": 2}


def host_target() -> str:
    """The triple of this machine, without importing LLVM."""
    arch = platform.machine()
    if arch in ("AMD64", "amd64"):
        arch = "x86_64"
    if arch == "arm64":
        arch = "aarch64"
    system = platform.system().lower()
    if system == "linux":
        return f"{arch}-unknown-linux-gnu"
    if system == "darwin":
        return f"{arch}-apple-darwin"
    return f"{arch}-unknown-{system}"


@functools.cache  # the CPU does not change while we run; /proc/cpuinfo is slow to read
def _host_cpu_features() -> tuple[str, ...]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return ("sse4.1",) if "sse4_1" in flags else ()
    except OSError:
        pass
    return ()


class Config:
    """Settings of an ``Engine`` (wasmtime-py's ``Config`` names where they exist).

    ``opt_level`` 0–3 (default 2; ``cranelift_opt_level`` accepts ``"none"``,
    ``"speed"``, ``"speed_and_size"``), ``target`` (a triple; empty = this machine),
    ``max_wasm_stack`` (bytes of native stack wasm may use) and
    ``memory_reservation`` (the most address space one linear memory reserves, which
    also caps how far it can grow) and ``bounds_checks`` (``"explicit"``, or
    ``"guard-pages"`` on x86-64 Linux: no checks, out-of-bounds accesses fault into a
    signal handler; ``None``, the default, picks ``CWASM_BOUNDS_CHECKS`` if set, else
    the platform's default).

    ``artifact_key`` (cwasm's own; ``None`` by default) is a secret of 16 to 64 bytes. With
    it, every artifact the engine writes carries a MAC under the key (keyed BLAKE2b in the
    ``.cwasm.mac`` section), and ``Module.deserialize`` refuses, before mapping any code,
    every artifact whose MAC does not verify under it: one written without a key, with
    another key, or modified since (``UnauthenticatedArtifactError``). Without a key an
    artifact is trusted as Wasmtime trusts its own (see ``docs/artifact-trust.md``); a
    keyed artifact then loads like any other.
    """

    def __init__(self) -> None:
        self.opt_level = 2
        self.target = ""
        self.max_wasm_stack = 1024 * 1024
        self.memory_reservation = 4 << 30
        self.max_table_elements = 10_000_000
        #: None: automatic (``CWASM_BOUNDS_CHECKS``, else the platform default)
        self.bounds_checks: str | None = None
        #: None: artifacts are trusted as they are; else the key that authenticates them
        self.artifact_key: bytes | None = None

    @property
    def cranelift_opt_level(self) -> str:
        return {0: "none"}.get(self.opt_level, "speed")

    @cranelift_opt_level.setter
    def cranelift_opt_level(self, value: str) -> None:
        if value not in _OPT_LEVELS:
            raise CwasmError(f"unknown optimisation level {value!r}")
        self.opt_level = _OPT_LEVELS[value]


class Engine:
    """Compiles and loads modules for one target with one configuration."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        if not 0 <= self.config.opt_level <= 3:
            raise CwasmError(f"optimisation level must be 0..3, not {self.config.opt_level}")
        self.target = self.config.target or host_target()
        #: the bounds-check mode in force (``Config.bounds_checks`` resolved for the target)
        self.bounds_checks = guard_layout.resolve(self.config.bounds_checks, self.target)
        try:
            #: the key artifacts are written and loaded with (``Config.artifact_key``)
            self.artifact_key = check_key(self.config.artifact_key)
        except ValueError as e:
            raise CwasmError(str(e)) from None
        self._lock = threading.Lock()
        self._type_ids: dict[FuncType, int] = {}
        self._types: list[FuncType] = []

    @property
    def is_native(self) -> bool:
        return self.target.split("-")[0] == host_target().split("-")[0]

    def metadata(self, *, for_loading: bool = False) -> EngineMetadata:
        """The metadata this engine writes into artifacts (or accepts when loading)."""
        return EngineMetadata(
            target=self.target,
            cpu_features=_host_cpu_features() if for_loading else self.compile_cpu_features(),
            opt_level=self.config.opt_level,
            bounds_checks=self.bounds_checks,
            memory_guard_size=guard_layout.GUARD_SIZE if self.guard_pages else 0,
        )

    @property
    def guard_pages(self) -> bool:
        return self.bounds_checks == guard_layout.GUARD_PAGES

    def compile_cpu_features(self) -> tuple[str, ...]:
        return ("sse4.1",) if self.target.startswith("x86_64") else ()

    def type_id(self, ft: FuncType) -> int:
        tid = self._type_ids.get(ft)
        if tid is None:
            with self._lock:
                tid = self._type_ids.get(ft)
                if tid is None:
                    tid = len(self._types)
                    self._types.append(ft)
                    self._type_ids[ft] = tid
        return tid

    def func_type(self, type_id: int) -> FuncType:
        return self._types[type_id]
