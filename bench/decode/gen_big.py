"""Generate big.c: a deterministic C program with thousands of varied functions.

Compiled to wasm32-wasi it gives a module of more than 1 MB of code, for measuring
decode and validation speed (bench/decode_speed.py). The program also runs: ``main``
calls every function and prints a checksum.

    python bench/decode/gen_big.py build/big.c [--functions N]
    clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-debug \
        -o bench/decode/big.wasm build/big.c
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

PRELUDE = """\
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t buf[256];
static double fbuf[64];
typedef uint32_t (*fn_t)(uint32_t);
"""


def _hash_loop(i: int, rng: random.Random) -> str:
    a, b = rng.randint(1, 13), rng.randint(1, 31)
    c1, c2, c3, c4 = (rng.getrandbits(32) for _ in range(4))
    return f"""
static uint32_t f{i}(uint32_t x) {{
    for (uint32_t k = 0; k < {rng.randint(3, 40)}u; k++) {{
        x ^= x << {a};
        x += k * {c1}u;
        x = (x >> {b}) | (x << {32 - b});
        if (x & {c2}u) x -= {c3}u; else x ^= {c4}u;
    }}
    return x;
}}
"""


def _switch(i: int, rng: random.Random) -> str:
    cases = "\n".join(
        f"    case {k}: x = x * {rng.getrandbits(16)}u + {rng.getrandbits(32)}u; "
        f"x ^= x >> {rng.randint(1, 31)}; break;"
        for k in range(rng.randint(6, 24))
    )
    return f"""
static uint32_t f{i}(uint32_t x) {{
    switch (x % {rng.randint(6, 30)}u) {{
{cases}
    default: x = ~x; break;
    }}
    return x;
}}
"""


def _memory(i: int, rng: random.Random) -> str:
    s = rng.randint(1, 7)
    return f"""
static uint32_t f{i}(uint32_t x) {{
    for (uint32_t k = 0; k < 256u; k += {s}u) {{
        buf[k] = buf[(k * {rng.randint(3, 97)}u + x) & 255u] + (x ^ k);
        x += buf[(x + k) & 255u] >> {rng.randint(1, 9)};
    }}
    uint16_t h = (uint16_t)x;
    int8_t c = (int8_t)(x >> 8);
    return x + h + (uint32_t)(int32_t)c;
}}
"""


def _float(i: int, rng: random.Random) -> str:
    return f"""
static uint32_t f{i}(uint32_t x) {{
    double acc = (double)x * {rng.uniform(0.1, 3.0):.6f};
    float g = (float)(x & 1023u);
    for (int k = 0; k < 64; k++) {{
        fbuf[k] = fbuf[k] * {rng.uniform(0.5, 1.5):.6f} + acc / (k + 1);
        acc = acc * 0.5 + fbuf[(k * {rng.randint(3, 61)}) & 63] - g;
        g = g * {rng.uniform(0.5, 1.5):.4f}f + 1.0f;
    }}
    if (acc != acc || acc > 4e9 || acc < -4e9) acc = 0.0;
    return (uint32_t)(int64_t)acc ^ (uint32_t)g;
}}
"""


def _wide(i: int, rng: random.Random) -> str:
    return f"""
static uint32_t f{i}(uint32_t x) {{
    uint64_t v = ((uint64_t)x << 32) | {rng.getrandbits(32)}u;
    for (int k = 0; k < {rng.randint(4, 20)}; k++) {{
        v = v * {rng.getrandbits(63) | 1}ull + (v >> {rng.randint(5, 40)});
        v ^= (uint64_t)__builtin_popcountll(v) << {rng.randint(1, 50)};
        v += (uint64_t)__builtin_clzll(v | 1) + (uint64_t)__builtin_ctzll(v | 2);
    }}
    return (uint32_t)(v ^ (v >> 32));
}}
"""


def _strings(i: int, rng: random.Random) -> str:
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(8, 40)))
    return f"""
static uint32_t f{i}(uint32_t x) {{
    char tmp[64];
    static const char text[] = "{word}";
    memcpy(tmp, text, sizeof text);
    for (size_t k = 0; k + 1 < sizeof text; k++) {{
        tmp[k] = (char)(tmp[k] ^ (char)(x >> (k & 7)));
        x = x * 31u + (unsigned char)tmp[k];
    }}
    return x + (uint32_t)strlen(text);
}}
"""


def _calls(i: int, rng: random.Random) -> str:
    callees = [rng.randrange(i) for _ in range(rng.randint(2, 6))]
    body = "\n".join(
        f"    if ((x >> {rng.randint(0, 28)}) & 1u) x = f{c}(x); else x += {rng.getrandbits(20)}u;"
        for c in callees
    )
    return f"""
static uint32_t f{i}(uint32_t x) {{
{body}
    return x;
}}
"""


TEMPLATES = (_hash_loop, _switch, _memory, _float, _wide, _strings)


def generate(n: int, seed: int = 2024) -> str:
    rng = random.Random(seed)
    parts = [PRELUDE]
    for i in range(n):
        if i > 8 and rng.random() < 0.15:
            parts.append(_calls(i, rng))
        else:
            parts.append(rng.choice(TEMPLATES)(i, rng))
    table = ",\n".join(f"    f{i}" for i in range(n))
    parts.append(
        f"""
static fn_t const table[{n}] = {{
{table}
}};

int main(void) {{
    uint32_t x = 12345u;
    for (uint32_t i = 0; i < {n}u; i++) x = table[(i * 7919u) % {n}u](x) + i;
    printf("checksum %u\\n", (unsigned)x);
    return 0;
}}
"""
    )
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--functions", type=int, default=6000)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(generate(args.functions))


if __name__ == "__main__":
    main()
