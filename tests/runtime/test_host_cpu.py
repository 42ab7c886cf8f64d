"""The host's CPU features, read with CPUID on x86-64, agree with ``/proc/cpuinfo``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cwasm.runtime.engine import _host_cpu_features, host_target
from cwasm.runtime.native import x86_cpuid1_ecx, x86_cpuid1_ecx_instruction

CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_flags() -> set[str]:
    for line in CPUINFO.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(
    not host_target().startswith("x86_64") or not CPUINFO.exists(),
    reason="CPUID is read on x86-64 hosts; /proc/cpuinfo is the reference",
)
def test_cpuid_agrees_with_proc_cpuinfo() -> None:
    flags = _cpuinfo_flags()
    ecx = x86_cpuid1_ecx()
    # CPUID.1:ECX bits and the names the kernel gives them
    for bit, name in ((0, "pni"), (9, "ssse3"), (19, "sse4_1"), (20, "sse4_2"), (23, "popcnt")):
        assert bool(ecx >> bit & 1) == (name in flags), name
    expected = (("sse4.1",) if "sse4_1" in flags else ()) + (
        ("fma",) if {"fma", "avx"} <= flags else ()
    )
    assert _host_cpu_features() == expected


@pytest.mark.skipif(not host_target().startswith("x86_64"), reason="CPUID is read on x86-64 hosts")
def test_the_word_glibc_recorded_is_what_the_instruction_reads() -> None:
    """``x86_cpuid1_ecx`` asks glibc where it can; the instruction is the reference."""
    assert x86_cpuid1_ecx() == x86_cpuid1_ecx_instruction()
