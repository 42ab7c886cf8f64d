"""The checks of an artifact's code locations (``CompiledModuleInfo``'s functions and
trampolines against ``.text``), run when its info record is first verified."""

from __future__ import annotations

import itertools
import operator

from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.info import CompiledModuleInfo, FunctionLoc, FunctionTable, TrampolineTable


def check_code_locations(info: CompiledModuleInfo, limit: int) -> None:
    """Functions in order, and every entry point (functions and trampolines) non-empty,
    inside the code (before the seal) and disjoint from every other. Checked a column
    at a time; the per-entry loop of ``_code_location_problem`` runs only to name the
    problem. ``limit`` is the size of the code: ``.text`` before the seal."""
    funcs = FunctionTable.of(info.funcs)
    w2a = TrampolineTable.of(info.wasm_to_array_trampolines)
    starts, lengths = funcs.column(1), funcs.column(2)
    ends = list(map(operator.add, starts, lengths))
    t_lengths = funcs.column(4)
    t_starts = list(itertools.compress(funcs.column(3), t_lengths))
    t_ends = list(map(operator.add, t_starts, itertools.compress(t_lengths, t_lengths)))
    w_starts, w_lengths = w2a.column(1), w2a.column(2)
    w_ends = list(map(operator.add, w_starts, w_lengths))
    ok = (
        all(lengths)
        and all(w_lengths)
        and max(ends, default=0) <= limit
        and max(t_ends, default=0) <= limit
        and max(w_ends, default=0) <= limit
        and all(map(operator.le, ends, itertools.islice(starts, 1, None)))
    )
    if ok:
        spans = sorted(
            zip(
                itertools.chain(starts, t_starts, w_starts),
                itertools.chain(ends, t_ends, w_ends),
                strict=True,
            )
        )
        ok = all(
            map(
                operator.le,
                [e for _, e in spans],
                [s for s, _ in itertools.islice(spans, 1, None)],
            )
        )
    if not ok:
        _code_location_problem(info, limit)


def _code_location_problem(info: CompiledModuleInfo, limit: int) -> None:
    """Raise ``CorruptArtifactError`` naming the first bad code location."""
    previous_end = 0
    spans: list[tuple[int, int]] = []
    for i, f in enumerate(info.funcs):
        loc = f.wasm_func_loc
        _check_loc(loc, f"function {i}", limit)
        if loc.start < previous_end:
            raise CorruptArtifactError(f"function {i} overlaps or precedes the previous function")
        previous_end = loc.end
        spans.append((loc.start, loc.end))
        tramp = f.array_to_wasm_trampoline
        if tramp is not None:
            _check_loc(tramp, f"trampoline of function {i}", limit)
            spans.append((tramp.start, tramp.end))
    for ty, loc in info.wasm_to_array_trampolines:
        _check_loc(loc, f"wasm-to-array trampoline of type {ty}", limit)
        spans.append((loc.start, loc.end))
    spans.sort()
    for i in range(len(spans) - 1):
        if spans[i][1] > spans[i + 1][0]:
            raise CorruptArtifactError(
                f"code at {spans[i + 1][0]:#x} (a function or trampoline) overlaps the "
                f"code at {spans[i][0]:#x}..{spans[i][1]:#x}"
            )
    raise CorruptArtifactError(
        "the code locations are inconsistent"
    )  # not reached: a check above fails


def _check_loc(loc: FunctionLoc, what: str, limit: int) -> None:
    if loc.end > limit:
        raise CorruptArtifactError(
            f"{what} at {loc.start:#x}+{loc.length:#x} lies outside `.text` "
            f"({limit:#x} bytes of code before the seal)"
        )
    if not loc.length:
        raise CorruptArtifactError(f"{what} at {loc.start:#x} is empty")
