"""The runtime's modules: ``ArtifactModule`` (the API object) and ``CompiledModule`` (its code).

* ``ArtifactModule`` is wasmtime-py's ``Module`` as far as the runtime goes: always held
  as artifact bytes and loaded from them (``deserialize``), with its imports and
  exports. The runtime never compiles: ``cwasm.Module`` (in ``cwasm.api``) is the
  subclass whose constructor compiles wasm with ``cwasm.compile`` and then loads the
  artifact exactly as ``deserialize`` does.
* ``CompiledModule`` (Wasmtime's name) is what loading produces: the artifact checked,
  its ``.text`` copied into executable pages (a ``CodeMemory``), and everything
  instantiation needs read from its info section. It also resolves native addresses
  inside its code to wasm frames.
"""

from __future__ import annotations

import os
from typing import Self

from cwasm.abi.gc_collect import carries_collector
from cwasm.closable import Closable
from cwasm.errors import CwasmError
from cwasm.obj.artifact import Artifact
from cwasm.obj.info import CompiledModuleInfo
from cwasm.runtime import gc_collector, guard, interrupt
from cwasm.runtime.engine import Engine
from cwasm.runtime.instance_plan import InstancePlan
from cwasm.runtime.module_facts import facts_for
from cwasm.runtime.native import CodeMemory
from cwasm.runtime.registry import CODE
from cwasm.runtime.trap import Frame
from cwasm.runtime.types import (
    ExportType,
    ExternTypeT,
    FuncType,
    GlobalType,
    ImportType,
    MemoryType,
    TableType,
    TagType,
)
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.types import ExternKind
from cwasm.wasm.types import FuncType as WasmFuncType


class CompiledModule:
    """An artifact checked and mapped for execution (or only checked, for a foreign target)."""

    def __init__(self, engine: Engine, artifact: Artifact, keep: object) -> None:
        self.engine = engine
        self.artifact = artifact
        self._keep = keep  # the buffer the artifact's views point into
        self.info: CompiledModuleInfo = artifact.info
        self.m: ModuleRecord = self.info.module
        # checked (the wasm-to-array trampolines) before any code is mapped
        facts = facts_for(engine, self.info)
        self.offsets = facts.offsets
        arch = engine.target.split("-")[0]
        self.call_size = 4 if arch == "aarch64" else 5
        self.type_ids = facts.type_ids
        self.table_types = facts.table_types
        self.global_types = facts.global_types
        # every x86-64 Linux artifact has the signal builtins (guard pages and SIGINT); one
        # compiled before the SIGINT handler existed has them only in guard-page mode
        has_block = engine.guard_pages or guard.has_builtin_block(artifact)
        handler = guard.builtin_block(artifact) if engine.is_native and has_block else None
        # checked before any code is mapped, as the signal builtins are
        gc_offset = (
            gc_collector.routine_offset(artifact)
            if engine.is_native and self.m.sub_types and carries_collector(self.m.types)
            else None
        )
        self.code: CodeMemory = (
            CodeMemory(artifact.text, artifact.eh_frame) if engine.is_native else _NoCode()
        )
        base = self.code.base
        #: the address of the artifact's GC collector routine (None without struct or
        #: array types), which the stores of its instances call (``gc_collector``)
        self.gc_collector = None if gc_offset is None else base + gc_offset
        self.func_addrs = [base + start for start in facts.func_starts]
        self.entry_addrs = [0 if start is None else base + start for start in facts.entry_starts]
        #: engine type id -> address of this module's wasm-to-array trampoline of that type
        self.wasm_to_array: dict[int, int] = {
            tid: base + start for tid, start in facts.wasm_to_array
        }
        #: the vmctx contents shared by every instance, built by the first instantiation
        self.vmctx_image: bytes | None = None
        #: what every instantiation computes the same way (``instance_plan.plan_for``)
        self.instance_plan: InstancePlan | None = None
        if base:
            CODE.register(base, base + self.code.size, self)
            if handler is not None:
                guard.load_handlers(handler)
                if engine.guard_pages:
                    guard.ensure_installed(handler)
                    guard.register_code(
                        self.code, base, base + self.code.size, self.code.release_hooks
                    )
                interrupt.register_module(
                    self.code, base, facts.func_spans, self.code.release_hooks
                )

    def func_type(self, func_index: int) -> WasmFuncType:
        """The signature of function ``func_index``."""
        return self.m.func_type(func_index)

    def frame_at(self, text_offset: int) -> Frame | None:
        """The wasm frame of the code at ``text_offset`` in ``.text`` (None outside the
        wasm functions)."""
        defined = self.artifact.func_by_text_offset(text_offset)
        if defined is None:
            return None
        func_index = self.m.num_imported_funcs + defined
        pos = self.artifact.lookup_file_pos(text_offset)
        start = self.info.funcs[defined].start_srcloc
        return Frame(
            func_index=func_index,
            func_name=self.artifact.func_name(func_index),
            module_name=self.info.name,
            func_offset=None if pos is None else pos - start,
            module_offset=pos,
        )


class _NoCode(CodeMemory):
    """Stands in for the code of a module compiled for another architecture."""

    def __init__(self) -> None:  # no mapping at all
        self.base = 0
        self.size = 0


class ArtifactModule(Closable):
    """A compiled WebAssembly module loaded from artifact bytes (wasmtime-py's ``Module``
    without the compiler; ``cwasm.Module`` adds it)."""

    def __init__(
        self, engine: Engine, wasm: bytes | bytearray | str, validate: bool = True
    ) -> None:
        raise CwasmError(
            "cwasm.runtime only loads artifacts: compile with cwasm.Module(engine, wasm), "
            "or load one with Module.deserialize"
        )

    def _init(self, engine: Engine, artifact_bytes: bytes, key: bytes | None = None) -> None:
        engine._check_open()
        self._closed = False  # set, so that ``_check_open`` finds it without a miss
        self.engine = engine
        self._bytes = artifact_bytes
        artifact = Artifact.from_bytes(
            artifact_bytes,
            engine.metadata(for_loading=True),
            key=engine.artifact_key if key is None else key,
        )
        self.compiled = CompiledModule(engine, artifact, artifact_bytes)

    def _adopt(self, other: ArtifactModule) -> None:
        """Become ``other``, a module loaded for the same engine (what ``_init`` made)."""
        self._closed = False
        self.engine = other.engine
        self._bytes = other._bytes
        self.compiled = other.compiled

    @classmethod
    def deserialize(cls, engine: Engine, encoded: bytes | bytearray | memoryview) -> Self:
        """Deserializes bytes previously created by ``Module.serialize``.

        This only succeeds if the bytes were created by a compatible cwasm, for the same
        target and with the same code-shaping configuration of the ``Engine``."""
        if not isinstance(encoded, (bytes, bytearray, memoryview)):
            raise TypeError("expected bytes")
        self = cls.__new__(cls)
        self._init(engine, bytes(encoded))
        return self

    @classmethod
    def deserialize_authenticated(
        cls, engine: Engine, encoded: bytes | bytearray | memoryview, key: bytes
    ) -> Self:
        """``deserialize``, requiring a MAC under ``key`` (whatever the engine's key is)."""
        self = cls.__new__(cls)
        self._init(engine, bytes(encoded), key)
        return self

    @classmethod
    def deserialize_file(cls, engine: Engine, path: str | os.PathLike[str]) -> Self:
        """Deserializes bytes previously created by ``Module.serialize`` that are stored in
        a file on the filesystem (otherwise the same as ``Module.deserialize``)."""
        with open(path, "rb") as f:
            data = f.read()
        try:
            return cls.deserialize(engine, data)
        except CwasmError as e:
            raise type(e)(f"failed deserialization for: {os.fspath(path)}: {e}") from e

    @classmethod
    def validate(cls, engine: Engine, wasm: bytes | bytearray) -> None:
        """Validates whether the list of bytes ``wasm`` provided is a valid WebAssembly
        binary given the configuration in ``engine``.

        Raises a ``WasmtimeError`` if the wasm isn't valid."""
        from cwasm.wasm.features import decode_for_features

        if not isinstance(wasm, (bytes, bytearray)):
            raise TypeError("expected wasm bytes")
        features = engine.wasm_features
        engine._check_open()
        decode_for_features(bytes(wasm), features, multi_memory="multi_memory" in features)

    def serialize(self) -> bytes:
        """Serializes this module to a binary representation (its artifact), which
        ``Module.deserialize`` turns back into a module."""
        self._check_open()
        return self._bytes

    @property
    def name(self) -> str | None:
        """The module's name (from its name section), if it has one."""
        return self.compiled.info.name

    def _extern_type(self, kind: ExternKind, index: int) -> ExternTypeT:
        """The type of an import or export, its typed references closed over the engine's
        type ids (as an instance's are, so that a ``Func``, ``Table`` or ``Global`` made
        with it matches), shown with their function types."""
        compiled = self.compiled
        m = compiled.m
        engine = self.engine
        if kind == ExternKind.FUNC:
            type_id = compiled.type_ids[m.functions[index]]
            return FuncType.from_wasm(engine.func_type(type_id), engine, type_id)
        if kind == ExternKind.TABLE:
            return TableType.from_wasm(compiled.table_types[index], engine)
        if kind == ExternKind.MEMORY:
            return MemoryType.from_wasm(m.memories[index])
        if kind == ExternKind.TAG:
            type_id = compiled.type_ids[m.tags[index]]
            return TagType(FuncType.from_wasm(engine.func_type(type_id), engine))
        return GlobalType.from_wasm(compiled.global_types[index], engine)

    @property
    def imports(self) -> list[ImportType]:
        """Returns the types of imports that this module has."""
        self._check_open()
        out: list[ImportType] = []
        counters = dict.fromkeys(ExternKind, 0)
        for imp in self.compiled.m.imports:
            idx = counters[imp.kind]
            counters[imp.kind] += 1
            out.append(ImportType(imp.module, imp.name, self._extern_type(imp.kind, idx)))
        return out

    @property
    def exports(self) -> list[ExportType]:
        """Returns the types of the exports that this module has."""
        self._check_open()
        return [
            ExportType(e.name, self._extern_type(e.kind, e.index)) for e in self.compiled.m.exports
        ]
