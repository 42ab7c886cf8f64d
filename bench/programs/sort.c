/* Sorting workload: quicksort and merge sort of a pseudo-random array.
 *
 * Usage: sort [N]   (default 20000)
 * Fills an array of N 32-bit integers from a xorshift generator, sorts one
 * copy with an in-place quicksort (median of three, insertion sort for short
 * ranges) and another with a bottom-up merge sort, checks they agree, and
 * prints a position-weighted checksum of the sorted array.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng_state = 0x9E3779B9u;

static uint32_t xorshift32(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static void insertion_sort(int32_t *a, int32_t lo, int32_t hi) {
    for (int32_t i = lo + 1; i <= hi; i++) {
        int32_t v = a[i];
        int32_t j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void swap(int32_t *a, int32_t i, int32_t j) {
    int32_t t = a[i];
    a[i] = a[j];
    a[j] = t;
}

static void quicksort(int32_t *a, int32_t lo, int32_t hi) {
    while (hi - lo > 16) {
        int32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap(a, mid, lo);
        if (a[hi] < a[lo]) swap(a, hi, lo);
        if (a[hi] < a[mid]) swap(a, hi, mid);
        int32_t pivot = a[mid];
        int32_t i = lo;
        int32_t j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                swap(a, i, j);
                i++;
                j--;
            }
        }
        /* Recurse into the smaller half so the stack stays logarithmic. */
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

static void merge_sort(int32_t *a, int32_t *tmp, uint32_t n) {
    for (uint32_t width = 1; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = lo + width < n ? lo + width : n;
            uint32_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof(int32_t));
    }
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 20000u;
    if (n < 1) {
        n = 1;
    }
    int32_t *quick = malloc(n * sizeof(int32_t));
    int32_t *merged = malloc(n * sizeof(int32_t));
    int32_t *tmp = malloc(n * sizeof(int32_t));
    if (quick == NULL || merged == NULL || tmp == NULL) {
        fputs("out of memory\n", stderr);
        return 1;
    }
    for (uint32_t i = 0; i < n; i++) {
        quick[i] = (int32_t)(xorshift32() % 1000003u) - 500000;
        merged[i] = quick[i];
    }
    quicksort(quick, 0, (int32_t)n - 1);
    merge_sort(merged, tmp, n);
    int agree = memcmp(quick, merged, n * sizeof(int32_t)) == 0;
    uint64_t checksum = 0;
    for (uint32_t i = 0; i < n; i++) {
        checksum = checksum * 1000003u + (uint64_t)(uint32_t)quick[i] * (i + 1u);
    }
    printf("sort n=%" PRIu32 " min=%" PRId32 " median=%" PRId32 " max=%" PRId32
           " checksum=%016" PRIx64 " agree=%s\n",
           n, quick[0], quick[n / 2], quick[n - 1], checksum, agree ? "yes" : "NO");
    free(quick);
    free(merged);
    free(tmp);
    return agree ? 0 : 1;
}
