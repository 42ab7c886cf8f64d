/* Byte-processing workload: CRC-32 and a small LZ77-style compressor.
 *
 * Usage: crc32 [KIB]   (default 64)
 * Generates KIB kibibytes of compressible pseudo-random text, compresses it
 * with a greedy hash-chained LZ77 coder, decompresses it again, and prints
 * the CRC-32 of the input, the compressed size and whether the round trip
 * reproduced the input.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BITS 14
#define MIN_MATCH 4
#define MAX_MATCH 130
#define WINDOW 4096

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *data, size_t len) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c = crc_table[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFu;
}

static uint32_t rng_state = 0x12345678u;

static uint32_t xorshift32(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static void make_input(uint8_t *buf, size_t len) {
    static const char *const words[] = {
        "wasm ", "module ", "function ", "memory ", "table ", "global ", "export ",
        "import ", "i32.add ", "local.get ", "br_if ", "call ", "\n",
    };
    size_t pos = 0;
    while (pos < len) {
        const char *w = words[xorshift32() % 13u];
        size_t wl = strlen(w);
        for (size_t i = 0; i < wl && pos < len; i++) {
            buf[pos++] = (uint8_t)w[i];
        }
        if ((xorshift32() & 7u) == 0 && pos < len) {
            buf[pos++] = (uint8_t)('0' + xorshift32() % 10u);
        }
    }
}

/* Output format: a literal run is a byte 0..127 (run length - 1) followed by
 * the bytes; a match is a byte 128 + (length - MIN_MATCH) followed by a
 * two-byte little-endian distance. */
static size_t compress(const uint8_t *in, size_t len, uint8_t *out) {
    static int32_t head[1 << HASH_BITS];
    for (size_t i = 0; i < (1u << HASH_BITS); i++) {
        head[i] = -1;
    }
    size_t o = 0;
    size_t lit_start = 0;
    size_t i = 0;
    while (i < len) {
        size_t best_len = 0;
        size_t best_dist = 0;
        if (i + MIN_MATCH <= len) {
            uint32_t h = ((uint32_t)in[i] | (uint32_t)in[i + 1] << 8 | (uint32_t)in[i + 2] << 16 |
                          (uint32_t)in[i + 3] << 24) *
                         2654435761u >> (32 - HASH_BITS);
            int32_t cand = head[h];
            head[h] = (int32_t)i;
            if (cand >= 0 && i - (size_t)cand <= WINDOW) {
                size_t m = 0;
                while (i + m < len && m < MAX_MATCH && in[(size_t)cand + m] == in[i + m]) {
                    m++;
                }
                if (m >= MIN_MATCH) {
                    best_len = m;
                    best_dist = i - (size_t)cand;
                }
            }
        }
        if (best_len == 0) {
            i++;
            if (i - lit_start == 128) {
                out[o++] = 127;
                memcpy(out + o, in + lit_start, 128);
                o += 128;
                lit_start = i;
            }
            continue;
        }
        if (i > lit_start) {
            out[o++] = (uint8_t)(i - lit_start - 1);
            memcpy(out + o, in + lit_start, i - lit_start);
            o += i - lit_start;
        }
        out[o++] = (uint8_t)(128 + best_len - MIN_MATCH);
        out[o++] = (uint8_t)(best_dist & 0xFFu);
        out[o++] = (uint8_t)(best_dist >> 8);
        i += best_len;
        lit_start = i;
    }
    if (i > lit_start) {
        out[o++] = (uint8_t)(i - lit_start - 1);
        memcpy(out + o, in + lit_start, i - lit_start);
        o += i - lit_start;
    }
    return o;
}

static size_t decompress(const uint8_t *in, size_t len, uint8_t *out) {
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t tag = in[i++];
        if (tag < 128) {
            size_t run = (size_t)tag + 1;
            memcpy(out + o, in + i, run);
            i += run;
            o += run;
        } else {
            size_t m = (size_t)tag - 128 + MIN_MATCH;
            size_t dist = (size_t)in[i] | (size_t)in[i + 1] << 8;
            i += 2;
            for (size_t k = 0; k < m; k++) {
                out[o + k] = out[o - dist + k];
            }
            o += m;
        }
    }
    return o;
}

int main(int argc, char **argv) {
    uint32_t kib = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 64u;
    if (kib < 1) {
        kib = 1;
    }
    size_t len = (size_t)kib * 1024u;
    uint8_t *input = malloc(len);
    uint8_t *packed = malloc(len + len / 64 + 16);
    uint8_t *unpacked = malloc(len);
    if (input == NULL || packed == NULL || unpacked == NULL) {
        fputs("out of memory\n", stderr);
        return 1;
    }
    crc_init();
    make_input(input, len);
    uint32_t crc = crc32(input, len);
    size_t packed_len = compress(input, len, packed);
    uint32_t packed_crc = crc32(packed, packed_len);
    size_t unpacked_len = decompress(packed, packed_len, unpacked);
    int ok = unpacked_len == len && memcmp(input, unpacked, len) == 0;
    printf("crc32 kib=%" PRIu32 " crc=%08" PRIx32 " packed=%" PRIu64 " packed_crc=%08" PRIx32
           " roundtrip=%s\n",
           kib, crc, (uint64_t)packed_len, packed_crc, ok ? "ok" : "FAILED");
    free(input);
    free(packed);
    free(unpacked);
    return ok ? 0 : 1;
}
