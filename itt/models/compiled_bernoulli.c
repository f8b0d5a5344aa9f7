/* torch's CPU Tensor.bernoulli_(p) loop where torch draws serially (itt/models/compiled_bernoulli.py):
 * per element two 32-bit Mersenne-Twister outputs r1, r2, u = ((r1 & (2^21 - 1)) << 32 | r2) / 2^53,
 * value = u < p, in the generator's own state, so the masks and the generator's next draw are torch's.
 * u < p is compared as integers: m < ceil(p * 2^53) for the 53-bit m, which is the same test. */
#include <stdint.h>
#include <string.h>

#define N 624
#define M 397
#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE uint32_t twist(uint32_t u, uint32_t v) {
    return (((u & 0x80000000u) | (v & 0x7fffffffu)) >> 1) ^ ((uint32_t)(-(int32_t)(v & 1u)) & 0x9908b0dfu);
}

ALWAYS_INLINE void next_state(uint32_t *s) {
    int k;
    for (k = 0; k < N - M; k++) s[k] = s[k + M] ^ twist(s[k], s[k + 1]);
    for (; k < N - 1; k++) s[k] = s[k + M - N] ^ twist(s[k], s[k + 1]);
    s[N - 1] = s[M - 1] ^ twist(s[N - 1], s[0]);
}

ALWAYS_INLINE uint32_t temper(uint32_t y) {
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

/* The next n outputs into out. torch's engine: "if (--left == 0) refill; return temper(state[next++])". */
ALWAYS_INLINE void draws(uint32_t *s, int32_t *left, uint64_t *next, uint32_t *out, int64_t n) {
    while (n > 0) {
        if (*left == 1) { next_state(s); *left = N + 1; *next = 0; }
        int64_t take = *left - 1;
        if (take > n) take = n;
        const uint32_t *src = s + *next;
        for (int64_t j = 0; j < take; j++) out[j] = temper(src[j]);
        out += take; n -= take; *next += take; *left -= (int32_t)take;
    }
}

#define CHUNK 2048
#define FILL(T) { T *o = (T *)out + base; for (int64_t i = 0; i < m; i++) { \
    uint64_t v = ((uint64_t)(buf[2 * i] & 0x1FFFFFu) << 32) | buf[2 * i + 1]; o[i] = v < threshold ? (T)one : 0; } }

/* st: the bytes of torch.Generator.get_state() (THGeneratorState: the_initial_seed u64, left i32,
 * seeded i32, next u64, state u64[624], ...), updated in place. out: n elements of elsize bytes in
 * memory order, each set to `one` (the bit pattern of 1 in the tensor's dtype) or 0. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void itt_bernoulli(uint8_t *st, void *out, int64_t n, int elsize, uint64_t one, uint64_t threshold) {
    uint32_t buf[2 * CHUNK], s[N];
    uint64_t wide[N], next;
    int32_t left;
    memcpy(&left, st + 8, 4);
    memcpy(&next, st + 16, 8);
    memcpy(wide, st + 24, sizeof wide);
    for (int k = 0; k < N; k++) s[k] = (uint32_t)wide[k];
    for (int64_t base = 0; base < n; base += CHUNK) {
        int64_t m = n - base < CHUNK ? n - base : CHUNK;
        draws(s, &left, &next, buf, 2 * m);
        switch (elsize) {
        case 1: FILL(uint8_t) break;
        case 2: FILL(uint16_t) break;
        case 4: FILL(uint32_t) break;
        default: FILL(uint64_t) break;
        }
    }
    for (int k = 0; k < N; k++) wide[k] = s[k];
    memcpy(st + 8, &left, 4);
    memcpy(st + 16, &next, 8);
    memcpy(st + 24, wide, sizeof wide);
}
