/* Our CPU kernels for the quantized mode (quant.py), called through ctypes (cpu_kernels.py).
 *
 * Matrix products with group-quantized weights: y[b, n] = sum_k w[n, k] * x[b, k], where
 * each group of G weights along a row has its own affine map, w[n, k] = scale[n, g] *
 * code[n, k] + low[n, g], g = k / G (low may be absent). Activations stay float32: the
 * weights are widened in registers, so nothing is rounded beyond the checkpoint's own codes
 * (except in `qmm_screen`, an output head's approximate first pass). Two code layouts:
 *
 *   i8: one signed byte per weight, G a multiple of 16 (Q8_0 and Q6_K codes);
 *   u4: two 4-bit codes per byte, G = 32 (64 in a head's screen, `qmm_screen`); byte j of
 *       a group holds code j in its low nibble and code j + G/2 in its high nibble (for
 *       G = 32, the layout of Q4_0/Q4_1 blocks);
 *   u5: u4 nibbles plus a plane of fifth bits `high` (4 bytes per group of 32: bit j of the
 *       little-endian word is code j's), the code standing for (nibble | bit << 4) - 16,
 *       -16..15: Q5_0's codes in 5/8 of a byte each instead of one. The u4 entry points
 *       take `high` (NULL: u4).
 *
 * Scales are float32, or float16 (`_f16` entry points) where the table is large and the
 * values came from fp16 anyway. Also here: `decode_layer`, a whole transformer layer's
 * decoding step, and `decode_layers`, a stack of them; `topk_rows`; `dequantize`, for
 * prompts. Rows of the output are shared among OpenMP threads; built against torch's libgomp
 * (same soname), the threads are torch's own.
 *
 * Built at run time by cpu_kernels.py with the machine's C compiler (-O3 -march=native);
 * the AVX2 path is used where the compiler targets it, plain C loops elsewhere (tested by
 * building without -march, tests/runtime/test_cpu_kernels.py).
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define QMM_AVX2 1
#else
#define QMM_AVX2 0
#endif

#define INLINE static inline __attribute__((always_inline))
#define MAX_ROWS 8 /* batch rows handled per pass over a weight row */
#define ROW_CHUNK 16 /* output rows per scheduling unit */

int qmm_has_avx2(void) { return QMM_AVX2; }

INLINE float half_to_float(uint16_t h) {
#if QMM_AVX2
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000 | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

INLINE float load_scale(const void *p, int64_t i, int f16) {
    return f16 ? half_to_float(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* Code j (0..31) of a u4 group, or of a u5 group (`hb` its 4 bytes of fifth bits). */
INLINE int group_code(const uint8_t *c, const uint8_t *hb, int j) {
    const int nib = j < 16 ? c[j] & 0x0F : c[j - 16] >> 4;
    return hb ? (nib | ((hb[j / 8] >> (j % 8)) & 1) << 4) - 16 : nib;
}

#if QMM_AVX2
INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE __m256 widen_i8(const int8_t *c) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)c)));
}

/* The 32 codes of a u4 group (`hb` NULL) or u5 group as bytes: codes 0..15 in `lo`,
 * 16..31 in `hi`; unsigned 0..15 for u4, signed -16..15 for u5. A u5 code is its nibble
 * minus 16 where its fifth bit is clear: the bits are spread to bytes (each byte of the
 * word copied 8 times, tested against one bit each). */
INLINE void group_bytes(const uint8_t *c, const uint8_t *hb, __m128i *lo, __m128i *hi) {
    const __m128i nibble = _mm_set1_epi8(0x0F);
    const __m128i q = _mm_loadu_si128((const __m128i *)c);
    *lo = _mm_and_si128(q, nibble);
    *hi = _mm_and_si128(_mm_srli_epi16(q, 4), nibble);
    if (hb) {
        uint32_t m;
        memcpy(&m, hb, sizeof m);
        const __m128i word = _mm_set1_epi32((int)m);
        const __m128i bits = _mm_set1_epi64x((long long)0x8040201008040201ULL);
        const __m128i sixteen = _mm_set1_epi8(16);
        const __m128i spread_lo = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
        const __m128i spread_hi = _mm_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        const __m128i set_lo = _mm_cmpeq_epi8(_mm_and_si128(_mm_shuffle_epi8(word, spread_lo), bits), bits);
        const __m128i set_hi = _mm_cmpeq_epi8(_mm_and_si128(_mm_shuffle_epi8(word, spread_hi), bits), bits);
        *lo = _mm_sub_epi8(*lo, _mm_andnot_si128(set_lo, sixteen));
        *hi = _mm_sub_epi8(*hi, _mm_andnot_si128(set_hi, sixteen));
    }
}

/* 8 bytes of `v` (the low ones, or after a byte shift) widened to floats: signed for u5. */
INLINE __m256 widen_bytes(__m128i v, const int is_signed) {
    return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v));
}

/* The 32 codes of a u4 (`hb` NULL) or u5 group as floats, codes 8j..8j+7 in v[j]. */
INLINE void group_floats(const uint8_t *c, const uint8_t *hb, __m256 v[4]) {
    const int five = hb != NULL;
    __m128i lo, hi;
    group_bytes(c, hb, &lo, &hi);
    v[0] = widen_bytes(lo, five);
    v[1] = widen_bytes(_mm_srli_si128(lo, 8), five);
    v[2] = widen_bytes(hi, five);
    v[3] = widen_bytes(_mm_srli_si128(hi, 8), five);
}

/* One weight row of i8 codes against nb (<= MAX_ROWS) activation rows. One accumulator per
 * activation row: two each (to break the chain of dependent FMAs) would take all 16 AVX2
 * registers at 8 rows, and the spills cost more than the chains (8 rows: 7% slower a step
 * as measured). */
INLINE void row_i8(const int8_t *c, const void *scale, const void *low, int64_t K, int G,
                   const float *x, int64_t ldx, const int nb, const int f16, float *out) {
    __m256 acc[MAX_ROWS];
    for (int b = 0; b < nb; b++) acc[b] = _mm256_setzero_ps();
    const int64_t groups = K / G;
    for (int64_t g = 0; g < groups; g++) {
        const __m256 vs = _mm256_set1_ps(load_scale(scale, g, f16));
        const __m256 vl = low ? _mm256_set1_ps(load_scale(low, g, f16)) : _mm256_setzero_ps();
        for (int j = 0; j < G; j += 16) {
            const int64_t k = g * G + j;
            const __m256 w0 = _mm256_fmadd_ps(widen_i8(c + k), vs, vl);
            const __m256 w1 = _mm256_fmadd_ps(widen_i8(c + k + 8), vs, vl);
            for (int b = 0; b < nb; b++) {
                const float *xb = x + b * ldx + k;
                acc[b] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb), acc[b]);
                acc[b] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + 8), acc[b]);
            }
        }
    }
    for (int b = 0; b < nb; b++) out[b] = hsum(acc[b]);
}

/* One weight row of packed u4 or u5 codes (G = 32) against nb activation rows. */
INLINE void row_u4(const uint8_t *c, const uint8_t *hb, const void *scale, const void *low,
                   int64_t K, const float *x, int64_t ldx, const int nb, const int f16,
                   float *out) {
    __m256 acc[MAX_ROWS];
    for (int b = 0; b < nb; b++) acc[b] = _mm256_setzero_ps();
    const int64_t groups = K / 32;
    const int five = hb != NULL;
    for (int64_t g = 0; g < groups; g++) {
        const __m256 vs = _mm256_set1_ps(load_scale(scale, g, f16));
        const __m256 vl = low ? _mm256_set1_ps(load_scale(low, g, f16)) : _mm256_setzero_ps();
        __m256 v[4];
        group_floats(c + g * 16, five ? hb + g * 4 : NULL, v);
        const __m256 w0 = _mm256_fmadd_ps(v[0], vs, vl), w1 = _mm256_fmadd_ps(v[1], vs, vl);
        const __m256 w2 = _mm256_fmadd_ps(v[2], vs, vl), w3 = _mm256_fmadd_ps(v[3], vs, vl);
        for (int b = 0; b < nb; b++) {
            const float *xb = x + b * ldx + g * 32;
            acc[b] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb), acc[b]);
            acc[b] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + 8), acc[b]);
            acc[b] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xb + 16), acc[b]);
            acc[b] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xb + 24), acc[b]);
        }
    }
    for (int b = 0; b < nb; b++) out[b] = hsum(acc[b]);
}
#else
INLINE void row_i8(const int8_t *c, const void *scale, const void *low, int64_t K, int G,
                   const float *x, int64_t ldx, const int nb, const int f16, float *out) {
    float acc[MAX_ROWS] = {0};
    for (int64_t g = 0; g < K / G; g++) {
        const float s = load_scale(scale, g, f16), l = low ? load_scale(low, g, f16) : 0.0f;
        for (int j = 0; j < G; j++) {
            const int64_t k = g * G + j;
            const float w = s * (float)c[k] + l;
            for (int b = 0; b < nb; b++) acc[b] += w * x[b * ldx + k];
        }
    }
    for (int b = 0; b < nb; b++) out[b] = acc[b];
}

INLINE void row_u4(const uint8_t *c, const uint8_t *hb, const void *scale, const void *low,
                   int64_t K, const float *x, int64_t ldx, const int nb, const int f16,
                   float *out) {
    float acc[MAX_ROWS] = {0};
    for (int64_t g = 0; g < K / 32; g++) {
        const float s = load_scale(scale, g, f16), l = low ? load_scale(low, g, f16) : 0.0f;
        const uint8_t *hg = hb ? hb + g * 4 : NULL;
        for (int j = 0; j < 16; j++) {
            const float w0 = s * (float)group_code(c + g * 16, hg, j) + l;
            const float w1 = s * (float)group_code(c + g * 16, hg, j + 16) + l;
            for (int b = 0; b < nb; b++) {
                acc[b] += w0 * x[b * ldx + g * 32 + j] + w1 * x[b * ldx + g * 32 + j + 16];
            }
        }
    }
    for (int b = 0; b < nb; b++) out[b] = acc[b];
}
#endif

/* An output head's screen: 4-bit codes in groups of SG = 64, byte j of a group holding code
 * j in its low nibble and code j + 32 in its high one, fp16 scale and low per group. Larger
 * groups than the layers' 32 halve the per-group work and the bytes of scales. */
#define SG 64

#if QMM_AVX2
/* One screen row against nb activation rows rounded to int8 per group of SG: 32 products
 * per instruction (maddubs), for an approximate score that exact rescoring then corrects.
 * xq [nb, K] int8 with xs [nb, K/SG] its scales, xsum [nb, K/SG] the exact sums of each
 * group (for the low term). Two 16-bit partial sums of at most 2 * 15 * 127 each cannot
 * overflow. */
INLINE void row_screen(const uint8_t *c, const uint16_t *scale, const uint16_t *low, int64_t K,
                       const int8_t *xq, const float *xs, const float *xsum, const int nb,
                       float *out) {
    __m256 acc[MAX_ROWS];
    for (int b = 0; b < nb; b++) acc[b] = _mm256_setzero_ps();
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    const int64_t groups = K / SG;
    for (int64_t g = 0; g < groups; g++) {
        const float s = _cvtsh_ss(scale[g]);
        if ((g & 1) == 0) _mm_prefetch((const char *)(c + 16 * (K / 2) + g * 32), _MM_HINT_T0);
        const __m256i q = _mm256_loadu_si256((const __m256i *)(c + g * 32));
        const __m256i lo = _mm256_and_si256(q, nibble);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
        for (int b = 0; b < nb; b++) {
            const int8_t *xb = xq + b * K + g * SG;
            const __m256i pairs = _mm256_add_epi16(
                _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)xb)),
                _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xb + 32))));
            const __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
            const __m256 sc = _mm256_set1_ps(s * xs[b * groups + g]);
            acc[b] = _mm256_fmadd_ps(f, sc, acc[b]);
        }
    }
    for (int b = 0; b < nb; b++) {
        const float *t = xsum + b * groups;
        int64_t g = 0;
        for (; g + 8 <= groups; g += 8) {
            const __m256 lw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(low + g)));
            acc[b] = _mm256_fmadd_ps(lw, _mm256_loadu_ps(t + g), acc[b]);
        }
        float total = hsum(acc[b]);
        for (; g < groups; g++) total += _cvtsh_ss(low[g]) * t[g];
        out[b] = total;
    }
}
#endif

/* The batch rows are walked in passes of MAX_ROWS per weight row: the row stays in cache
 * between passes, so the weights stream from memory once per call. */
#define DISPATCH(ROW, ...)                                                                   \
    do {                                                                                     \
        _Pragma("omp parallel for schedule(static)")                                         \
        for (int64_t n0 = 0; n0 < N; n0 += ROW_CHUNK) {                                      \
            const int64_t n1 = n0 + ROW_CHUNK < N ? n0 + ROW_CHUNK : N;                       \
            float out[MAX_ROWS];                                                             \
            for (int64_t n = n0; n < n1; n++) {                                              \
                for (int64_t b0 = 0; b0 < B; b0 += MAX_ROWS) {                               \
                    const int64_t nb = B - b0 < MAX_ROWS ? B - b0 : MAX_ROWS;                \
                    const float *xb = x + b0 * K;                                            \
                    switch (nb) {                                                            \
                        case 1: ROW(__VA_ARGS__, xb, K, 1, f16, out); break;                 \
                        case 2: ROW(__VA_ARGS__, xb, K, 2, f16, out); break;                 \
                        case 3: ROW(__VA_ARGS__, xb, K, 3, f16, out); break;                 \
                        case 4: ROW(__VA_ARGS__, xb, K, 4, f16, out); break;                 \
                        case 5: ROW(__VA_ARGS__, xb, K, 5, f16, out); break;                 \
                        case 6: ROW(__VA_ARGS__, xb, K, 6, f16, out); break;                 \
                        case 7: ROW(__VA_ARGS__, xb, K, 7, f16, out); break;                 \
                        default: ROW(__VA_ARGS__, xb, K, 8, f16, out); break;                \
                    }                                                                        \
                    for (int64_t b = 0; b < nb; b++) y[(b0 + b) * N + n] = out[b];            \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    } while (0)

#if QMM_AVX2
/* One activation row (decoding a single sequence): the loops above would leave one chain
 * of dependent FMAs per output row, so R = 4 weight rows are walked together here, each
 * group's partial dot product scaled once, and the offsets' share added at the end from
 * the group sums of x (`xsum`). The codes of the rows 2R further on are prefetched, one
 * cache line at a time: on a 2-core AMD EPYC the hardware prefetcher did not keep up with
 * R short rows at once (a decoding step 1.3x faster with it; batches, compute-bound, gain
 * nothing). */
INLINE float low_share(const void *low, int64_t at, int64_t groups, const float *xsum,
                       const int f16) {
    float total = 0.0f;
    for (int64_t g = 0; g < groups; g++) total += load_scale(low, at + g, f16) * xsum[g];
    return total;
}

INLINE void rows_i8_1(const int8_t *c, int64_t K, int G, const void *scale, const void *low,
                      int64_t at, const float *x, const float *xsum, const int f16,
                      const int R, float *out) {
    const int64_t groups = K / G;
    __m256 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < groups; g++) {
        __m256 part[4];
        for (int r = 0; r < R; r++) part[r] = _mm256_setzero_ps();
        if (((g * G) & 63) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(c + (r + 2 * R) * K + g * G), _MM_HINT_T0);
        for (int j = 0; j < G; j += 8) {
            const int64_t k = g * G + j;
            const __m256 xv = _mm256_loadu_ps(x + k);
            for (int r = 0; r < R; r++) part[r] = _mm256_fmadd_ps(widen_i8(c + r * K + k), xv, part[r]);
        }
        for (int r = 0; r < R; r++) {
            const __m256 vs = _mm256_set1_ps(load_scale(scale, at + r * groups + g, f16));
            acc[r] = _mm256_fmadd_ps(part[r], vs, acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        out[r] = hsum(acc[r]) + (low ? low_share(low, at + r * groups, groups, xsum, f16) : 0.0f);
    }
}

INLINE void rows_u4_1(const uint8_t *c, const uint8_t *hb, int64_t K, const void *scale,
                      const void *low, int64_t at, const float *x, const float *xsum,
                      const int f16, const int R, float *out) {
    const int64_t groups = K / 32;
    const int five = hb != NULL;
    __m256 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < groups; g++) {
        const float *xg = x + g * 32;
        const __m256 x0 = _mm256_loadu_ps(xg), x1 = _mm256_loadu_ps(xg + 8);
        const __m256 x2 = _mm256_loadu_ps(xg + 16), x3 = _mm256_loadu_ps(xg + 24);
        if ((g & 3) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(c + (r + 2 * R) * (K / 2) + g * 16), _MM_HINT_T0);
        if (five && (g & 15) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(hb + (r + 2 * R) * (K / 8) + g * 4), _MM_HINT_T0);
        for (int r = 0; r < R; r++) {
            __m256 v[4];
            group_floats(c + r * (K / 2) + g * 16, five ? hb + r * (K / 8) + g * 4 : NULL, v);
            __m256 part = _mm256_mul_ps(v[0], x0);
            part = _mm256_fmadd_ps(v[1], x1, part);
            part = _mm256_fmadd_ps(v[2], x2, part);
            part = _mm256_fmadd_ps(v[3], x3, part);
            const __m256 vs = _mm256_set1_ps(load_scale(scale, at + r * groups + g, f16));
            acc[r] = _mm256_fmadd_ps(part, vs, acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        out[r] = hsum(acc[r]) + (low ? low_share(low, at + r * groups, groups, xsum, f16) : 0.0f);
    }
}

/* y [N] = W x for one row x, W as i8 (packed = 0) or u4/u5 (packed = 1) codes; -1, with
 * nothing written, when its scratch memory cannot be had (the caller then takes the batch
 * kernels, which need none). */
static int qmv(const void *codes, const uint8_t *high, const void *scale, const void *low,
               int64_t N, int64_t K, int G, const float *x, float *y, const int f16,
               const int packed) {
    const int64_t groups = K / G;
    float *xsum = NULL;
    if (low) {
        xsum = (float *)malloc(sizeof(float) * (size_t)groups);
        if (!xsum) return -1;
        for (int64_t g = 0; g < groups; g++) {
            float t = 0.0f;
            for (int j = 0; j < G; j++) t += x[g * G + j];
            xsum[g] = t;
        }
    }
#pragma omp parallel for schedule(static)
    for (int64_t n0 = 0; n0 < N; n0 += ROW_CHUNK) {
        const int64_t n1 = n0 + ROW_CHUNK < N ? n0 + ROW_CHUNK : N;
        for (int64_t n = n0; n < n1;) {
            const int R = n1 - n >= 4 ? 4 : 1;
            if (packed) {
                const uint8_t *c = (const uint8_t *)codes + n * (K / 2);
                const uint8_t *hb = high ? high + n * (K / 8) : NULL;
                if (R == 4) rows_u4_1(c, hb, K, scale, low, n * groups, x, xsum, f16, 4, y + n);
                else rows_u4_1(c, hb, K, scale, low, n * groups, x, xsum, f16, 1, y + n);
            } else {
                const int8_t *c = (const int8_t *)codes + n * K;
                if (R == 4) rows_i8_1(c, K, G, scale, low, n * groups, x, xsum, f16, 4, y + n);
                else rows_i8_1(c, K, G, scale, low, n * groups, x, xsum, f16, 1, y + n);
            }
            n += R;
        }
    }
    free(xsum);
    return 0;
}
#endif

#define SCALE_AT(p, i) (f16 ? (const void *)((const uint16_t *)(p) + (i)) \
                            : (const void *)((const float *)(p) + (i)))

static void qmm_i8(const int8_t *codes, const void *scale, const void *low, int64_t N,
                   int64_t K, int G, const float *x, int64_t B, float *y, const int f16) {
#if QMM_AVX2
    if (B == 1 && qmv(codes, NULL, scale, low, N, K, G, x, y, f16, 0) == 0) return;
#endif
    const int64_t groups = K / G;
#define ROW_I8(c, s, l, G_, ...) row_i8(c, s, l, K, G_, __VA_ARGS__)
    DISPATCH(ROW_I8, codes + n * K, SCALE_AT(scale, n * groups),
             low ? SCALE_AT(low, n * groups) : NULL, G);
#undef ROW_I8
}

static void qmm_u4(const uint8_t *codes, const uint8_t *high, const void *scale,
                   const void *low, int64_t N, int64_t K, const float *x, int64_t B, float *y,
                   const int f16) {
#if QMM_AVX2
    if (B == 1 && qmv(codes, high, scale, low, N, K, 32, x, y, f16, 1) == 0) return;
#endif
    const int64_t groups = K / 32;
#define ROW_U4(c, h, s, l, ...) row_u4(c, h, s, l, K, __VA_ARGS__)
    DISPATCH(ROW_U4, codes + n * (K / 2), high ? high + n * (K / 8) : NULL,
             SCALE_AT(scale, n * groups), low ? SCALE_AT(low, n * groups) : NULL);
#undef ROW_U4
}

/* Entry points (ctypes): codes [N, K] (i8) or [N, K/2] (u4, u5), high [N, K/8] (u5; NULL:
 * u4); scale, low [N, K/G] (low may be NULL); x [B, K] and y [B, N] float32, contiguous. */
void qmm_i8_f32(const int8_t *codes, const float *scale, const float *low, int64_t N,
                int64_t K, int G, const float *x, int64_t B, float *y) {
    qmm_i8(codes, scale, low, N, K, G, x, B, y, 0);
}

void qmm_i8_f16(const int8_t *codes, const uint16_t *scale, const uint16_t *low, int64_t N,
                int64_t K, int G, const float *x, int64_t B, float *y) {
    qmm_i8(codes, scale, low, N, K, G, x, B, y, 1);
}

void qmm_u4_f32(const uint8_t *codes, const uint8_t *high, const float *scale,
                const float *low, int64_t N, int64_t K, const float *x, int64_t B, float *y) {
    qmm_u4(codes, high, scale, low, N, K, x, B, y, 0);
}

void qmm_u4_f16(const uint8_t *codes, const uint8_t *high, const uint16_t *scale,
                const uint16_t *low, int64_t N, int64_t K, const float *x, int64_t B, float *y) {
    qmm_u4(codes, high, scale, low, N, K, x, B, y, 1);
}

/* The screen's scores computed exactly from its codes (float activations): CPUs without
 * AVX2, and the fallback when scratch memory cannot be had. */
static void screen_exact(const uint8_t *codes, const uint16_t *scale, const uint16_t *low,
                         int64_t N, int64_t K, const float *x, int64_t B, float *y) {
    const int64_t groups = K / SG;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t b = 0; b < B; b++) {
            const float *xb = x + b * K;
            float total = 0.0f;
            for (int64_t g = 0; g < groups; g++) {
                const float s = half_to_float(scale[n * groups + g]);
                const float l = half_to_float(low[n * groups + g]);
                const uint8_t *c = codes + n * (K / 2) + g * (SG / 2);
                const float *xg = xb + g * SG;
                for (int j = 0; j < SG / 2; j++) {
                    total += (s * (float)(c[j] & 0x0F) + l) * xg[j];
                    total += (s * (float)(c[j] >> 4) + l) * xg[j + SG / 2];
                }
            }
            y[b * N + n] = total;
        }
    }
}

/* Approximate scores of an output head's screen (codes [N, K/2], scale and low [N, K/SG]
 * fp16) for x [B, K]: activations rounded to int8 per group of SG where AVX2 is available,
 * exact otherwise. */
void qmm_screen(const uint8_t *codes, const uint16_t *scale, const uint16_t *low, int64_t N,
                int64_t K, const float *x, int64_t B, float *y) {
#if QMM_AVX2
    const int64_t groups = K / SG;
    int8_t *xq = (int8_t *)malloc((size_t)(B * K));
    float *xs = (float *)malloc(sizeof(float) * (size_t)(B * groups));
    float *xsum = (float *)malloc(sizeof(float) * (size_t)(B * groups));
    if (!xq || !xs || !xsum) {
        free(xq), free(xs), free(xsum);
        screen_exact(codes, scale, low, N, K, x, B, y);
        return;
    }
    for (int64_t i = 0; i < B * groups; i++) {
        const float *v = x + i * SG;
        float amax = 0.0f, sum = 0.0f;
        for (int j = 0; j < SG; j++) {
            const float a = v[j] < 0 ? -v[j] : v[j];
            amax = a > amax ? a : amax;
            sum += v[j];
        }
        const float d = amax / 127.0f, inv = d > 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < SG; j++) xq[i * SG + j] = (int8_t)lrintf(v[j] * inv);
        xs[i] = d;
        xsum[i] = sum;
    }
#pragma omp parallel for schedule(static)
    for (int64_t n0 = 0; n0 < N; n0 += ROW_CHUNK) {
        const int64_t n1 = n0 + ROW_CHUNK < N ? n0 + ROW_CHUNK : N;
        float out[MAX_ROWS];
        for (int64_t n = n0; n < n1; n++) {
            for (int64_t b0 = 0; b0 < B; b0 += MAX_ROWS) {
                const int64_t nb = B - b0 < MAX_ROWS ? B - b0 : MAX_ROWS;
                const int8_t *q = xq + b0 * K;
                const float *s = xs + b0 * groups, *t = xsum + b0 * groups;
                const uint8_t *c = codes + n * (K / 2);
                const uint16_t *sc = scale + n * groups, *lo = low + n * groups;
                switch (nb) {
                    case 1: row_screen(c, sc, lo, K, q, s, t, 1, out); break;
                    case 2: row_screen(c, sc, lo, K, q, s, t, 2, out); break;
                    case 3: row_screen(c, sc, lo, K, q, s, t, 3, out); break;
                    case 4: row_screen(c, sc, lo, K, q, s, t, 4, out); break;
                    case 5: row_screen(c, sc, lo, K, q, s, t, 5, out); break;
                    case 6: row_screen(c, sc, lo, K, q, s, t, 6, out); break;
                    case 7: row_screen(c, sc, lo, K, q, s, t, 7, out); break;
                    default: row_screen(c, sc, lo, K, q, s, t, 8, out); break;
                }
                for (int64_t b = 0; b < nb; b++) y[(b0 + b) * N + n] = out[b];
            }
        }
    }
    free(xq), free(xs), free(xsum);
#else
    screen_exact(codes, scale, low, N, K, x, B, y);
#endif
}

/* ---- one decoding step of a transformer layer ------------------------------------------
 *
 * For a quantized model, the ~60 small torch operations of a decoding step per layer cost
 * more than its matrix products; this runs the whole layer for B rows at one position:
 *
 *   h = x + [post_attn_norm] (wo (attention (rope (qk_norm (wqkv (attn_norm (x)))))))
 *   x = h + [post_ffw_norm] (w2 (act (gate) * up)),  gate | up = w13 (ffn_norm (h))
 *
 * with keys and values written to the cache at `pos` (rows 0..B-1), attention over cached
 * positions [start, pos] (start = pos - window + 1 for a sliding-window layer), rotate-half
 * RoPE from the given cos/sin of this position, GQA (query head h reads key head h / group).
 * The caller (fast_decode.py) checks that its torch forward computes the same thing. */

typedef struct {
    const void *codes;
    const uint8_t *high; /* u5's fifth bits; NULL otherwise */
    const void *scale;
    const void *low; /* may be NULL */
    const float *bias; /* may be NULL */
    int64_t n, k;
    int32_t group, packed, half_scales, _pad;
} qlinear;

typedef struct {
    qlinear wqkv, wo, w13, w2;
    const float *attn_norm, *ffn_norm;
    const float *post_attn_norm, *post_ffw_norm; /* NULL: no sandwich norms */
    const float *q_norm, *k_norm; /* NULL: no QK norm */
    float *k_cache, *v_cache; /* [B_max, H_kv, S, D] */
    int64_t cache_len; /* S */
    int64_t window; /* 0: global attention */
    int64_t dim, n_heads, n_kv_heads, head_dim, hidden;
    float eps, attn_scale;
    int32_t gelu, _pad;
} layer_desc;

static void linear(const qlinear *l, const float *x, int64_t B, float *y) {
    if (l->packed)
        qmm_u4((const uint8_t *)l->codes, l->high, l->scale, l->low, l->n, l->k, x, B, y,
               l->half_scales);
    else
        qmm_i8((const int8_t *)l->codes, l->scale, l->low, l->n, l->k, l->group, x, B, y,
               l->half_scales);
    if (l->bias)
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < l->n; i++) y[b * l->n + i] += l->bias[i];
}

static void rmsnorm(const float *x, const float *w, int64_t d, float eps, float *out) {
    double ss = 0.0;
    for (int64_t i = 0; i < d; i++) ss += (double)x[i] * x[i];
    const float r = 1.0f / sqrtf((float)(ss / (double)d) + eps);
    for (int64_t i = 0; i < d; i++) out[i] = x[i] * r * w[i];
}

static void rope(float *v, const float *cos, const float *sin, int64_t d) {
    const int64_t half = d / 2;
    for (int64_t i = 0; i < half; i++) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cos[i] - b * sin[i];
        v[i + half] = b * cos[i + half] + a * sin[i + half];
    }
}

/* Four accumulators: one chain of dependent FMAs along a 256-wide head would wait on each
 * addition's latency. */
static float dot(const float *a, const float *b, int64_t n) {
#if QMM_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
#else
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
#endif
}

/* o [D] = sum_j w[j] v[j] over `span` rows of v (stride D). The output is built 64 values
 * at a time in registers, each pass streaming over the rows, rather than loaded and stored
 * again for every row. */
static void weighted_rows(const float *w, const float *v, int64_t span, int64_t D, float *o) {
    int64_t c = 0;
#if QMM_AVX2
    for (; c + 64 <= D; c += 64) {
        __m256 acc[8];
        for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_ps();
        for (int64_t j = 0; j < span; j++) {
            const __m256 wj = _mm256_set1_ps(w[j]);
            const float *vj = v + j * D + c;
            for (int r = 0; r < 8; r++) acc[r] = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 8 * r), acc[r]);
        }
        for (int r = 0; r < 8; r++) _mm256_storeu_ps(o + c + 8 * r, acc[r]);
    }
    for (; c + 8 <= D; c += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t j = 0; j < span; j++) acc = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(v + j * D + c), acc);
        _mm256_storeu_ps(o + c, acc);
    }
#endif
    for (; c < D; c++) {
        float t = 0.0f;
        for (int64_t j = 0; j < span; j++) t += w[j] * v[j * D + c];
        o[c] = t;
    }
}

#if QMM_AVX2
/* e^x for x in [-87, 87] (callers clamp): 2^(x log2 e) as 2^n * 2^f with |f| <= 1/2, 2^f by
 * its Taylor series to the 6th power (relative error about 1e-7). */
INLINE __m256 exp256(__m256 x) {
    const __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.4426950408889634f));
    const __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_mul_ps(_mm256_sub_ps(t, n), _mm256_set1_ps(0.6931471805599453f));
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif

/* act(gate) * up over F values. Both activations are gate * sigmoid(z): tanh-GELU has
 * z = 2 * sqrt(2/pi) * (g + 0.044715 g^3) (0.5 (1 + tanh(u)) = sigmoid(2u)), SiLU z = g. */
static void gated(const float *gate, int64_t F, int gelu, float *out) {
    const float *up = gate + F;
    int64_t i = 0;
#if QMM_AVX2
    const __m256 one = _mm256_set1_ps(1.0f), lim = _mm256_set1_ps(87.0f);
    for (; i + 8 <= F; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        __m256 z = g;
        if (gelu) {
            const __m256 g3 = _mm256_mul_ps(_mm256_mul_ps(g, g), g);
            z = _mm256_mul_ps(_mm256_set1_ps(1.5957691216057308f),
                              _mm256_fmadd_ps(g3, _mm256_set1_ps(0.044715f), g));
        }
        z = _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), z), _mm256_sub_ps(_mm256_setzero_ps(), lim)), lim);
        const __m256 a = _mm256_div_ps(g, _mm256_add_ps(one, exp256(z)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(a, _mm256_loadu_ps(up + i)));
    }
#endif
    for (; i < F; i++) {
        const float g = gate[i];
        const float z = gelu ? 1.5957691216057308f * (g + 0.044715f * g * g * g) : g;
        out[i] = g / (1.0f + expf(-z)) * up[i];
    }
}

/* 0 on success, -1 when scratch memory could not be had (nothing was changed then). */
int decode_layer(const layer_desc *L, float *x, int64_t B, int64_t pos, const float *cos,
                 const float *sin) {
    const int64_t D = L->head_dim, H = L->n_heads, Hkv = L->n_kv_heads, dim = L->dim;
    const int64_t qd = H * D, kvd = Hkv * D, qkv_n = qd + 2 * kvd, S = L->cache_len;
    const int64_t start = L->window > 0 && pos - L->window + 1 > 0 ? pos - L->window + 1 : 0;
    const int64_t span = pos - start + 1;
    if (B <= 0) return 0;
    const int64_t widest = qkv_n > 2 * L->hidden ? qkv_n : 2 * L->hidden;
    float *h = malloc(sizeof(float) * (size_t)(B * dim));
    float *big = malloc(sizeof(float) * (size_t)(B * widest));
    float *mid = malloc(sizeof(float) * (size_t)(B * (qd > L->hidden ? qd : L->hidden)));
    float *out = malloc(sizeof(float) * (size_t)(B * dim));
    float *scores = malloc(sizeof(float) * (size_t)(B * H * span));
    if (!h || !big || !mid || !out || !scores) {
        free(h), free(big), free(mid), free(out), free(scores);
        return -1;
    }
    /* attention */
    for (int64_t b = 0; b < B; b++) rmsnorm(x + b * dim, L->attn_norm, dim, L->eps, h + b * dim);
    linear(&L->wqkv, h, B, big);
    for (int64_t b = 0; b < B; b++) {
        float *q = big + b * qkv_n, *k = q + qd, *v = k + kvd;
        for (int64_t hh = 0; hh < H; hh++) {
            if (L->q_norm) rmsnorm(q + hh * D, L->q_norm, D, L->eps, q + hh * D);
            rope(q + hh * D, cos, sin, D);
        }
        for (int64_t hh = 0; hh < Hkv; hh++) {
            if (L->k_norm) rmsnorm(k + hh * D, L->k_norm, D, L->eps, k + hh * D);
            rope(k + hh * D, cos, sin, D);
            const int64_t at = ((b * Hkv + hh) * S + pos) * D;
            memcpy(L->k_cache + at, k + hh * D, sizeof(float) * (size_t)D);
            memcpy(L->v_cache + at, v + hh * D, sizeof(float) * (size_t)D);
        }
    }
    const int64_t group = H / Hkv;
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, hh = bh % H, kh = hh / group;
        const float *q = big + b * qkv_n + hh * D;
        const float *kc = L->k_cache + (b * Hkv + kh) * S * D, *vc = L->v_cache + (b * Hkv + kh) * S * D;
        float *sc = scores + bh * span, *o = mid + b * qd + hh * D;
        float best = -INFINITY, total = 0.0f;
        for (int64_t j = 0; j < span; j++) {
            sc[j] = dot(q, kc + (start + j) * D, D) * L->attn_scale;
            best = sc[j] > best ? sc[j] : best;
        }
        for (int64_t j = 0; j < span; j++) total += (sc[j] = expf(sc[j] - best));
        for (int64_t j = 0; j < span; j++) sc[j] /= total;
        weighted_rows(sc, vc + start * D, span, D, o);
    }
    linear(&L->wo, mid, B, out);
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * dim, *xb = x + b * dim;
        if (L->post_attn_norm) rmsnorm(o, L->post_attn_norm, dim, L->eps, o);
        for (int64_t i = 0; i < dim; i++) xb[i] += o[i];
    }
    /* feed-forward */
    for (int64_t b = 0; b < B; b++) rmsnorm(x + b * dim, L->ffn_norm, dim, L->eps, h + b * dim);
    linear(&L->w13, h, B, big);
    const int64_t F = L->hidden;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) gated(big + b * 2 * F, F, L->gelu, mid + b * F);
    linear(&L->w2, mid, B, out);
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * dim, *xb = x + b * dim;
        if (L->post_ffw_norm) rmsnorm(o, L->post_ffw_norm, dim, L->eps, o);
        for (int64_t i = 0; i < dim; i++) xb[i] += o[i];
    }
    free(h), free(big), free(mid), free(out), free(scores);
    return 0;
}

/* A whole decoding step of n layers, one call instead of one per layer (the embedded
 * model's 18 calls from Python: a step x1.035 faster at batch 1, x1.07 at 8). Layer i uses
 * the local RoPE table where local[i] is set, else the global one. 0 on success, -1 when a layer's scratch memory
 * could not be had (the layers before it have run). */
int decode_layers(const layer_desc *L, int64_t n, const uint8_t *local, float *x, int64_t B,
                  int64_t pos, const float *cos_global, const float *sin_global,
                  const float *cos_local, const float *sin_local) {
    for (int64_t i = 0; i < n; i++) {
        const float *cos = local[i] ? cos_local : cos_global;
        const float *sin = local[i] ? sin_local : sin_global;
        if (decode_layer(L + i, x, B, pos, cos, sin) != 0) return -1;
    }
    return 0;
}

/* The indices of the k largest values of each row of y [B, N] (in no particular order):
 * a min-heap of the best k so far, and a scan that compares 8 values at a time with its
 * smallest, so that most of the row costs one comparison. */
static void sift_down(float *val, int64_t *idx, int k, int at) {
    for (;;) {
        int l = 2 * at + 1, r = l + 1, m = at;
        if (l < k && val[l] < val[m]) m = l;
        if (r < k && val[r] < val[m]) m = r;
        if (m == at) return;
        float tv = val[at]; val[at] = val[m]; val[m] = tv;
        int64_t ti = idx[at]; idx[at] = idx[m]; idx[m] = ti;
        at = m;
    }
}

static void heap_offer(float *val, int64_t *idx, int k, float v, int64_t i) {
    if (!(v > val[0])) return;
    val[0] = v, idx[0] = i;
    sift_down(val, idx, k, 0);
}

int topk_rows(const float *y, int64_t B, int64_t N, int k, int64_t *out) {
    if (k <= 0 || k > N || k > 4096) return -1; /* the heap lives on the stack */
#pragma omp parallel for schedule(static) if (B > 1)
    for (int64_t b = 0; b < B; b++) {
        const float *row = y + b * N;
        int64_t *idx = out + b * k;
        float val[k];
        for (int i = 0; i < k; i++) val[i] = row[i], idx[i] = i;
        for (int i = k / 2 - 1; i >= 0; i--) sift_down(val, idx, k, i);
        int64_t i = k;
#if QMM_AVX2
        for (; i + 8 <= N; i += 8) {
            const __m256 v = _mm256_loadu_ps(row + i);
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(val[0]), _CMP_GT_OQ));
            while (mask) {
                const int j = __builtin_ctz(mask);
                heap_offer(val, idx, k, row[i + j], i + j);
                mask &= mask - 1;
            }
        }
#endif
        for (; i < N; i++) heap_offer(val, idx, k, row[i], i);
    }
    return 0;
}

/* Exact scores of chosen rows of an int8 table (w = scale * code, one float32 scale per
 * group of 32; an output head's Q8_0 codes): out [B, C] = rows ids [B, C] of the table
 * against x [B, K]. The rescoring that follows a screen. */
void rescore_rows(const int8_t *codes, const float *scale, int64_t K, const int64_t *ids,
                  int64_t B, int64_t C, const float *x, float *out) {
    const int64_t groups = K / 32;
#pragma omp parallel for schedule(static) if (B * C >= 256)
    for (int64_t i = 0; i < B * C; i++) {
        const int64_t row = ids[i];
        const int8_t *c = codes + row * K;
        const float *s = scale + row * groups, *xb = x + (i / C) * K;
        float total = 0.0f;
        for (int64_t g = 0; g < groups; g++) {
            float part = 0.0f;
            for (int j = 0; j < 32; j++) part += (float)c[g * 32 + j] * xb[g * 32 + j];
            total += part * s[g];
        }
        out[i] = total;
    }
}

#if QMM_AVX2
/* scale * code + low rounded twice, as the checkpoint's own dequantization computes it
 * (one fused multiply-add would differ in the last bit where low is not 0). */
INLINE __m256 affine(__m256 code, __m256 scale, __m256 low) {
    return _mm256_add_ps(_mm256_mul_ps(code, scale), low);
}
#endif

/* Group g of row n's weights, w = scale * code + low, into `w` (G floats). */
INLINE void dequantize_group(const void *codes, const uint8_t *high, float s, float l,
                             int64_t n, int64_t g, int64_t K, int G, int packed, float *w) {
#if QMM_AVX2
    const __m256 vs = _mm256_set1_ps(s), vl = _mm256_set1_ps(l);
    if (packed && G == 32) {
        const uint8_t *c = (const uint8_t *)codes + n * (K / 2) + g * 16;
        __m256 v[4];
        group_floats(c, high ? high + n * (K / 8) + g * 4 : NULL, v);
        for (int j = 0; j < 4; j++) _mm256_storeu_ps(w + 8 * j, affine(v[j], vs, vl));
        return;
    }
    if (!packed) {
        const int8_t *c = (const int8_t *)codes + n * K + g * G;
        for (int j = 0; j < G; j += 8) _mm256_storeu_ps(w + j, affine(widen_i8(c + j), vs, vl));
        return;
    }
#endif
    if (packed && high) { /* G = 32 */
        const uint8_t *c = (const uint8_t *)codes + n * (K / 2) + g * 16;
        const uint8_t *hb = high + n * (K / 8) + g * 4;
        for (int j = 0; j < 32; j++) w[j] = s * (float)group_code(c, hb, j) + l;
    } else if (packed) { /* any even G: byte j holds codes j and j + G/2 */
        const uint8_t *c = (const uint8_t *)codes + n * (K / 2) + g * (G / 2);
        for (int j = 0; j < G / 2; j++) {
            w[j] = s * (float)(c[j] & 0x0F) + l;
            w[j + G / 2] = s * (float)(c[j] >> 4) + l;
        }
    } else {
        const int8_t *c = (const int8_t *)codes + n * K + g * G;
        for (int j = 0; j < G; j++) w[j] = s * (float)c[j] + l;
    }
}

/* fp32 to bf16 as torch rounds it: to nearest, ties to even (the weights hold no NaNs). */
INLINE uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* The weight [N, K] that i8 (packed = 0) or u4/u5 (packed = 1; u5 where `high` is given)
 * codes stand for, in one pass: prompts multiply many rows at once, which torch's own matrix
 * products do best. float32, or (bf16 = 1) bfloat16 rounded from the same float32 values:
 * half the bytes written, and no second pass to convert them. */
void dequantize(const void *codes, const uint8_t *high, const void *scale, const void *low,
                int64_t N, int64_t K, int G, int packed, int f16, int bf16, void *out) {
    const int64_t groups = K / G;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float w[G]; /* one group, for bf16 */
        for (int64_t g = 0; g < groups; g++) {
            const float s = load_scale(scale, n * groups + g, f16);
            const float l = low ? load_scale(low, n * groups + g, f16) : 0.0f;
            const int64_t at = n * K + g * G;
            if (!bf16) {
                dequantize_group(codes, high, s, l, n, g, K, G, packed, (float *)out + at);
                continue;
            }
            dequantize_group(codes, high, s, l, n, g, K, G, packed, w);
            uint16_t *o = (uint16_t *)out + at;
            for (int j = 0; j < G; j++) o[j] = to_bf16(w[j]);
        }
    }
}
