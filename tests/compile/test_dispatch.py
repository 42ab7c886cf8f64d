"""The dispatch table: every operator has exactly one handler, from exactly one module."""

from __future__ import annotations

from collections import Counter

from cwasm.compile.translate import dispatch
from cwasm.wasm.operators import OPERATORS
from tests.fresh_python import run_fresh


def test_every_operator_has_exactly_one_handler() -> None:
    names = [op.name for op in OPERATORS if op is not None]
    claims = Counter(name for table in dispatch.TABLES.values() for name in table)
    assert [n for n in names if claims[n] == 0] == []
    assert [n for n, c in claims.items() if c > 1] == []
    assert set(claims) <= set(names)  # no handler for an operator the table lacks
    assert [
        op.name for op in OPERATORS if op is not None and dispatch.HANDLERS[op.code] is None
    ] == []


def test_no_two_modules_define_the_same_operator() -> None:
    tables = list(dispatch.TABLES.items())
    overlaps = [
        (a, b, sorted(set(ta) & set(tb)))
        for i, (a, ta) in enumerate(tables)
        for b, tb in tables[i + 1 :]
        if set(ta) & set(tb)
    ]
    assert overlaps == []


def test_a_duplicate_handler_is_an_error() -> None:
    def h(_t: object, _imm: object) -> None:
        pass

    try:
        dispatch.build({"a": {"nop": h}, "b": {"nop": h}})
    except AssertionError as e:
        assert "nop" in str(e)
    else:
        raise AssertionError("a duplicate handler was accepted")


def test_the_package_alone_gives_simd_handlers() -> None:
    """No import for side effects: ``cwasm.compile.translate`` alone has every handler."""
    code = (
        "import sys\n"
        "from cwasm.compile.translate import FunctionTranslator\n"
        "from cwasm.wasm.operators import BY_NAME, OPERATORS\n"
        "assert 'cwasm.compile.compiler' not in sys.modules\n"
        "h = FunctionTranslator.handlers\n"
        "assert h[BY_NAME['i32x4.add']] is not None\n"
        "assert h[BY_NAME['v128.load']] is not None\n"
        "print(sum(op is not None and h[op.code] is None for op in OPERATORS))\n"
    )
    out = run_fresh(code)
    assert out.strip() == "0"
