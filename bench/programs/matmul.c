/* Double-precision workload: dense matrix multiplication.
 *
 * Usage: matmul [N]   (default 48)
 * Multiplies two N x N matrices of doubles, then multiplies the product by the
 * second matrix again, and prints checksums of the result. The inputs are
 * small multiples of 1/4 so every product and sum is exact: the output is the
 * same on every IEEE-754 implementation whatever the evaluation order.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void multiply(const double *a, const double *b, double *c, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < n; j++) {
            c[i * n + j] = 0.0;
        }
        for (uint32_t k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (uint32_t j = 0; j < n; j++) {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 48u;
    if (n < 1) {
        n = 1;
    }
    size_t cells = (size_t)n * n;
    double *a = malloc(cells * sizeof(double));
    double *b = malloc(cells * sizeof(double));
    double *c = malloc(cells * sizeof(double));
    double *d = malloc(cells * sizeof(double));
    if (a == NULL || b == NULL || c == NULL || d == NULL) {
        fputs("out of memory\n", stderr);
        return 1;
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < n; j++) {
            a[i * n + j] = (double)((int32_t)((i * 7u + j * 3u) % 9u) - 3) * 0.25;
            b[i * n + j] = (double)((int32_t)((i * 5u + j * 11u) % 7u) - 2) * 0.5;
        }
    }
    multiply(a, b, c, n);
    multiply(c, b, d, n);
    double trace = 0.0;
    double total = 0.0;
    uint64_t bits_hash = 0;
    for (uint32_t i = 0; i < n; i++) {
        trace += d[i * n + i];
        for (uint32_t j = 0; j < n; j++) {
            uint64_t bits;
            memcpy(&bits, &d[i * n + j], sizeof bits);
            bits_hash = (bits_hash ^ bits) * UINT64_C(0x100000001b3);
            bits_hash ^= bits_hash >> 29;
            total += d[i * n + j];
        }
    }
    printf("matmul n=%" PRIu32 " trace=%.4f total=%.4f hash=%016" PRIx64 "\n", n, trace, total,
           bits_hash);
    free(a);
    free(b);
    free(c);
    free(d);
    return 0;
}
