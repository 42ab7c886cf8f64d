"""``cwasm wast`` (spec scripts, as ``wasmtime wast``) and ``cwasm --version``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cwasm
from cwasm.cli import main

ROOT = Path(__file__).resolve().parents[1]

MODULE = """
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
  (global (export "g") i32 (i32.const 7)))
"""

PASSING = (
    MODULE
    + """
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (get "g") (i32.const 7))
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_malformed (module binary "\\00asm\\02\\00\\00\\00") "unknown binary version")
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
(register "m")
(module (import "m" "add" (func $add (param i32 i32) (result i32)))
  (func (export "twice") (param i32) (result i32) (call $add (local.get 0) (local.get 0))))
(assert_return (invoke "twice" (i32.const 21)) (i32.const 42))
(module (import "spectest" "print_i32" (func (param i32))))
"""
)


def _script(tmp_path: Path, text: str, name: str = "t.wast") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _wast(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, str, str]:
    status = main(["wast", *map(str, paths)])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_passing_script_exits_0_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _wast(capsys, _script(tmp_path, PASSING)) == (0, "", "")


def test_a_failing_assert_return_names_the_line_and_both_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(
        tmp_path,
        MODULE + '(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))\n',
    )
    status, out, err = _wast(capsys, path)
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"cwasm: error: failed directive on {path}:6: assert_return: got [0x3], expected [i32 0x4]",
        "cwasm: error: 1 directive(s) failed",
    ]


def test_assert_trap_fails_on_a_return_or_another_trap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(
        tmp_path,
        MODULE
        + '(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")\n'
        + '(assert_trap (invoke "div" (i32.const 6) (i32.const 2)) "integer divide by zero")\n'
        + '(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer overflow")\n',
    )
    status, _, err = _wast(capsys, path)
    assert status == 1
    assert err.splitlines() == [
        f"cwasm: error: failed directive on {path}:7: assert_trap: "
        "returned [0x3]; expected trap 'integer divide by zero'",
        f"cwasm: error: failed directive on {path}:8: assert_trap: "
        "expected trap 'integer overflow', got 'integer divide by zero'",
        "cwasm: error: 2 directive(s) failed",
    ]


def test_a_malformed_module_fails_its_directive_and_the_ones_using_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(
        tmp_path,
        '(module binary "\\00asm\\01\\00\\00\\00\\05")\n'
        '(assert_return (invoke "f"))\n'
        '(assert_malformed (module binary "\\00asm") "unexpected end")\n',
    )
    status, _, err = _wast(capsys, path)
    assert status == 1
    lines = err.splitlines()
    assert lines[0].startswith(
        f"cwasm: error: failed directive on {path}:1: module: MalformedError"
    )
    assert lines[1:] == [
        f"cwasm: error: failed directive on {path}:2: assert_return: "
        "the current module failed to instantiate",
        "cwasm: error: 2 directive(s) failed",
    ]


def test_every_script_runs_and_their_failures_add_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = MODULE + '(assert_return (invoke "add" (i32.const 0) (i32.const 0)) (i32.const 1))\n'
    first = _script(tmp_path, bad, "a.wast")
    second = _script(tmp_path, PASSING, "b.wast")
    third = _script(tmp_path, bad, "c.wast")
    status, _, err = _wast(capsys, first, second, third)
    assert status == 1
    assert [line.split(": assert_return")[0] for line in err.splitlines()] == [
        f"cwasm: error: failed directive on {first}:6",
        f"cwasm: error: failed directive on {third}:6",
        "cwasm: error: 2 directive(s) failed",
    ]


def test_text_format_modules_are_skipped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(tmp_path, '(assert_malformed (module quote "(func") "unexpected token")\n')
    status, _, err = _wast(capsys, path)
    assert status == 0
    assert err == f"cwasm: warning: {path}: 1 directive(s) skipped: text-format module\n"


def test_an_unparsable_or_missing_script_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _wast(capsys, _script(tmp_path, "(module (func"))
    assert status == 1
    assert err.startswith(f"cwasm: error: failed to parse script {tmp_path / 't.wast'}: ")
    status, _, err = _wast(capsys, tmp_path / "missing.wast")
    assert (status, err) == (1, f"cwasm: error: no such script file: {tmp_path / 'missing.wast'}\n")


def test_version_prints_the_package_version_and_loads_nothing_else() -> None:
    code = (
        "import sys\n"
        "from cwasm.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print(sorted(m for m in sys.modules if m.startswith(('cwasm', 'llvmlite'))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        check=True,
    )
    version, loaded = proc.stdout.splitlines()
    assert version == f"cwasm {cwasm.__version__}"
    assert loaded == "['cwasm', 'cwasm.cli', 'cwasm.errors']"


#: a module definition instantiated twice: the instances are distinct (instantiation is
#: generative), and the last instance is the current module
GENERATIVE = """
(module definition $M
  (global (export "g") (mut i32) (i32.const 0))
  (func (export "bump") (result i32)
    (global.set 0 (i32.add (global.get 0) (i32.const 1))) (global.get 0)))
(module instance $I1 $M)
(module instance $I2 $M)
(assert_return (invoke $I1 "bump") (i32.const 1))
(assert_return (invoke $I1 "bump") (i32.const 2))
(assert_return (invoke $I2 "bump") (i32.const 1))
(assert_return (invoke "bump") (i32.const 2))
(assert_return (get $I1 "g") (i32.const 2))
"""


def test_module_definitions_instantiate_into_distinct_instances(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _wast(capsys, _script(tmp_path, GENERATIVE)) == (0, "", "")
    wrong = GENERATIVE.replace(
        '(invoke $I2 "bump") (i32.const 1)', '(invoke $I2 "bump") (i32.const 3)'
    )
    status, out, err = _wast(capsys, _script(tmp_path, wrong, "w.wast"))
    assert status == 1 and "w.wast:10" in out + err
