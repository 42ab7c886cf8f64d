"""The disassembly of ``cwasm inspect --disassemble`` (capstone, an optional dependency)."""

from __future__ import annotations

from typing import Any

from cwasm.inspect.convert import Json
from cwasm.obj import constants as C


def _capstone(machine: int) -> tuple[Any, str | None]:
    try:
        import capstone
    except ImportError:
        return None, "disassembly needs capstone: pip install capstone (or cwasm[disas])"
    if machine == C.EM_X86_64:
        md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    elif machine == C.EM_AARCH64:
        arch = getattr(capstone, "CS_ARCH_AARCH64", None) or capstone.CS_ARCH_ARM64
        md = capstone.Cs(arch, capstone.CS_MODE_ARM)
    else:
        return None, f"disassembly is not supported for e_machine {machine}"
    md.skipdata = True
    return md, None


def disassemble(
    machine: int,
    text: bytes,
    functions: list[tuple[str, int, int]],
    traps: dict[int, str],
    positions: dict[int, int | None],
) -> Json:
    """Disassemble each ``(label, start, end)`` range of ``.text`` with capstone.

    Instructions at a trap site carry its trap, those the address map covers their
    wasm offset. Without capstone, or for an unsupported machine, ``"error"`` says why.
    """
    md, problem = _capstone(machine)
    if md is None:
        return {"error": problem, "functions": []}
    rows = []
    for label, start, end in functions:
        lines = []
        for insn in md.disasm(text[start:end], start):
            line: Json = {
                "address": insn.address,
                "bytes": bytes(insn.bytes).hex(),
                "mnemonic": insn.mnemonic,
                "op_str": insn.op_str,
            }
            if insn.address in traps:
                line["trap"] = traps[insn.address]
            if insn.address in positions:
                line["wasm_offset"] = positions[insn.address]
            lines.append(line)
        rows.append({"name": label, "start": start, "end": end, "instructions": lines})
    return {"error": None, "functions": rows}
