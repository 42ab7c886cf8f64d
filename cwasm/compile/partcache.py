"""Incremental compilation: the object code of a module's parts, kept and found again by content.

A module of more than one part (``compiler.partition``) is compiled part by part; with a
``PartCache`` each part's object is stored under a key that covers everything its code
depends on, so recompiling a module in which a few functions changed compiles only the
parts holding them (as Wasmtime's incremental cache does per function). The key of a
part of functions (``function_part_key``) is a SHA-256 over

* the cache's ``salt``: the compiler's fingerprint and every code-changing setting (the
  engine metadata), given by whoever made the cache (``cwasm.cache``);
* the compile options (target, optimisation level, bounds checks);
* the module facts a function's IR reads: every section of the module but the code
  section and the custom sections (types, imports, function declarations, tables,
  memories, globals, exports, elements, data), which fixes the vmctx layout too;
* the index, type and body bytes of each function of the part. The IR's line numbers
  count from the body's start, so a body does not depend on where it sits in the file.

The final part (trampolines and trap routines) is keyed by its IR text: it is cheap to
write, and that text is all LLVM sees.

An entry is ``<directory>/<key[:2]>/<key>.part``: a magic, a keyed BLAKE2b MAC (over the
key and the payload, so an entry is valid under its own name only), then the payload
(the trap codes the part's code calls, then the object). Entries are written atomically;
one that is missing, short, or whose MAC does not verify is a miss (and is overwritten).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cwasm.obj.builder import write_atomically

_MAGIC = b"cwasm-part-1\0\0\0\0"
_MAC_SIZE = 32
_MAC_PERSON = b"cwasm-part"
_COUNT = struct.Struct("<I")
#: the wasm sections a function's code never reads: custom (0) and code (10)
_NOT_MODULE_FACTS = (0, 10)


def _leb_u32(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def module_facts_digest(wasm: bytes) -> bytes:
    """SHA-256 over every section of the (validated) binary ``wasm`` but its code and
    custom sections: what a function's translation may read besides its own body."""
    h = hashlib.sha256(b"cwasm-module-facts-1")
    view = memoryview(wasm)
    pos = 8
    while pos < len(wasm):
        section_id = wasm[pos]
        size, start = _leb_u32(wasm, pos + 1)
        if section_id not in _NOT_MODULE_FACTS:
            h.update(struct.pack("<BQ", section_id, size))
            h.update(view[start : start + size])
        pos = start + size
    return h.digest()


@dataclass(slots=True)
class PartCache:
    """A directory of compiled parts, authenticated with ``mac_key``.

    ``salt`` identifies the compiler and the engine's code-changing settings; ``hits``
    and ``misses`` count the parts found and compiled through this object.
    """

    directory: Path
    mac_key: bytes
    salt: bytes
    hits: int = 0
    misses: int = 0
    #: keys looked up by this object, in order (for tests and benchmarks)
    looked_up: list[str] = field(default_factory=list)

    def function_part_key(
        self,
        options: str,
        facts: bytes,
        functions: Iterable[tuple[int, int, bytes | memoryview]],
    ) -> str:
        """The key of a part of ``functions``: ``(function index, type index, body)``."""
        h = hashlib.sha256(b"cwasm-function-part-1")
        h.update(self.salt)
        h.update(options.encode() + b"\0")
        h.update(facts)
        for func_index, type_index, body in functions:
            h.update(struct.pack("<IIQ", func_index, type_index, len(body)))
            h.update(body)
        return h.hexdigest()

    def ir_part_key(self, options: str, ir_text: str) -> str:
        """The key of a part given by its IR text."""
        h = hashlib.sha256(b"cwasm-ir-part-1")
        h.update(self.salt)
        h.update(options.encode() + b"\0")
        h.update(ir_text.encode())
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.part"

    def _mac(self, key: str, payload: bytes | memoryview) -> bytes:
        h = hashlib.blake2b(digest_size=_MAC_SIZE, key=self.mac_key, person=_MAC_PERSON)
        h.update(key.encode() + b"\0")
        h.update(payload)
        return h.digest()

    def load(self, key: str) -> tuple[bytes, frozenset[int]] | None:
        """(object, trap codes) of the part ``key``, or ``None`` (counted as a miss)."""
        self.looked_up.append(key)
        found = self._read(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def _read(self, key: str) -> tuple[bytes, frozenset[int]] | None:
        try:
            data = self._path(key).read_bytes()
        except OSError:
            return None
        head = len(_MAGIC) + _MAC_SIZE
        if len(data) < head + _COUNT.size or not data.startswith(_MAGIC):
            return None
        payload = memoryview(data)[head:]
        if not hmac.compare_digest(data[len(_MAGIC) : head], self._mac(key, payload)):
            return None
        (count,) = _COUNT.unpack_from(payload)
        codes_end = _COUNT.size + 4 * count
        if len(payload) < codes_end:
            return None
        codes = frozenset(struct.unpack_from(f"<{count}I", payload, _COUNT.size))
        return bytes(payload[codes_end:]), codes

    def store(self, key: str, obj: bytes, trap_codes: Iterable[int]) -> None:
        """Keep the object of part ``key`` (silently nothing if the directory is not writable)."""
        codes = sorted(trap_codes)
        payload = _COUNT.pack(len(codes)) + struct.pack(f"<{len(codes)}I", *codes) + obj
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, _MAGIC + self._mac(key, payload) + payload)
        except OSError:
            pass
