"""Conversions between Python values and the ``u64x2`` value slots of the array-call ABI.

Every wasm value crosses the Python boundary through a 16-byte slot. A ``SlotCodec``
is built once per signature (and per direction) and packs or unpacks a whole
argument or result list with one ``struct`` call. Two flavours exist:

* the API flavour (wasmtime-py's conventions): i32/i64 as signed Python ints,
  f32/f64 as floats, references as objects (``None`` = null);
* the raw flavour (for the spec harness): integers as unsigned bit patterns,
  floats as their IEEE bits (NaN payloads survive), v128 as a 128-bit int.

References are converted by the store (``Store.refs``, see ``cwasm.runtime.refs``) in
both flavours.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cwasm.errors import CwasmError, error_chain
from cwasm.wasm.types import ANYREF, EXNREF, ValType, ValueType

if TYPE_CHECKING:
    from cwasm.runtime.store import Store

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

_API_FMT: dict[ValueType, str] = {
    ValType.I32: "i12x",
    ValType.I64: "q8x",
    ValType.F32: "f12x",
    ValType.F64: "d8x",
    ValType.V128: "QQ",
    ValType.FUNCREF: "Q8x",
    ValType.EXTERNREF: "Q8x",
    EXNREF: "Q8x",
    ANYREF: "Q8x",
}
_RAW_FMT: dict[ValueType, str] = {
    ValType.I32: "I12x",
    ValType.I64: "Q8x",
    ValType.F32: "I12x",
    ValType.F64: "Q8x",
    ValType.V128: "QQ",
    ValType.FUNCREF: "Q8x",
    ValType.EXTERNREF: "Q8x",
    EXNREF: "Q8x",
    ANYREF: "Q8x",
}
# packing i32/i64 always goes through the unsigned format after masking
_PACK_FMT = dict(_RAW_FMT)
_PACK_FMT[ValType.F32] = "f12x"
_PACK_FMT[ValType.F64] = "d8x"

#: Wasmtime's context of a mistyped argument of a call from the host
ARGUMENT_MISMATCH = "argument type mismatch"
#: Wasmtime's context of a mistyped result of a host function
RESULT_MISMATCH = "function attempted to return an incompatible value"


class RefTypeMismatch(CwasmError):
    """A reference value that is not of the typed reference type it is given as
    (Wasmtime's ``type mismatch: expected ..., found ...``); where it was given adds
    Wasmtime's context (``with_context``)."""

    def with_context(self, context: str) -> CwasmError:
        """The error as Wasmtime reports it where the value was given (``context``)."""
        return CwasmError(error_chain([context, str(self)]))


def _fmt(table: dict[ValueType, str], t: ValueType) -> str:
    """The struct format of type ``t``'s slot (a typed reference's is its top type's)."""
    return table[t.top] if t.is_ref else table[t]


Encoder = Callable[["Store", Any], Any]
Decoder = Callable[["Store", int], Any]


def _unwrap(v: Any, kind: ValType | None) -> Any:
    """``v`` itself, or the value of a ``Val`` box, which must be of type ``kind`` (any type
    when ``kind`` is None)."""
    from cwasm.runtime.types import Val

    if not isinstance(v, Val):
        return v
    if kind is not None and v.kind != kind:
        raise TypeError("wrong type of `Val` provided")
    return v.value


def _enc_i32(store: Store, v: Any) -> int:
    if type(v) is not int:
        v = _check_int(v, ValType.I32)
    return v & M32


def _enc_i64(store: Store, v: Any) -> int:
    if type(v) is not int:
        v = _check_int(v, ValType.I64)
    return v & M64


def _check_int(v: Any, kind: ValType | None) -> int:
    v = _unwrap(v, kind)
    if isinstance(v, bool) or not isinstance(v, int):
        what = kind.text if kind is not None else "raw bits"
        raise TypeError(f"expected an int for a value of type {what}, got {type(v).__name__}")
    return v


def _float_encoder(kind: ValType) -> Encoder:
    def enc(store: Store, v: Any) -> float:
        if type(v) is not float:
            v = _unwrap(v, kind)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(
                    f"expected a float for a value of type {kind.text}, got {type(v).__name__}"
                )
        return float(v)

    return enc


def _enc_funcref(store: Store, v: Any) -> int:
    return store.refs.funcref_to_bits(v)


def _enc_externref(store: Store, v: Any) -> int:
    return store.refs.externs.to_bits(v)


def _typed_ref_encoder(kind: ValueType) -> Encoder:
    """The encoder of a typed reference type (non-nullable, concrete or bottom): the
    store checks the value against ``kind``."""

    def enc(store: Store, v: Any) -> int:
        return store.refs.typed_to_bits(kind, v)

    return enc


def _dec_funcref(store: Store, bits: int) -> Any:
    return store.refs.funcref_from_bits(bits)


def _dec_externref(store: Store, bits: int) -> Any:
    return store.refs.externs.from_bits(bits)


def _enc_exnref(store: Store, v: Any) -> int:
    return store.exceptions.to_bits(v)


def _dec_exnref(store: Store, bits: int) -> Any:
    return store.exceptions.from_bits(bits)


def _enc_anyref(store: Store, v: Any) -> int:
    return store.refs.anyref_to_bits(v)


def _dec_anyref(store: Store, bits: int) -> Any:
    return store.refs.anyref_from_bits(bits)


_API_ENC: dict[ValueType, Encoder] = {
    ValType.I32: _enc_i32,
    ValType.I64: _enc_i64,
    ValType.F32: _float_encoder(ValType.F32),
    ValType.F64: _float_encoder(ValType.F64),
    ValType.FUNCREF: _enc_funcref,
    ValType.EXTERNREF: _enc_externref,
    EXNREF: _enc_exnref,
    ANYREF: _enc_anyref,
}


def _raw_bits(mask: int) -> Encoder:
    def enc(store: Store, v: Any) -> int:
        return _check_int(v, None) & mask

    return enc


_RAW_ENC: dict[ValueType, Encoder] = {
    ValType.I32: _raw_bits(M32),
    ValType.I64: _raw_bits(M64),
    ValType.F32: _raw_bits(M32),
    ValType.F64: _raw_bits(M64),
    ValType.FUNCREF: _enc_funcref,
    ValType.EXTERNREF: _enc_externref,
    EXNREF: _enc_exnref,
    ANYREF: _enc_anyref,
}


class SlotCodec:
    """Packs values into (``encode``) or reads them from (``decode``) consecutive slots."""

    __slots__ = ("types", "struct", "size", "simple", "_enc", "_dec", "_v128", "_raw", "encode")

    #: ``encode(store, buf, values)``: ``encode_into`` compiled for these types
    encode: Callable[[Store, Any, Sequence[Any]], None]

    def __init__(
        self,
        types: Sequence[ValueType],
        *,
        raw: bool,
        decode: bool,
        tops: Sequence[ValueType] | None = None,
    ) -> None:
        """A codec of ``types`` (``raw``: the spec harness's flavour; ``decode``: the
        direction). ``tops`` gives each type's representation when it is not
        ``t.top``: the engine's ``TypeRegistry.top`` of a type closed over its ids,
        anyref for a concrete struct or array type."""
        self.types = tuple(types)
        if decode:
            fmt = "".join(_fmt(_RAW_FMT if raw else _API_FMT, t) for t in self.types)
        else:
            fmt = "".join(_fmt(_RAW_FMT if raw else _PACK_FMT, t) for t in self.types)
        self.struct = struct.Struct("<" + fmt)
        self.size = 16 * len(self.types)
        table = _RAW_ENC if raw else _API_ENC
        self._v128 = ValType.V128 in self.types
        # a typed reference (closed over the engine's type ids) is checked when encoded
        self._enc = [
            _typed_ref_encoder(t) if t.is_ref and t != t.top else table.get(t) for t in self.types
        ]
        if tops is None:
            tops = [t.top for t in self.types]
        self._dec: list[Decoder | None] = [
            _dec_funcref
            if t == ValType.FUNCREF
            else _dec_externref
            if t == ValType.EXTERNREF
            else _dec_exnref
            if t == EXNREF
            else _dec_anyref
            if t == ANYREF
            else None
            for t in tops
        ]
        self.simple = not any(self._dec) and not self._v128
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        # ``encode`` is generated on first use: most codecs (e.g. those of host functions)
        # never need it, and generating it costs more than a whole instantiation.
        if name == "encode":
            self.encode = self._compile_encoder(self._raw)
            return self.encode
        raise AttributeError(name)

    def pack_exprs(self, raw: bool) -> list[str]:
        """Python expressions packing arguments ``a0, a1, ...`` for ``self.struct`` (``store``
        in scope); they raise on anything unusual, so the caller falls back to ``encode_into``.
        """
        exprs: list[str] = []
        for i, t in enumerate(self.types):
            a = f"a{i}"
            if t == ValType.I32 or (raw and t == ValType.F32):
                exprs.append(f"{a} & 0xFFFFFFFF")
            elif t == ValType.I64 or (raw and t == ValType.F64):
                exprs.append(f"{a} & 0xFFFFFFFFFFFFFFFF")
            elif t in (ValType.F32, ValType.F64):
                exprs.append(a)  # struct takes ints and floats, keeps -0.0
            elif t == ValType.V128:
                exprs.append(f"{a} & 0xFFFFFFFFFFFFFFFF, ({a} >> 64) & 0xFFFFFFFFFFFFFFFF")
            elif t.is_ref and t != t.top:
                exprs.append(f"store.refs.typed_code_to_bits({int(t)}, {a})")
            elif t == ValType.FUNCREF:
                exprs.append(f"store.refs.funcref_to_bits({a})")
            elif t == EXNREF:
                exprs.append(f"store.exceptions.to_bits({a})")
            elif t == ANYREF:
                exprs.append(f"store.refs.anyref_to_bits({a})")
            else:
                exprs.append(f"store.refs.externs.to_bits({a})")
        return exprs

    def _compile_encoder(self, raw: bool) -> Callable[[Store, Any, Sequence[Any]], None]:
        """A specialised packer; anything unusual (wrong count or types, ``Val`` boxes) falls
        back to ``encode_into``, which converts or raises the right error."""
        exprs = self.pack_exprs(raw)
        n = len(self.types)
        names = "".join(f"a{i}, " for i in range(n))
        lines = ["def encode(store, buf, values):"]
        if n == 0:
            lines.append("    if values:")
            lines.append("        slow(store, buf, values)")
        else:
            lines.append("    try:")
            lines.append(f"        {names}= values")
            lines.append(f"        pack_into(buf, 0, {', '.join(exprs)})")
            lines.append("    except Exception:")
            lines.append("        slow(store, buf, values)")
        namespace: dict[str, Any] = {"pack_into": self.struct.pack_into, "slow": self.encode_into}
        exec("\n".join(lines), namespace)  # noqa: S102 - generated from a fixed template
        fn: Callable[[Store, Any, Sequence[Any]], None] = namespace["encode"]
        return fn

    def encode_into(self, store: Store, buf: Any, values: Sequence[Any]) -> None:
        """Pack ``values`` (arguments) into ``buf``, converting ``Val`` boxes; raises
        wasmtime-py's errors: ``WasmtimeError`` for a wrong count, ``TypeError`` for a
        value (or ``Val``) of the wrong type."""
        if len(values) != len(self.types):
            many = "many" if len(values) > len(self.types) else "few"
            raise CwasmError(
                f"too {many} parameters provided: given {len(values)}, expected {len(self.types)}"
            )
        fields: list[Any] = []
        for enc, v in zip(self._enc, values, strict=True):
            if enc is None:  # v128
                v = _check_int(v, None if self._raw else ValType.V128) & ((1 << 128) - 1)
                fields.append(v & M64)
                fields.append(v >> 64)
            else:
                fields.append(enc(store, v))
        self.struct.pack_into(buf, 0, *fields)

    def encode_in_context(
        self, store: Store, buf: Any, values: Sequence[Any], context: str
    ) -> None:
        """``encode_into``, a typed reference of the wrong type reported with Wasmtime's
        ``context`` for where the values go (``argument type mismatch``, ...)."""
        try:
            self.encode_into(store, buf, values)
        except RefTypeMismatch as e:
            raise e.with_context(context) from None

    def encode_arguments(self, store: Store, buf: Any, values: Sequence[Any]) -> None:
        """``encode_into`` for the arguments of a call (Wasmtime's context for them)."""
        self.encode_in_context(store, buf, values, ARGUMENT_MISMATCH)

    def decode_from(self, store: Store, buf: Any) -> list[Any]:
        raw = self.struct.unpack_from(buf, 0)
        if self.simple:
            return list(raw)
        out: list[Any] = []
        i = 0
        for t, dec in zip(self.types, self._dec, strict=True):
            if t == ValType.V128:
                out.append(raw[i] | (raw[i + 1] << 64))
                i += 2
                continue
            v = raw[i]
            i += 1
            out.append(dec(store, v) if dec is not None else v)
        return out
