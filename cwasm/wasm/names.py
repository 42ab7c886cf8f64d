"""Reading the ``name`` custom section into a NameSection, tolerating malformed contents.

Custom sections are never validated, so a broken name section must not reject the
module. Like Wasmtime, names are applied as they are read and reading stops at the
first malformed entry, keeping what was read before it; names of functions beyond
the function index space known so far are ignored.
"""

from __future__ import annotations

from cwasm.errors import MalformedError
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import NameSection

MODULE_NAME = 0
FUNCTION_NAMES = 1
LOCAL_NAMES = 2

# Wasmtime's parser rejects longer strings anywhere in a module.
MAX_STRING_SIZE = 100_000


def _string(r: BinaryReader) -> str:
    n = r.u32()
    if n > MAX_STRING_SIZE:
        raise MalformedError("string size out of bounds", r.pos)
    start = r.pos
    raw = r.bytes(n)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError("malformed UTF-8 encoding", start) from None


def _function_names(r: BinaryReader, names: NameSection, num_funcs: int) -> None:
    for _ in range(r.u32()):
        index = r.u32()
        name = _string(r)
        if index < num_funcs:
            names.functions[index] = name
    if not r.eof():
        raise MalformedError("section size mismatch", r.pos)


def _local_names(r: BinaryReader, names: NameSection, num_funcs: int) -> None:
    for _ in range(r.u32()):
        func = r.u32()
        for _ in range(r.u32()):
            index = r.u32()
            name = _string(r)
            if func < num_funcs:
                names.locals.setdefault(func, {})[index] = name
    if not r.eof():
        raise MalformedError("section size mismatch", r.pos)


def read_name_section(
    wasm: bytes, start: int, end: int, names: NameSection, num_funcs: int
) -> None:
    """Apply the name section payload ``wasm[start:end]`` to ``names``."""
    r = BinaryReader(wasm, start, end)
    try:
        while not r.eof():
            sub_id = r.u8()
            if sub_id & 0x80:
                raise MalformedError("invalid subsection id", r.pos - 1)
            size = r.u32()
            if size > r.end - r.pos:
                raise MalformedError("unexpected end", r.pos)
            sub = BinaryReader(wasm, r.pos, r.pos + size)
            r.pos += size
            if sub_id == MODULE_NAME:
                name = _string(sub)
                if not sub.eof():
                    raise MalformedError("trailing data at the end of a name", sub.pos)
                names.module = name
            elif sub_id == FUNCTION_NAMES:
                _function_names(sub, names, num_funcs)
            elif sub_id == LOCAL_NAMES:
                _local_names(sub, names, num_funcs)
    except MalformedError:
        return
