"""The package's data flow, checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cwasm.errors import CwasmError

PACKAGE = Path(__file__).resolve().parents[1] / "cwasm"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from package import submodule` imports the submodule too
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _forbidden(layer: str, prefixes: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            if name.startswith(prefixes):
                found.append(f"{path.relative_to(PACKAGE)} imports {name}")
    return found


def test_runtime_never_imports_the_compiler() -> None:
    assert _forbidden("runtime", ("cwasm.compile", "llvmlite")) == []


def test_compiler_uses_only_the_runtime_abi() -> None:
    """The compiler may read the runtime's layouts (vmctx, guard pages), nothing else."""
    abi = ("cwasm.runtime.vmoffsets", "cwasm.runtime.guard_layout")
    found = []
    for entry in _forbidden("compile", ("cwasm.runtime",)):
        name = entry.split(" imports ")[1]
        if name != "cwasm.runtime" and not name.startswith(abi):
            found.append(entry)
    assert found == []


def test_obj_knows_nothing_of_llvm_or_the_runtime() -> None:
    assert _forbidden("obj", ("cwasm.compile", "cwasm.runtime", "llvmlite")) == []


def test_decoder_stands_alone() -> None:
    assert _forbidden("wasm", ("cwasm.compile", "cwasm.obj", "cwasm.runtime", "llvmlite")) == []


def test_inspect_is_a_leaf_used_only_by_the_cli() -> None:
    """``cwasm.inspect`` reads artifacts (obj, wasm); only ``cwasm.cli`` imports it."""
    assert _forbidden("inspect", ("cwasm.compile", "cwasm.runtime", "llvmlite")) == []
    users = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "inspect" not in path.relative_to(PACKAGE).parts[:1]
        and any(n.startswith("cwasm.inspect") for n in _imports(path))
    ]
    assert users == ["cli.py"]


def test_the_runtime_module_only_loads() -> None:
    from cwasm.runtime.engine import Engine
    from cwasm.runtime.module import Module

    with pytest.raises(CwasmError, match="only loads artifacts"):
        Module(Engine(), b"\0asm\x01\0\0\0")
