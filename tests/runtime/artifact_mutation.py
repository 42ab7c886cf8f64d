"""The metadata-mutation campaign: edit an artifact anywhere but its code, make its
checksum valid again, then load and run it in a worker process that must never die
of a signal.

A mutation is fully determined by ``(seed, index)``: the parent and the workers derive
the same one, so a worker killed by a signal is reported with the mutation it was
running. Mutations only touch bytes outside ``.text``: raw bit flips and byte writes,
small integers (or a value ± a little) written over ELF header, section header and
symbol fields, and structured edits of ``.wasmtime.info`` (one decoded field changed,
one sequence item dropped or duplicated, re-encoded, the file re-laid around the new
size). Each is then re-checksummed, so it reaches every check behind the checksum.

Run a worker by hand: ``python -m tests.runtime.artifact_mutation DIR SEED START END``.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import os
import random
import struct
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from cwasm.obj.constants import (
    ELF_CWASM_CHECKSUM,
    ELF_TEXT,
    ELF_WASMTIME_INFO,
)
from cwasm.obj.elf import ElfFile
from cwasm.obj.info import PackedTable, decode_info, encode_info
from cwasm.obj.integrity import CHECKSUM_SIZE, artifact_checksum

#: set (to anything) to skip the code-seal check in the workers, which shows what the
#: field-by-field checks catch on their own (a worker may then crash: that is the point)
NO_SEAL_ENV = "CWASM_MUTATION_NO_SEAL"

#: small modules that together use every kind of metadata the runtime reads
MODULES: dict[str, str] = {
    "funcs": """
(module $funcs
  (type $binop (func (param i32 i32) (result i32)))
  (table $t 4 funcref)
  (elem (i32.const 0) $add $sub $div)
  (func $add (type $binop) local.get 0 local.get 1 i32.add)
  (func $sub (type $binop) local.get 0 local.get 1 i32.sub)
  (func $div (export "div") (type $binop) local.get 0 local.get 1 i32.div_s)
  (func (export "dispatch") (param i32) (result i32)
    i32.const 7 i32.const 3 local.get 0 call_indirect (type $binop))
  (func (export "boom") unreachable)
  (func (export "wide") (param i64 f32 f64) (result i64 f64)
    local.get 0 i64.const 3 i64.mul local.get 2 local.get 1 f64.promote_f32 f64.add)
  (func (export "fac") (param i64) (result i64)
    local.get 0 i64.eqz
    if (result i64) i64.const 1
    else local.get 0 local.get 0 i64.const 1 i64.sub call 6 i64.mul end))
""",
    "memory": """
(module $memory
  (memory (export "mem") 1 2)
  (global $g (mut i32) (i32.const 0))
  (global (export "answer") i64 (i64.const 42))
  (global (export "pi") f64 (f64.const 3.25))
  (data (i32.const 16) "hello, world")
  (data (i32.const 4096) "\\01\\02\\03\\04")
  (data $passive "passive bytes")
  (func $start (global.set $g (i32.const 5)))
  (start $start)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "oob") (result i32) i32.const 131072 i32.load)
  (func (export "init") (result i32)
    (memory.init $passive (i32.const 100) (i32.const 0) (i32.const 7))
    (data.drop $passive)
    i32.const 100 i32.load)
  (func (export "grow") (result i32) i32.const 1 memory.grow)
  (func (export "g") (result i32) global.get $g))
""",
    "imports": """
(module $imports
  (import "env" "f" (func $f (param i32) (result i32)))
  (import "env" "mem" (memory 1))
  (import "env" "tab" (table 2 funcref))
  (import "env" "g" (global $ig i32))
  (table $own (export "own") 3 externref)
  (elem declare func $id)
  (elem $pe funcref (ref.func $id) (ref.null func))
  (global $r (mut funcref) (ref.func $id))
  (func $id (export "id") (param i32) (result i32) local.get 0)
  (func (export "call_f") (result i32) global.get $ig call $f)
  (func (export "refs") (result i32)
    (table.init 0 $pe (i32.const 0) (i32.const 0) (i32.const 2))
    (elem.drop $pe)
    (table.set $own (i32.const 1) (ref.null extern))
    (call_indirect (param i32) (result i32) (i32.const 9) (i32.const 0)))
  (func (export "ext") (param externref) (result externref) local.get 0)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store))
""",
}


class Kind(enum.Enum):
    BIT = "bit flip"
    BYTE = "byte write"
    FIELD = "field write"
    INFO = "info edit"


def metadata_regions(data: bytes) -> list[tuple[str, int, int]]:
    """``(name, start, end)`` of every byte range outside ``.text`` and the checksum."""
    elf = ElfFile.parse(data)
    protected = []
    for sec in elf.sections:
        if sec.name in (ELF_TEXT, ELF_CWASM_CHECKSUM):
            protected.append((sec.offset, sec.offset + sec.size))
    regions: list[tuple[str, int, int]] = [("ELF header", 0, 64)]
    shdr_end = elf.e_shoff + 64 * len(elf.sections)
    regions.append(("section headers", elf.e_shoff, shdr_end))
    for sec in elf.sections:
        if sec.size and sec.name not in (ELF_TEXT, ELF_CWASM_CHECKSUM):
            regions.append((sec.name, sec.offset, sec.offset + sec.size))
    for name, start, end in regions:
        for lo, hi in protected:
            assert end <= lo or start >= hi, f"{name} overlaps protected bytes"
    return regions


def reseal(data: bytearray) -> None:
    """Recompute ``.cwasm.checksum`` (if the edited file still lets us find it)."""
    try:
        sec = ElfFile.parse(bytes(data)).section(ELF_CWASM_CHECKSUM)
    except Exception:
        return
    if sec is None or sec.size != CHECKSUM_SIZE or sec.offset + CHECKSUM_SIZE > len(data):
        return
    data[sec.offset : sec.offset + CHECKSUM_SIZE] = artifact_checksum(data, sec.offset)


def _small_value(rng: random.Random, old: int) -> int:
    return rng.choice(
        [0, 1, 2, 3, 7, 8, 15, 16, 0x7F, 0x80, 0xFF, 0x1000, 0xFFFF, 0xFFFFFFFF]
        + [old + rng.randint(-16, 16), old * 2, old // 2, old + 0x1000, old - 0x1000]
    )


def _int_leaves(obj: object, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every int (enums included) and every sequence inside ``obj``, with its path."""
    out: list[tuple[tuple[Any, ...], Any]] = []
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return out
    if isinstance(obj, int):
        return [(path, obj)]
    if isinstance(obj, PackedTable):  # the per-function tables: edited as tuples
        obj = tuple(obj)
    if isinstance(obj, tuple):
        out.append((path, obj))
        for i, item in enumerate(obj):
            out.extend(_int_leaves(item, (*path, i)))
        return out
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            out.extend(_int_leaves(getattr(obj, f.name), (*path, f.name)))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, tuple | PackedTable):
        items = list(obj)
        items[head] = _replace(items[head], rest, value)
        return tuple(items)
    return dataclasses.replace(obj, **{head: _replace(getattr(obj, head), rest, value)})


def _edit_info(rng: random.Random, raw: bytes) -> tuple[bytes, str] | None:
    info = decode_info(raw)
    leaves = _int_leaves(info)
    path, old = rng.choice(leaves)
    if isinstance(old, tuple):
        if not old:
            return None
        i = rng.randrange(len(old))
        if rng.random() < 0.5:
            new: Any = old[:i] + old[i + 1 :]
            what = f"drop item {i}"
        else:
            new = old[: i + 1] + old[i:]
            what = f"duplicate item {i}"
    elif isinstance(old, enum.IntEnum):
        new = rng.choice(list(type(old)))
        what = f"{old!r} -> {new!r}"
    else:
        new = max(0, _small_value(rng, old))
        what = f"{old} -> {new}"
    try:
        encoded = encode_info(_replace(info, path, new))
    except Exception:
        return None
    if encoded == raw:
        return None
    return encoded, f"{'.'.join(map(str, path))}: {what}"


def _resize_section(data: bytes, name: str, contents: bytes) -> bytearray:
    """``data`` with section ``name`` holding ``contents``; later offsets shift by a
    multiple of 8 so every alignment is kept."""
    elf = ElfFile.parse(data)
    sec = elf.section(name)
    assert sec is not None
    shift = len(contents) - sec.size
    shift += -shift % 16
    end = sec.offset + sec.size
    out = bytearray(data[: sec.offset] + contents)
    out += bytes(end + shift - len(out))
    out += data[end:]
    e_shoff = elf.e_shoff + (shift if elf.e_shoff >= end else 0)
    struct.pack_into("<Q", out, 40, e_shoff)
    for s in elf.sections:
        hdr = e_shoff + 64 * s.index
        if s.index == sec.index:
            struct.pack_into("<Q", out, hdr + 32, len(contents))
        elif s.offset >= end and s.index:
            struct.pack_into("<Q", out, hdr + 24, s.offset + shift)
    return out


def make_mutation(base: bytes, seed: int, index: int) -> tuple[bytes, str]:
    """The ``index``-th mutated (and re-checksummed) copy of ``base`` and its description."""
    rng = random.Random(seed * 1_000_003 + index)
    regions = metadata_regions(base)
    while True:
        kind = rng.choices(list(Kind), weights=(3, 3, 3, 4))[0]
        if kind is Kind.INFO:
            sec = ElfFile.parse(base).section(ELF_WASMTIME_INFO)
            assert sec is not None
            edited = _edit_info(rng, base[sec.offset : sec.offset + sec.size])
            if edited is None:
                continue
            out = _resize_section(base, ELF_WASMTIME_INFO, edited[0])
            what = f"{kind.value}: {edited[1]}"
            break
        name, start, end = rng.choice(regions)
        out = bytearray(base)
        if kind is Kind.BIT:
            pos = rng.randrange(start, end)
            bit = rng.randrange(8)
            out[pos] ^= 1 << bit
            what = f"{kind.value}: {name} +{pos - start:#x} bit {bit}"
        elif kind is Kind.BYTE:
            pos = rng.randrange(start, end)
            out[pos] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
            what = f"{kind.value}: {name} +{pos - start:#x} = {out[pos]:#x}"
        else:
            width = rng.choice([2, 4, 8])
            if end - start < width:
                continue
            pos = rng.randrange(start, end - width + 1)
            if name in ("ELF header", "section headers", ".symtab"):
                pos -= (pos - start) % width
            fmt = {2: "<H", 4: "<I", 8: "<Q"}[width]
            old = struct.unpack_from(fmt, out, pos)[0]
            new = _small_value(rng, old) % (1 << (8 * width))
            struct.pack_into(fmt, out, pos, new)
            what = f"{kind.value}: {name} +{pos - start:#x} u{8 * width} {old:#x} -> {new:#x}"
        break
    if bytes(out) == base:
        return make_mutation(base, seed, index + 10_000_000)
    reseal(out)
    return bytes(out), what


# ---------------------------------------------------------------------------
# The worker


def _exercise(data: bytes, key: bytes | None) -> str:
    """Load, instantiate and call everything; the outcome as a short label."""
    import cwasm
    from cwasm.errors import CwasmError

    config = cwasm.Config()
    config.artifact_key = key
    engine = cwasm.Engine(config)
    try:
        module = cwasm.Module.deserialize(engine, data)
    except CwasmError as e:
        seal = " (code seal)" if "does not match the code" in str(e) else ""
        return f"refused at load: {type(e).__name__}{seal}"
    store = cwasm.Store(engine)
    try:
        imports = [_import_for(store, imp) for imp in module.imports]
        instance = cwasm.Instance(store, module, imports)
    except cwasm.Trap:
        return "trapped at instantiation"
    except CwasmError as e:
        return f"refused at instantiation: {type(e).__name__}"
    trapped = errors = 0
    for _name, ext in instance.exports(store).items():
        try:
            if isinstance(ext, cwasm.Func):
                args = [_zero(p) for p in ext.type(store).params]
                ext(store, *args)
            elif isinstance(ext, cwasm.Memory):
                ext.read(store, 0, min(64, ext.data_len(store)))
            elif isinstance(ext, cwasm.Global):
                ext.value(store)
            elif isinstance(ext, cwasm.Table):
                for i in range(ext.size(store)):
                    ext.get(store, i)
        except cwasm.Trap:
            trapped += 1
        except CwasmError:
            errors += 1
    if trapped:
        return "ran, some calls trapped"
    if errors:
        return "ran, some calls raised CwasmError"
    return "ran"


def _zero(ty: Any) -> Any:
    import cwasm

    if ty == cwasm.ValType.externref():
        return "host"
    if ty == cwasm.ValType.funcref():
        return None
    if ty in (cwasm.ValType.f32(), cwasm.ValType.f64()):
        return 0.0
    return 0


def _import_for(store: Any, imp: Any) -> Any:
    import cwasm

    ty = imp.type
    if isinstance(ty, cwasm.FuncType):
        n = len(ty.results)
        results = [_zero(r) for r in ty.results]
        return cwasm.Func(store, ty, lambda *a: results[0] if n == 1 else results or None)
    if isinstance(ty, cwasm.MemoryType):
        return cwasm.Memory(store, ty)
    if isinstance(ty, cwasm.TableType):
        return cwasm.Table(store, ty, None)
    return cwasm.Global(store, ty, _zero(ty.content))


def worker(directory: Path, seed: int, start: int, end: int, key: bytes | None) -> None:
    """Run mutations ``start..end`` and report ``S i`` / ``R i outcome`` lines on stdout."""
    if os.environ.get(NO_SEAL_ENV):
        import cwasm.obj.artifact

        cwasm.obj.artifact.check_code_seal = lambda elf, text: None  # type: ignore[assignment]
    bases = {name: (directory / f"{name}.cwasm").read_bytes() for name in MODULES}
    names = sorted(bases)
    out = sys.stdout
    for i in range(start, end):
        name = names[i % len(names)]
        data, _what = make_mutation(bases[name], seed, i)
        out.write(f"S {i}\n")
        out.flush()
        try:
            outcome = _exercise(data, key)
        except BaseException as e:  # noqa: BLE001 - reported to the parent as a bug
            tb = traceback.format_exc().replace("\n", " | ")
            outcome = f"BUG {type(e).__name__}: {e} :: {tb}"
        out.write(f"R {i} {outcome}\n")
        out.flush()


# ---------------------------------------------------------------------------
# The parent


@dataclasses.dataclass
class CampaignResult:
    """Outcome counts, and every mutation that killed its worker or raised a non-cwasm error."""

    outcomes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    failures: list[str] = dataclasses.field(default_factory=list)


def build_bases(directory: Path, key: bytes | None = None) -> None:
    """Compile ``MODULES`` into ``directory/<name>.cwasm`` (with ``key`` if given)."""
    import cwasm

    config = cwasm.Config()
    config.artifact_key = key
    engine = cwasm.Engine(config)
    for name, text in MODULES.items():
        (directory / f"{name}.cwasm").write_bytes(cwasm.Module(engine, text).serialize())


def describe(directory: Path, seed: int, index: int) -> str:
    names = sorted(MODULES)
    name = names[index % len(names)]
    _, what = make_mutation((directory / f"{name}.cwasm").read_bytes(), seed, index)
    return f"mutation {index} of {name}: {what}"


def _run_chunk(
    directory: Path, seed: int, start: int, end: int, key: bytes | None, result: CampaignResult
) -> None:
    """Run ``start..end`` in workers, restarting after a worker dies."""
    root = Path(__file__).resolve().parents[2]
    while start < end:
        cmd = [sys.executable, "-m", "tests.runtime.artifact_mutation", str(directory)]
        cmd += [str(seed), str(start), str(end)] + ([key.hex()] if key else [])
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        current: int | None = None
        for line in proc.stdout:
            tag, _, rest = line.rstrip("\n").partition(" ")
            index_text, _, outcome = rest.partition(" ")
            if tag == "S":
                current = int(index_text)
            elif tag == "R":
                current = None
                start = int(index_text) + 1
                if outcome.startswith("BUG"):
                    result.outcomes["BUG"] += 1
                    result.failures.append(
                        f"{describe(directory, seed, int(index_text))}: {outcome}"
                    )
                else:
                    result.outcomes[outcome] += 1
        code = proc.wait()
        if current is not None:
            how = f"signal {-code}" if code < 0 else f"exit status {code}"
            result.outcomes["worker died"] += 1
            result.failures.append(f"{describe(directory, seed, current)}: worker died ({how})")
            start = current + 1
        elif code != 0:
            raise RuntimeError(f"mutation worker failed with status {code} before starting")


def run_campaign(
    directory: Path, count: int, *, seed: int = 1, key: bytes | None = None, jobs: int = 2
) -> CampaignResult:
    """Run ``count`` mutations of the artifacts in ``directory`` over ``jobs`` workers."""
    bounds = [count * j // jobs for j in range(jobs + 1)]
    parts = [CampaignResult() for _ in range(jobs)]
    threads = [
        threading.Thread(
            target=_run_chunk, args=(directory, seed, bounds[j], bounds[j + 1], key, parts[j])
        )
        for j in range(jobs)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = CampaignResult()
    for part in parts:
        result.outcomes.update(part.outcomes)
        result.failures.extend(part.failures)
    return result


def main(argv: list[str]) -> None:
    directory, seed, start, end = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    key = bytes.fromhex(argv[4]) if len(argv) > 4 else None
    worker(directory, seed, start, end, key)


if __name__ == "__main__":
    main(sys.argv[1:])
