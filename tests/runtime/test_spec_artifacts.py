"""Every binary module of the required spec files compiles to an artifact that `cwasm inspect`
and `readelf` both accept, and whose trap and address tables are populated."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from cwasm.api import Engine, compile_artifact
from cwasm.inspect import format_inspection, inspect_artifact
from cwasm.obj.artifact import Artifact
from tests.spec.wast import convert, spec_dir

REQUIRED = (
    "address align block br br_if br_table call const conversions endianness f32 f32_bitwise "
    "f32_cmp f64 f64_bitwise f64_cmp fac float_exprs float_literals float_memory float_misc "
    "forward func i32 i64 if int_exprs int_literals labels left-to-right load local_get "
    "local_set local_tee loop memory memory_grow memory_redundancy memory_size memory_trap names "
    "nop return select skip-stack-guard-page stack start store switch traps unreachable "
    "unreached-valid unwind"
).split()


def _modules(stem: str) -> list[bytes]:
    script = convert(spec_dir() / f"{stem}.wast")
    return [
        script.module_bytes(c["filename"])
        for c in script.commands
        if c["type"] == "module" and c.get("module_type", "binary") == "binary"
    ]


@pytest.mark.skipif(not spec_dir().is_dir(), reason="spec testsuite not available")
@pytest.mark.parametrize("stem", REQUIRED)
def test_spec_module_artifacts_pass_inspect_and_readelf(stem: str) -> None:
    engine = Engine()
    modules = _modules(stem)
    assert modules
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, wasm in enumerate(modules):
            data = compile_artifact(engine, wasm)
            art = Artifact.from_bytes(data)
            if art.info.funcs:
                # every function has its stack check, so neither table is ever empty
                assert len(art.section_data(".wasmtime.traps")) > 4
                assert len(art.section_data(".wasmtime.addrmap")) > 4
            text = format_inspection(inspect_artifact(data))
            assert ".wasmtime.traps" in text
            path = Path(tmp) / f"{stem}.{i}.cwasm"
            path.write_bytes(data)
            paths.append(str(path))
        out = subprocess.run(
            ["readelf", "-h", "-S", "-s", "-r", "-W", *paths], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert out.stderr == ""
        assert out.stdout.count("OS/ABI:") == len(paths)
