"""Instance: instantiation of a compiled module — the vmctx, its imports, and initialization.

Instantiation allocates the vmctx (laid out by ``VMOffsets``), checks and links the
imports, creates the defined memories, tables and globals in place, fills one
``VMFuncRef`` per function, evaluates the global initializers, applies the active
element and data segments (in that order, trapping at the first out-of-bounds one,
as the spec says) and runs the start function. It also implements the segment and
table operations the builtins forward to it.
"""

from __future__ import annotations

import array
import ctypes
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cwasm.abi import vmoffsets as vo
from cwasm.errors import CwasmError, LinkError
from cwasm.obj.info import SegmentedMemoryInitialization
from cwasm.runtime import interrupt
from cwasm.runtime.builtins import BUILTIN_ADDRESSES
from cwasm.runtime.func import Func
from cwasm.runtime.gc_const import allocator
from cwasm.runtime.gc_heap import GC_HEAP_OUT_OF_MEMORY
from cwasm.runtime.global_ import Global
from cwasm.runtime.host_defs import HostFuncDef, HostImports, host_context, linker_func
from cwasm.runtime.instance_plan import plan_for
from cwasm.runtime.memory import Memory
from cwasm.runtime.registry import INSTANCES
from cwasm.runtime.shared_memory import SharedMemory
from cwasm.runtime.table import Table
from cwasm.runtime.tag import Tag, TagType, ThrownException
from cwasm.runtime.trap import Trap, TrapCode
from cwasm.runtime.types import FuncType
from cwasm.wasm.constexpr import evaluate_const_expr
from cwasm.wasm.gc_types import ArrayType
from cwasm.wasm.types import ConstExpr, ExternKind, Import, SegmentMode

if TYPE_CHECKING:
    from cwasm.runtime.module import ArtifactModule, CompiledModule
    from cwasm.runtime.store import Store

Extern = Func | Table | Memory | SharedMemory | Global | Tag
_M32 = 0xFFFFFFFF
_M64 = 0xFFFF_FFFF_FFFF_FFFF


class InstanceExports(Mapping[str, Extern]):
    """The exports of an instance, by name (wasmtime-py's ``InstanceExports``): a
    ``Mapping`` from export names to externs, and ``by_index`` in export order."""

    def __init__(self, items: dict[str, Extern], order: list[Extern]) -> None:
        self._items = items
        self._order = order

    def __getitem__(self, name: str) -> Extern:
        """The export named ``name`` (``KeyError`` if there is none)."""
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"instance has no export named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def by_index(self) -> list[Extern]:
        """The exports in the order the module lists them."""
        return list(self._order)


def _as_bytes(data: bytes | memoryview) -> bytes:
    """``data`` as ``bytes`` for ``ctypes.memmove`` (a plan keeps views of large data)."""
    return data if type(data) is bytes else bytes(data)


def _where(imp: Import) -> str:
    """How link errors name an import."""
    return f"`{imp.module}::{imp.name}`"


def _vmctx_image(cm: CompiledModule) -> bytes:
    """The vmctx contents every instance of ``cm`` starts from: magic, builtins, engine type
    ids, the defined globals whose initializers need no instance (``InstancePlan``), and
    the defined functions' ``VMFuncRef``s without their (per-instance) vmctx."""
    o = cm.offsets
    m = cm.m
    words = _zero_words(o.size // 8)
    for k, bits in enumerate(plan_for(cm).global_bits):
        if bits is not None:  # as ``Global.write_raw`` stores them: little-endian, low first
            at = o.defined_global(k) // 8
            words[at] = bits & _M64
            words[at + 1] = bits >> 64
    words[vo.CTX_MAGIC // 8] = vo.VMCTX_MAGIC
    first = o.builtins // 8
    words[first : first + len(BUILTIN_ADDRESSES)] = array.array("Q", BUILTIN_ADDRESSES)
    if cm.type_ids:
        struct.pack_into(f"<{len(cm.type_ids)}I", words, o.type_id(0), *cm.type_ids)
    # each defined function's VMFuncRef: one strided write per field
    n_imp = m.num_imported_funcs
    n = len(cm.func_addrs)
    if n:
        ref = o.func_ref(n_imp) // 8
        stride = vo.FUNCREF_SIZE // 8
        end = ref + stride * n

        def column(field: int) -> slice:
            return slice(ref + field // 8, end + field // 8, stride)

        type_ids = cm.type_ids
        words[column(vo.FUNCREF_WASM_CALL)] = array.array("Q", cm.func_addrs)
        words[column(vo.FUNCREF_ARRAY_CALL)] = array.array("Q", cm.entry_addrs)
        words[column(vo.FUNCREF_TYPE_ID)] = array.array(
            "Q", [type_ids[t] for t in m.functions[n_imp:]]
        )
    return words.tobytes()


def _zero_words(n: int) -> array.array[int]:
    """``n`` zero u64 words (an ``array.array``, never resized, so its buffer never moves;
    no ctypes array type is made per length, which costs more than the whole copy)."""
    return array.array("Q", _ZERO_WORD) * n


_ZERO_WORD = (0,)


class Instance:
    """An instantiated module (wasmtime-py's ``Instance(store, module, imports)``)."""

    def __init__(self, store: Store, module: ArtifactModule, imports: Sequence[Any] = ()) -> None:
        """Creates a new instance by instantiating the ``module`` given with the
        ``imports`` into the ``store`` provided.

        The ``imports`` must be an iterable of external values: ``Func``, ``Table``,
        ``Memory``, ``Global`` or ``Tag``. Raises an error if instantiation fails (e.g. linking or
        trap) and otherwise initializes the new instance."""
        for ext in imports:
            if not isinstance(ext, (Func, Table, Memory, SharedMemory, Global, Tag)):
                raise TypeError("expected a Func, Global, Memory, SharedMemory, Table or Tag")
        self._instantiate(store, module, imports)

    @classmethod
    def _linked(
        cls,
        store: Store,
        module: ArtifactModule,
        imports: Sequence[Extern | HostFuncDef] | HostImports,
    ) -> Instance:
        """An instance of ``module`` in ``store`` with ``imports`` as a ``Linker`` resolved
        them: externs, and host functions it defines for every store (``HostFuncDef``),
        linked through the store's host contexts of them; or all of them such functions,
        planned (``HostImports``)."""
        self = cls.__new__(cls)
        self._instantiate(store, module, imports)
        return self

    def _instantiate(
        self,
        store: Store,
        module: ArtifactModule,
        imports: Sequence[Extern | HostFuncDef] | HostImports,
    ) -> None:
        cm = module.compiled
        store._check_open()
        module._check_open()
        store.check_owner()
        if not cm.code.base:
            raise CwasmError(
                f"module was compiled for {module.engine.target}, which cannot run here"
            )
        if module.engine is not store.engine:
            raise CwasmError("module and store belong to different engines")
        store.modules.register(cm)  # before any of its code can run
        self.store = store
        self.module = module
        self.compiled: CompiledModule = cm
        o = cm.offsets
        m = cm.m
        n_words = o.size // 8
        image = cm.vmctx_image
        if image is None:
            image = cm.vmctx_image = _vmctx_image(cm)
        # the image as the new vmctx's words in one copy, when the allocation is 16-byte
        # aligned (as malloc's and pymalloc's are); else copied into an aligned place
        vm = self._vm = array.array("Q", image)
        address = vm.buffer_info()[0]
        #: the vmctx's words (a view of ``_vm``)
        words = memoryview(vm)
        if address & 15:
            vm = self._vm = _zero_words(n_words + 2)
            start = vm.buffer_info()[0]
            address = (start + 15) & ~15
            ctypes.memmove(address, image, len(image))
            skip = (address - start) // 8
            words = memoryview(vm)[skip : skip + n_words]
        self.vmctx = address
        self._words = words
        words[vo.CTX_STORE // 8] = store.ctx_address
        if cm.gc_collector is not None:  # before anything allocates (constant expressions)
            store.gc_heap.collector.use(cm.gc_collector, cm)

        self.funcs: list[Func | None] = [None] * len(m.functions)
        #: the imported functions linked as a linker's definitions, by index (their
        #: ``Func`` made when asked for: ``func``)
        self._host_defs: dict[int, HostFuncDef] | None = None
        self.tables: list[Table] = []
        self.memories: list[Memory | SharedMemory] = []
        self.globals: list[Global] = []
        self.tags: list[Tag] = []
        if type(imports) is HostImports:
            self._link_host_imports(imports)
        else:
            self._link(imports)  # type: ignore[arg-type]
        store.counts.bump(store.limits, m.num_defined_memories, m.num_defined_tables)
        interrupt.arm()
        self._define()
        INSTANCES.register(self.vmctx, self.vmctx + o.size, self)
        store.keep(self)
        externs = store.refs.externs
        for table in self.tables[m.num_imported_tables :]:
            externs.add_table(table)
        for glob in self.globals[m.num_imported_globals :]:
            externs.add_global(glob)
        self._dropped_data: set[int] = set()
        self._elements: dict[int, list[int] | None] = {}
        if m.sub_types:  # only then are evaluated segments kept (``_element_values``)
            store.gc_heap.add_root_source(self._element_words)
        self._passive_data = plan_for(cm).passive_data  # read-only, shared
        self._exports: InstanceExports | None = None
        self._initialize()

    # --- linking ---

    def _link(self, imports: Sequence[Extern | HostFuncDef]) -> None:
        cm = self.compiled
        m = cm.m
        o = cm.offsets
        if len(imports) != len(m.imports):
            raise LinkError(f"expected {len(m.imports)} imports, found {len(imports)}")
        words = self._words
        store = self.store
        type_ids = cm.type_ids  # equal ids for equal types: the engine interns them
        nf = nt = nm = ng = nx = 0
        functions = m.functions
        contexts = store.host_contexts
        for imp, ext in zip(m.imports, imports, strict=True):
            if type(ext) is HostFuncDef:  # a linker's: only a function of its engine
                ti = functions[nf]
                tid = ext.type_id
                if tid != type_ids[ti] and not store.engine.types.is_subtype(tid, type_ids[ti]):
                    raise LinkError(
                        f"incompatible import type for {_where(imp)}: expected func {m.types[ti]}"
                    )
                self._link_host_def(nf, ext, contexts.get(ext) or host_context(store, ext))
                nf += 1
                continue
            if getattr(ext, "store", store) is not store:
                raise LinkError(f"import {_where(imp)} belongs to another store")
            if imp.kind == ExternKind.FUNC:
                ti = m.functions[nf]
                if not isinstance(ext, Func) or (
                    ext.type_id != type_ids[ti]  # else a subtype (GC's declared ones)
                    and not store.engine.types.is_subtype(ext.type_id, type_ids[ti])
                ):
                    raise LinkError(
                        f"incompatible import type for {_where(imp)}: expected func {m.types[ti]}"
                    )
                self._link_func(nf, ext)
                nf += 1
            elif imp.kind == ExternKind.TABLE:
                if not isinstance(ext, Table) or not ext.matches(cm.table_types[nt]):
                    raise LinkError(f"incompatible import type for {_where(imp)}: expected a table")
                words[o.imported_table(nt) // 8] = ext.def_addr
                self.tables.append(ext)
                nt += 1
            elif imp.kind == ExternKind.MEMORY:
                if not isinstance(ext, (Memory, SharedMemory)) or not ext.matches(m.memories[nm]):
                    raise LinkError(
                        f"incompatible import type for {_where(imp)}: expected a memory"
                    )
                words[o.imported_memory(nm) // 8] = ext.def_addr
                self.memories.append(ext)
                nm += 1
            elif imp.kind == ExternKind.TAG:
                want_id = cm.type_ids[m.tags[nx]]
                if not isinstance(ext, Tag) or ext.type_id != want_id:
                    raise LinkError(f"incompatible import type for {_where(imp)}: expected a tag")
                words[o.tag(nx) // 8] = ext.address
                self.tags.append(ext)
                nx += 1
            else:
                if not isinstance(ext, Global) or not ext.matches(
                    cm.global_types[ng], store.engine.types.canon
                ):
                    raise LinkError(
                        f"incompatible import type for {_where(imp)}: expected a global"
                    )
                words[o.imported_global(ng) // 8] = ext.addr
                self.globals.append(ext)
                ng += 1

    def _link_func(self, index: int, func: Func) -> None:
        cm = self.compiled
        if func.instance is None:  # a host function: enter it through our trampoline
            tramp = cm.wasm_to_array.get(func.type_id)
            if tramp is None:
                raise CwasmError(f"module has no trampoline for imported type {func.wasm_type}")
            fields = (tramp, func.hostctx_address, 0, func.type_id)
        else:
            fields = func.vmfuncref()
        # the VMFuncRef's words in order: wasm_call, vmctx, array_call, type_id
        ref = cm.offsets.func_ref(index) // 8
        self._words[ref : ref + vo.FUNCREF_SIZE // 8] = array.array("Q", fields)
        self.funcs[index] = func

    def _link_host_imports(self, plan: HostImports) -> None:
        """Link imports that are all a linker's host functions, as ``plan`` says: the
        ``VMFuncRef`` of each, one column at a time."""
        n = len(plan.defs)
        stride = vo.FUNCREF_SIZE // 8
        first = self.compiled.offsets.func_refs // 8
        end = first + stride * n
        words = self._words
        words[first + vo.FUNCREF_WASM_CALL // 8 : end : stride] = plan.wasm_calls
        words[first + vo.FUNCREF_VMCTX // 8 : end : stride] = plan.contexts(self.store)
        words[first + vo.FUNCREF_TYPE_ID // 8 : end : stride] = plan.type_ids
        self._host_defs = plan.by_index  # shared, never changed

    def _link_host_def(self, index: int, d: HostFuncDef, hostctx: int) -> None:
        """Link imported function ``index`` to the linker's definition ``d``, entered
        through the store's host context of it at ``hostctx``."""
        cm = self.compiled
        tramp = cm.wasm_to_array.get(d.type_id)
        if tramp is None:
            raise CwasmError(
                f"module has no trampoline for imported type {d.template.shared['wasm_type']}"
            )
        ref = cm.offsets.func_ref(index) // 8
        words = self._words
        # its VMFuncRef (array_call stays 0, as the vmctx image has it)
        words[ref + vo.FUNCREF_WASM_CALL // 8] = tramp
        words[ref + vo.FUNCREF_VMCTX // 8] = hostctx
        words[ref + vo.FUNCREF_TYPE_ID // 8] = d.type_id
        host_defs = self._host_defs
        if host_defs is None:
            host_defs = self._host_defs = {}
        host_defs[index] = d

    def _define(self) -> None:
        cm = self.compiled
        m = cm.m
        o = cm.offsets
        store = self.store
        words = self._words
        for k, tt in enumerate(cm.table_types[m.num_imported_tables :]):
            self.tables.append(Table._from_raw(store, tt, self.vmctx + o.defined_table(k)))
        for k, mt in enumerate(m.memories[m.num_imported_memories :]):
            def_addr = self.vmctx + o.defined_memory(k)
            if mt.shared:  # other stores may import it: it keeps this vmctx alive
                shared = SharedMemory._from_raw(store.engine, mt, def_addr, self, store.limits)
                self.memories.append(shared)
            else:
                self.memories.append(Memory._from_raw(store, mt, def_addr))
        for k, gt in enumerate(cm.global_types[m.num_imported_globals :]):
            self.globals.append(Global._from_raw(store, gt, self.vmctx + o.defined_global(k)))
        for k, ti in enumerate(m.tags[m.num_imported_tags :]):
            tag = Tag(store, TagType(FuncType.from_wasm(m.sig(ti))))
            tag.type_id = cm.type_ids[ti]
            words[o.tag(m.num_imported_tags + k) // 8] = tag.address
            self.tags.append(tag)
        # the rest of each defined function's VMFuncRef came with the module's vmctx image
        n_defined = len(cm.func_addrs)
        if n_defined:
            first = (o.func_ref(m.num_imported_funcs) + vo.FUNCREF_VMCTX) // 8
            stride = vo.FUNCREF_SIZE // 8
            words[first : first + stride * n_defined : stride] = (
                array.array("Q", (self.vmctx,)) * n_defined
            )

    # --- initialization ---

    def eval_const(self, expr: ConstExpr | None) -> int:
        """The raw bits of a constant expression (references as addresses / handles)."""
        if expr is None or not expr.ops:
            raise CwasmError("unsupported constant expression")
        cm = self.compiled
        return evaluate_const_expr(
            expr,
            lambda g: self.globals[g].read_raw(),
            self.funcref_address,
            allocator(self.store.gc_heap, cm.m.types, cm.type_ids) if cm.m.sub_types else None,
        )

    def _initialize(self) -> None:
        cm = self.compiled
        m = cm.m
        plan = plan_for(cm)
        globals_ = self.globals
        n_imported = m.num_imported_globals
        for k in plan.evaluated_globals:  # the others came with the vmctx image
            globals_[n_imported + k].write_raw(self.eval_const(m.global_inits[k]))
        for k, table_init in enumerate(m.table_inits):  # typed tables' initializers
            if table_init is not None:
                table = self.tables[m.num_imported_tables + k]
                bits = self.eval_const(table_init)
                for j in range(table.size()):
                    table.set_raw(j, bits)
        for i, seg in enumerate(m.elements):
            if seg.mode != SegmentMode.ACTIVE:
                if seg.mode == SegmentMode.DECLARATIVE:
                    self._elements[i] = None
                continue
            values = self._element_values(i)
            table = self.tables[seg.table_index]
            offset = plan.element_offsets[i]
            if offset is None:
                offset = self.eval_const(seg.offset)
            offset &= _M64 if table.wasm_type.is_64 else _M32
            if offset + len(values) > table.size():
                raise Trap(TrapCode.TABLE_OUT_OF_BOUNDS)
            table.set_raw_range(offset, values)
            self._elements[i] = None
        for mem_index, image_offset, image in plan.images:
            mem = self.memories[mem_index]
            if image_offset + len(image) > mem.data_len():
                raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS)
            ctypes.memmove(mem.base + image_offset, _as_bytes(image), len(image))
        meminit = cm.info.memory_initialization
        if isinstance(meminit, SegmentedMemoryInitialization):
            for s, (seg_bits, data) in zip(meminit.segments, plan.segments, strict=True):
                mem = self.memories[s.memory_index]
                offset = self.eval_const(s.offset) if seg_bits is None else seg_bits
                offset &= _M64 if mem.wasm_type.is_64 else _M32
                if offset + len(data) > mem.data_len():
                    raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS)
                ctypes.memmove(mem.base + offset, _as_bytes(data), len(data))
        # active data segments count as dropped once applied: memory_init finds no
        # passive range for them (so nothing here grows with the recorded segment count)
        if m.start is not None:
            start = self.func(m.start)
            try:
                if start.instance is None:  # an imported host function: this instance calls it
                    start._call_host_from_python((), self.vmctx)
                else:
                    start(self.store)
            except ThrownException as e:
                # an exception leaving the start function fails the instantiation with an
                # error, not a trap (wasmtime-py 51; a call raises the ThrownException)
                raise CwasmError(e.message) from e

    def _element_values(self, index: int) -> list[int]:
        """The words of element segment ``index``, evaluated once (GC: a segment's
        ``struct.new`` makes one object however often the segment is used)."""
        cached = self._elements.get(index)
        if cached is not None:
            return cached
        funcrefs = plan_for(self.compiled).element_funcrefs[index]
        if funcrefs is not None:  # function indices: their VMFuncRefs in this vmctx
            vmctx = self.vmctx
            return [vmctx + offset for offset in funcrefs]
        seg = self.compiled.m.elements[index]
        assert seg.expressions is not None
        values = [self.eval_const(e) for e in seg.expressions]
        if self.compiled.m.sub_types and index not in self._elements:
            self._elements[index] = values
        return values

    # --- segment and table operations (the builtins) ---

    def table_init(self, table: int, elem: int, dst: int, src: int, n: int) -> int:
        """``table.init``: 0, or 1 if out of bounds (the builtin then traps)."""
        if elem in self._elements and self._elements[elem] is None:
            values: list[int] = []
        else:
            values = self._element_values(elem)
        t = self.tables[table]
        if src + n > len(values) or dst + n > t.size():
            return 1
        for j in range(n):
            t.set_raw(dst + j, values[src + j])
        return 0

    def elem_drop(self, elem: int) -> None:
        """``elem.drop``."""
        self._elements[elem] = None

    def table_copy(self, dst_t: int, src_t: int, dst: int, src: int, n: int) -> int:
        """``table.copy``: 0, or 1 if out of bounds."""
        d = self.tables[dst_t]
        s = self.tables[src_t]
        if src + n > s.size() or dst + n > d.size():
            return 1
        values = [s.raw(src + j) for j in range(n)]
        for j, v in enumerate(values):
            d.set_raw(dst + j, v)
        return 0

    def table_fill(self, table: int, dst: int, value: int, n: int) -> int:
        """``table.fill``: 0, or 1 if out of bounds."""
        t = self.tables[table]
        if dst + n > t.size():
            return 1
        for j in range(n):
            t.set_raw(dst + j, value)
        return 0

    def memory_init(self, memory: int, data: int, dst: int, src: int, n: int) -> int:
        """``memory.init``: 0, or 1 if out of bounds."""
        mem = self.memories[memory]
        if data in self._dropped_data:
            seg = memoryview(b"")
        else:
            rng = self._passive_data.get(data)
            seg = self.compiled.artifact.data(rng) if rng is not None else memoryview(b"")
        if src + n > len(seg) or dst + n > mem.data_len():
            return 1
        if n:
            ctypes.memmove(mem.base + dst, bytes(seg[src : src + n]), n)
        return 0

    def array_init_data(self, data: int, dst: int, src: int, size: int) -> int:
        """``array.new_data`` / ``array.init_data``: copy ``size`` bytes of segment
        ``data`` from ``src`` to address ``dst``; 0, or 1 if the segment is too short."""
        if data in self._dropped_data:
            seg = memoryview(b"")
        else:
            rng = self._passive_data.get(data)
            seg = self.compiled.artifact.data(rng) if rng is not None else memoryview(b"")
        if src + size > len(seg):
            return 1
        if size:
            ctypes.memmove(dst, bytes(seg[src : src + size]), size)
        return 0

    def array_init_elem(self, elem: int, dst: int, src: int, n: int) -> int:
        """``array.new_elem`` / ``array.init_elem``: copy ``n`` references of segment
        ``elem`` from ``src`` to the words at ``dst``; 0, or 1 if the segment is too short."""
        if elem in self._elements and self._elements[elem] is None:
            values: list[int] = []
        else:
            values = self._element_values(elem)
        if src + n > len(values):
            return 1
        if n:
            block = (ctypes.c_uint64 * n)(*values[src : src + n])
            ctypes.memmove(dst, block, 8 * n)
        return 0

    def data_drop(self, data: int) -> None:
        """``data.drop``."""
        self._dropped_data.add(data)

    def _element_words(self) -> Iterator[int]:
        """The words of the evaluated element segments (GC roots)."""
        for words in self._elements.values():
            if words:
                yield from words

    def gc_alloc(self, type_index: int, size: int) -> int:
        """``GC_ALLOC``: a new object of ``size`` bytes of the module's type
        ``type_index`` (its address). When the heap cannot hold it even after a
        collection, the call fails with Wasmtime's ``GC heap out of memory`` error."""
        cm = self.compiled
        is_array = type(cm.m.types[type_index]) is ArrayType
        at = self.store.gc_heap.alloc(cm.type_ids[type_index], size, is_array)
        if not at:
            raise CwasmError(GC_HEAP_OUT_OF_MEMORY)
        return at

    def exn_new(self, tag: int) -> int:
        """``EXN_NEW``: a new exception of tag ``tag`` (its address)."""
        return self.store.exceptions.new(self.tags[tag])

    # --- access ---

    def func(self, index: int) -> Func:
        """The ``Func`` of function ``index`` (defined or imported) in this instance."""
        f = self.funcs[index]
        if f is None:
            d = self._host_defs.get(index) if self._host_defs is not None else None
            if d is not None:  # a linker's host function, linked without its Func
                f = linker_func(self.store, d)
            else:
                f = Func._from_raw(self.store, self, index)
            self.funcs[index] = f
        return f

    def funcref_address(self, index: int) -> int:
        """The address of function ``index``'s ``VMFuncRef`` in this instance's vmctx: the
        bits of a funcref to it (``cwasm.runtime.refs``)."""
        return self.vmctx + self.compiled.offsets.func_ref(index)

    def func_at_funcref(self, address: int) -> Func:
        """The function whose ``VMFuncRef`` in this vmctx is at ``address`` (the inverse of
        ``funcref_address``)."""
        index = (address - self.vmctx - self.compiled.offsets.func_refs) // vo.FUNCREF_SIZE
        return self.func(index)

    def exports(self, store: Store | None = None) -> InstanceExports:
        """Returns the exports of this instance, by name (and ``by_index``)."""
        if self._exports is None:
            items: dict[str, Extern] = {}
            order: list[Extern] = []
            for e in self.compiled.m.exports:
                ext: Extern
                if e.kind == ExternKind.FUNC:
                    ext = self.func(e.index)
                elif e.kind == ExternKind.TABLE:
                    ext = self.tables[e.index]
                elif e.kind == ExternKind.MEMORY:
                    ext = self.memories[e.index]
                elif e.kind == ExternKind.TAG:
                    ext = self.tags[e.index]
                else:
                    ext = self.globals[e.index]
                items[e.name] = ext
                order.append(ext)
            self._exports = InstanceExports(items, order)
        return self._exports
