/* train_rng.c — xoshiro256** (Blackman & Vigna) seeded through splitmix64.
 * Every random choice in training (shuffles, post sampling, dropout masks,
 * augmentation) draws from one of these in a fixed order on one thread, so a
 * run is reproducible given the seed (and, for float sums inside BLAS, the
 * thread count). */
#include "train.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(ipf_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(ipf_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float rng_uniform(ipf_rng *r) { return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f); }

float rng_range(ipf_rng *r, float lo, float hi) { return lo + (hi - lo) * rng_uniform(r); }

uint64_t rng_below(ipf_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* accept [0, limit) only */
    uint64_t x;
    do x = rng_next(r);
    while (x >= limit);
    return x % n;
}

void rng_shuffle(ipf_rng *r, int *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
