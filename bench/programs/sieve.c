/* Integer workload: the sieve of Eratosthenes.
 *
 * Usage: sieve [LIMIT]   (default 100000)
 * Sieves the integers below LIMIT several times and prints the number of
 * primes and a checksum of them.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 4

int main(int argc, char **argv) {
    uint32_t limit = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000u;
    if (limit < 2) {
        limit = 2;
    }
    uint8_t *composite = malloc(limit);
    if (composite == NULL) {
        fputs("out of memory\n", stderr);
        return 1;
    }
    uint32_t count = 0;
    uint64_t checksum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (uint32_t i = 0; i < limit; i++) {
            composite[i] = 0;
        }
        for (uint32_t i = 2; (uint64_t)i * i < limit; i++) {
            if (!composite[i]) {
                for (uint32_t j = i * i; j < limit; j += i) {
                    composite[j] = 1;
                }
            }
        }
        count = 0;
        checksum = 0;
        for (uint32_t i = 2; i < limit; i++) {
            if (!composite[i]) {
                count++;
                checksum = checksum * 31u + i;
            }
        }
    }
    free(composite);
    printf("sieve limit=%" PRIu32 " primes=%" PRIu32 " checksum=%016" PRIx64 "\n", limit, count,
           checksum);
    return 0;
}
