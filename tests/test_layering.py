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


def test_compiler_never_imports_the_runtime() -> None:
    """What compiled code and the runtime share is ``cwasm.abi`` (and ``wasm``, ``obj``)."""
    assert _forbidden("compile", ("cwasm.runtime",)) == []


def test_abi_stands_on_nothing_but_trap_codes_and_the_module_record() -> None:
    """The contract imports nothing of cwasm but itself, errors, the trap codes, the
    ``ModuleRecord`` (``VMOffsets.for_module`` lays out a vmctx from it) and the type
    definitions GC object layouts are computed from."""
    allowed = (
        "cwasm.abi",
        "cwasm.errors",
        "cwasm.obj.traps",
        "cwasm.obj.constants",
        "cwasm.wasm.module",
        "cwasm.wasm.gc_types",
        "cwasm.wasm.types",
    )
    found = [
        entry
        for entry in _forbidden("abi", ("cwasm", "llvmlite"))
        if not entry.split(" imports ")[1].startswith(allowed)
    ]
    assert found == []


def test_obj_knows_nothing_of_llvm_or_the_runtime() -> None:
    prefixes = ("cwasm.compile", "cwasm.runtime", "cwasm.abi", "llvmlite")
    assert _forbidden("obj", prefixes) == []


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


def test_wast_is_a_leaf_used_only_by_the_cli() -> None:
    """``cwasm.wast`` runs scripts through the public API; only ``cwasm.cli`` imports it."""
    assert _forbidden("wast", ("cwasm.compile", "llvmlite", "tests")) == []
    users = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "wast" not in path.relative_to(PACKAGE).parts[:1]
        and any(n.startswith("cwasm.wast") for n in _imports(path))
    ]
    assert users == ["cli.py"]


def test_the_runtime_module_only_loads() -> None:
    from cwasm.runtime.engine import Engine
    from cwasm.runtime.module import ArtifactModule

    with pytest.raises(CwasmError, match="only loads artifacts"):
        ArtifactModule(Engine(), b"\0asm\x01\0\0\0")
