/* Memory64 workload: a sieve of Eratosthenes whose flags lie above 4 GiB.
 *
 * Usage (native): sieve64 [N]   (default 1000000)
 *
 * `sieve(n)` returns the sum of the primes below n. Built freestanding for wasm64
 * (a 64-bit memory), it first grows its memory past 4 GiB + n and keeps its flags at
 * 4 GiB, so every flag access has an address no 32-bit memory can hold; the pages
 * below are reserved, never touched. bench/memory64.py calls it and compares the
 * result with this file's native build, which keeps its flags in a malloc'd block.
 */
#include <stdint.h>

#if defined(__wasm__)
#define FLAGS_AT (UINT64_C(4) << 30)
#define PAGE_SIZE 65536u

static unsigned char *flags_for(uint64_t n) {
    uint64_t want = (FLAGS_AT + n + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t have = __builtin_wasm_memory_size(0);
    if (have < want && __builtin_wasm_memory_grow(0, want - have) == (__SIZE_TYPE__)-1) {
        return 0;
    }
    return (unsigned char *)FLAGS_AT;
}
#define EXPORT(name) __attribute__((export_name(name)))
#else
#include <stdlib.h>
static unsigned char *flags_for(uint64_t n) { return malloc(n); }
#define EXPORT(name)
#endif

/* The sum of the primes below n, or UINT64_MAX if the memory could not grow. */
EXPORT("sieve") uint64_t sieve(uint64_t n) {
    unsigned char *flags = flags_for(n);
    if (!flags) {
        return UINT64_MAX;
    }
    __builtin_memset(flags, 1, n);
    uint64_t sum = 0;
    for (uint64_t i = 2; i < n; i++) {
        if (flags[i]) {
            sum += i;
            for (uint64_t j = i * i; j < n; j += i) {
                flags[j] = 0;
            }
        }
    }
    return sum;
}

#if !defined(__wasm__)
#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n < 2) {
        fprintf(stderr, "usage: sieve64 [N >= 2]\n");
        return 2;
    }
    printf("sieve64 n=%ld sum=%" PRIu64 "\n", n, sieve((uint64_t)n));
    return 0;
}
#endif
