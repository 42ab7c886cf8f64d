"""Running a script's directives: modules, assertions and actions, each with its outcome.

Every directive yields one ``Outcome`` (passed, failed or skipped) and never stops the
script: a failure is reported with what was expected and what happened. Text-format
modules (``module quote``) are skipped, as are directives of proposals the runner does
not know.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cwasm.wasm.gc_types import GC_NOT_COMPILED
from cwasm.wast.backend import Backend
from cwasm.wast.script import WastScript, convert
from cwasm.wast.values import arg_value, describe, describe_expected, result_matches

#: directives that exercise decoding and validation only
DECODE_COMMANDS = {"module", "assert_malformed", "assert_invalid"}


@dataclass
class Outcome:
    """What one directive did."""

    command: str  # the directive's type, e.g. "assert_return"
    line: int
    status: str  # passed | failed | skipped
    stage: str = "decode"  # decode | exec: which half of cwasm the directive tested
    detail: str = ""


class Unsupported(Exception):
    """The runner cannot run this directive (counted as skipped, with the reason)."""


class _ModuleMissing(Exception):
    pass


def _needs_gc(e: BaseException) -> bool:
    """Whether ``e`` (or an error it was raised from) refuses a module for its use of
    the GC proposal, which cwasm validates but does not compile yet."""
    seen: BaseException | None = e
    while seen is not None:
        if GC_NOT_COMPILED in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _expected_message_matches(expected: str, actual: str) -> bool:
    # the reference interpreter's rule: the expected text is a prefix of the message
    return actual.startswith(expected)


class ScriptRunner:
    """Runs the directives of one script in a fresh ``Backend`` (engine and store; an
    engine of ``config``, a ``cwasm.Config``, if given)."""

    def __init__(self, script: WastScript, config: Any = None) -> None:
        self.script = script
        self.backend = Backend(config)
        self.current: Any = None
        self.named: dict[str, Any] = {}
        self.module_ok = True
        #: ``module definition`` bytes, by name (None: unnamed)
        self.definitions: dict[str | None, bytes] = {}
        #: modules skipped for GC (not compiled yet): the current one (None) and named ones
        self.gc_skipped: set[str | None] = set()

    def run(self) -> Iterator[Outcome]:
        """The outcome of every directive, in script order."""
        for cmd in self.script.commands:
            yield self.run_command(cmd)

    def _instance(self, name: str | None) -> Any:
        if name in self.gc_skipped:
            raise Unsupported(GC_NOT_COMPILED)
        if name is None:
            if not self.module_ok:
                raise _ModuleMissing("the current module failed to instantiate")
            return self.current
        if name not in self.named:
            raise _ModuleMissing(f"unknown module {name}")
        return self.named[name]

    def run_command(self, cmd: dict[str, Any]) -> Outcome:
        """Run one directive (a ``json-from-wast`` command)."""
        ctype = cmd["type"]
        line = cmd.get("line", 0)
        if cmd.get("module_type") == "text":
            return Outcome(ctype, line, "skipped", detail="text-format module")
        try:
            return self._run(ctype, line, cmd)
        except Unsupported as e:
            stage = "decode" if ctype in ("assert_malformed", "assert_invalid") else "exec"
            return Outcome(ctype, line, "skipped", stage, str(e))
        except _ModuleMissing as e:
            return Outcome(ctype, line, "failed", "exec", str(e))
        except Exception as e:  # a reported failure, never a crash
            stage = "decode" if ctype in DECODE_COMMANDS else "exec"
            return Outcome(ctype, line, "failed", stage, f"{type(e).__name__}: {e}")

    def _run(self, ctype: str, line: int, cmd: dict[str, Any]) -> Outcome:
        backend = self.backend
        if ctype == "module":
            wasm = self.script.module_bytes(cmd["filename"])
            self.module_ok = False
            self.gc_skipped.discard(None)
            try:
                backend.validate(wasm)
            except Exception as e:
                return Outcome(ctype, line, "failed", "decode", f"{type(e).__name__}: {e}")
            try:
                inst = backend.instantiate(wasm)
            except Exception as e:
                if _needs_gc(e):
                    self.gc_skipped.add(None)
                    if cmd.get("name"):
                        self.gc_skipped.add(cmd["name"])
                    raise Unsupported(GC_NOT_COMPILED) from None
                return Outcome(ctype, line, "failed", "exec", f"{type(e).__name__}: {e}")
            self.current = inst
            self.module_ok = True
            if cmd.get("name"):
                self.named[cmd["name"]] = inst
            return Outcome(ctype, line, "passed", "exec")
        if ctype in ("assert_malformed", "assert_invalid"):
            wasm = self.script.module_bytes(cmd["filename"])
            try:
                backend.validate(wasm)
            except Exception as e:
                if not backend.is_wasm_error(e):
                    return Outcome(ctype, line, "failed", detail=f"{type(e).__name__}: {e}")
                msg = getattr(e, "message", str(e))
                if _expected_message_matches(cmd["text"], msg):
                    return Outcome(ctype, line, "passed")
                return Outcome(
                    ctype, line, "failed", detail=f"expected {cmd['text']!r}, got {msg!r}"
                )
            return Outcome(ctype, line, "failed", detail=f"accepted; expected {cmd['text']!r}")
        if ctype == "module_definition":
            # a module compiled but not instantiated (instances come from
            # ``module_instance``): validated now, its bytes kept by name
            wasm = self.script.module_bytes(cmd["filename"])
            try:
                backend.validate(wasm)
            except Exception as e:
                return Outcome(ctype, line, "failed", "decode", f"{type(e).__name__}: {e}")
            self.definitions[cmd.get("name")] = wasm
            return Outcome(ctype, line, "passed", "decode")
        if ctype == "module_instance":
            # a new instance of a defined module: each is distinct (instantiation is
            # generative), and becomes the current module
            definition = self.definitions.get(cmd.get("module"))
            if definition is None:
                raise _ModuleMissing(f"unknown module definition {cmd.get('module')}")
            self.module_ok = False
            inst = backend.instantiate(definition)
            self.current = inst
            self.module_ok = True
            if cmd.get("instance"):
                self.named[cmd["instance"]] = inst
            return Outcome(ctype, line, "passed", "exec")
        if ctype == "register":
            backend.register(cmd["as"], self._instance(cmd.get("name")))
            return Outcome(ctype, line, "passed", "exec")
        if ctype in (
            "action",
            "assert_return",
            "assert_trap",
            "assert_exhaustion",
            "assert_exception",
        ):
            return self._run_action(ctype, line, cmd)
        if ctype in ("assert_unlinkable", "assert_uninstantiable"):
            wasm = self.script.module_bytes(cmd["filename"])
            try:
                backend.instantiate(wasm)
            except Exception as e:
                if _needs_gc(e):
                    raise Unsupported(GC_NOT_COMPILED) from None
                if backend.is_wasm_error(e):
                    return Outcome(ctype, line, "failed", "exec", f"rejected by validation: {e}")
                return Outcome(ctype, line, "passed", "exec", f"{type(e).__name__}: {e}")
            return Outcome(ctype, line, "failed", "exec", "instantiated; expected a failure")
        raise Unsupported(f"command {ctype}")

    def _run_action(self, ctype: str, line: int, cmd: dict[str, Any]) -> Outcome:
        backend = self.backend
        action = cmd["action"]
        inst = self._instance(action.get("module"))
        try:
            if action["type"] == "invoke":
                args = [arg_value(a) for a in action.get("args", [])]
                results = backend.invoke(inst, action["field"], args)
            elif action["type"] == "get":
                results = [backend.get(inst, action["field"])]
            else:
                raise ValueError(f"unknown action {action['type']}")
        except Exception as e:
            if ctype == "assert_exception" and backend.is_exception(e):
                return Outcome(ctype, line, "passed", "exec")
            if ctype in ("assert_trap", "assert_exhaustion") and backend.is_trap(e):
                if backend.trap_matches(e, cmd["text"]):
                    return Outcome(ctype, line, "passed", "exec")
                return Outcome(
                    ctype,
                    line,
                    "failed",
                    "exec",
                    f"expected trap {cmd['text']!r}, got {backend.trap_message(e)!r}",
                )
            raise
        if ctype == "assert_exception":
            got = ", ".join(describe(r) for r in results)
            return Outcome(
                ctype, line, "failed", "exec", f"returned [{got}]; expected an exception"
            )
        if ctype in ("assert_trap", "assert_exhaustion"):
            got = ", ".join(describe(r) for r in results)
            return Outcome(
                ctype, line, "failed", "exec", f"returned [{got}]; expected trap {cmd['text']!r}"
            )
        if ctype == "assert_return":
            expected = cmd.get("expected", [])
            if len(expected) != len(results) or not all(
                result_matches(e, r) for e, r in zip(expected, results, strict=True)
            ):
                got = ", ".join(describe(r) for r in results)
                want = ", ".join(describe_expected(e) for e in expected)
                return Outcome(ctype, line, "failed", "exec", f"got [{got}], expected [{want}]")
        return Outcome(ctype, line, "passed", "exec")


def run_script(wast: Path) -> list[Outcome]:
    """Convert and run one ``.wast`` file (in a scratch directory); every directive's outcome."""
    with tempfile.TemporaryDirectory(prefix="cwasm-wast-") as tmp:
        script = convert(wast, Path(tmp))
        return list(ScriptRunner(script).run())
