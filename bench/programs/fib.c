/* Call-heavy workload: naive recursive Fibonacci and Takeuchi functions.
 *
 * Usage: fib [N]   (default 20)
 * Computes fib(N) by naive recursion and tak(N/2, N/4, 0) ... and prints the
 * results with the number of calls made. Recursion depth stays below 2 * N.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t calls;

__attribute__((noinline)) static uint32_t fib(uint32_t n) {
    calls++;
    if (n < 2) {
        return n;
    }
    return fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) static int32_t tak(int32_t x, int32_t y, int32_t z) {
    calls++;
    if (y >= x) {
        return z;
    }
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 20u;
    if (n > 45) {
        n = 45;
    }
    calls = 0;
    uint32_t f = fib(n);
    uint64_t fib_calls = calls;
    calls = 0;
    int32_t t = tak((int32_t)(n / 2), (int32_t)(n / 4), 0);
    uint64_t tak_calls = calls;
    printf("fib n=%" PRIu32 " fib=%" PRIu32 " fib_calls=%" PRIu64 " tak=%" PRId32
           " tak_calls=%" PRIu64 "\n",
           n, f, fib_calls, t, tak_calls);
    return 0;
}
