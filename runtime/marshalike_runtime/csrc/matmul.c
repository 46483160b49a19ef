/* Matrix products of group-quantized weights with float32 activations: i8, u4 and u5
 * codes, float32 or float16 scales. Batches walk each weight row once for up to MAX_ROWS
 * activation rows; a single row (decoding one sequence) walks four weight rows at once.
 * Either way each row's result is the same to the last bit (see row_i8). The rows are
 * 16 floats wide where the CPU has AVX-512 (F and BW), 8 wide with AVX2: on a 2-core Intel
 * Xeon with AVX-512 the layers' products of 16 rows took 11% less time (27.7 ms a decoding
 * step against 31.1). The two add the same products in another order.
 *
 * Compiled as part of qmatmul.c, in one translation unit with the other parts.
 */

#include "common.h"

#if QMM_AVX2
/* Every row is computed as `qmv` computes a single one (rows_i8_1, rows_u4_1, below): per
 * group a chain of FMAs of the codes with x, scaled once, and the offsets' share added at
 * the end from x's group sums. So a row's result never depends on how many rows share the
 * call: a sequence decoded in a batch gets the logits it gets alone, to the last bit, and
 * greedy decoding the same tokens. One accumulator per activation row: two each (to break
 * the chain of dependent FMAs) would take all 16 AVX2 registers at 8 rows, and the spills
 * cost more than the chains. */
INLINE float low_share(const void *low, int64_t at, int64_t groups, const float *xsum,
                       const int f16) {
    float total = 0.0f;
    for (int64_t g = 0; g < groups; g++) total = fmaf(load_scale(low, at + g, f16), xsum[g], total);
    return total;
}

/* `low_share` of nb rows at once, lane b for row b, each the same FMAs in the same order:
 * xs [groups, stride], row b's sum of group g at xs[g * stride + b] (read 8 wide: the
 * sums are padded). The lanes past nb are not used. */
INLINE void low_shares(const void *low, int64_t groups, const float *xs, int64_t stride,
                       const int f16, float share[MAX_ROWS]) {
    __m256 total = _mm256_setzero_ps();
    for (int64_t g = 0; g < groups; g++)
        total = _mm256_fmadd_ps(_mm256_set1_ps(load_scale(low, g, f16)),
                                _mm256_loadu_ps(xs + g * stride), total);
    _mm256_storeu_ps(share, total);
}

/* The vector the layers' rows work in: 16 floats where the CPU has AVX-512, else 8. Each
 * function below is written once over it, so both widths make the same chains. */
#if QMM_AVX512
typedef __m512 vec;
#define LANES 16
#define VZERO _mm512_setzero_ps
#define VLOAD _mm512_loadu_ps
#define VSET1 _mm512_set1_ps
#define VMUL _mm512_mul_ps
#define VFMADD _mm512_fmadd_ps
#define VSUM _mm512_reduce_add_ps

INLINE vec widen_lanes_i8(const int8_t *c) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)c)));
}

/* The 32 codes of a u4 (`hb` NULL) or u5 group as floats, codes 16j..16j+15 in v[j]. */
INLINE void group_lanes(const uint8_t *c, const uint8_t *hb, vec v[32 / LANES]) {
    __m128i lo, hi;
    group_bytes(c, hb, &lo, &hi);
    v[0] = _mm512_cvtepi32_ps(hb ? _mm512_cvtepi8_epi32(lo) : _mm512_cvtepu8_epi32(lo));
    v[1] = _mm512_cvtepi32_ps(hb ? _mm512_cvtepi8_epi32(hi) : _mm512_cvtepu8_epi32(hi));
}
#else
typedef __m256 vec;
#define LANES 8
#define VZERO _mm256_setzero_ps
#define VLOAD _mm256_loadu_ps
#define VSET1 _mm256_set1_ps
#define VMUL _mm256_mul_ps
#define VFMADD _mm256_fmadd_ps
#define VSUM hsum
#define widen_lanes_i8 widen_i8
#define group_lanes group_floats
#endif

/* One u4/u5 group's products: its codes `v` with x's 32 values `xv`, one chain. */
INLINE vec group_dot(const vec v[32 / LANES], const vec xv[32 / LANES]) {
    vec part = VMUL(v[0], xv[0]);
    for (int i = 1; i < 32 / LANES; i++) part = VFMADD(v[i], xv[i], part);
    return part;
}

INLINE void load_group(const float *x, vec xv[32 / LANES]) {
    for (int i = 0; i < 32 / LANES; i++) xv[i] = VLOAD(x + i * LANES);
}

/* Each row's sum of its products plus its offsets' share: what rows_*_1 add. */
INLINE void row_totals(const vec *acc, const void *low, int64_t groups, const float *xs,
                       int64_t stride, const int nb, const int f16, float *out) {
    float share[MAX_ROWS] = {0};
    if (low) low_shares(low, groups, xs, stride, f16, share);
    for (int b = 0; b < nb; b++) out[b] = VSUM(acc[b]) + share[b];
}

/* One weight row of i8 codes against nb (<= MAX_ROWS) activation rows; xs, stride: their
 * group sums (`low_shares`). */
INLINE void row_i8(const int8_t *c, const void *scale, const void *low, int64_t K, int G,
                   const float *x, const float *xs, int64_t stride, int64_t ldx, const int nb,
                   const int f16, float *out) {
    vec acc[MAX_ROWS];
    for (int b = 0; b < nb; b++) acc[b] = VZERO();
    const int64_t groups = K / G;
    for (int64_t g = 0; g < groups; g++) {
        vec part[MAX_ROWS];
        for (int b = 0; b < nb; b++) part[b] = VZERO();
        for (int j = 0; j < G; j += LANES) {
            const int64_t k = g * G + j;
            const vec w = widen_lanes_i8(c + k);
            for (int b = 0; b < nb; b++) part[b] = VFMADD(w, VLOAD(x + b * ldx + k), part[b]);
        }
        const vec vs = VSET1(load_scale(scale, g, f16));
        for (int b = 0; b < nb; b++) acc[b] = VFMADD(part[b], vs, acc[b]);
    }
    row_totals(acc, low, groups, xs, stride, nb, f16, out);
}

/* One weight row of packed u4 or u5 codes (G = 32) against nb activation rows. */
INLINE void row_u4(const uint8_t *c, const uint8_t *hb, const void *scale, const void *low,
                   int64_t K, const float *x, const float *xs, int64_t stride, int64_t ldx,
                   const int nb, const int f16, float *out) {
    vec acc[MAX_ROWS];
    for (int b = 0; b < nb; b++) acc[b] = VZERO();
    const int64_t groups = K / 32;
    for (int64_t g = 0; g < groups; g++) {
        vec v[32 / LANES];
        group_lanes(c + g * 16, hb ? hb + g * 4 : NULL, v);
        const vec vs = VSET1(load_scale(scale, g, f16));
        for (int b = 0; b < nb; b++) {
            vec xv[32 / LANES];
            load_group(x + b * ldx + g * 32, xv);
            acc[b] = VFMADD(group_dot(v, xv), vs, acc[b]);
        }
    }
    row_totals(acc, low, groups, xs, stride, nb, f16, out);
}
#else
INLINE void row_i8(const int8_t *c, const void *scale, const void *low, int64_t K, int G,
                   const float *x, const float *xs, int64_t stride, int64_t ldx, const int nb,
                   const int f16, float *out) {
    (void)xs, (void)stride;
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
                   int64_t K, const float *x, const float *xs, int64_t stride, int64_t ldx,
                   const int nb, const int f16, float *out) {
    (void)xs, (void)stride;
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
                    const float *sb = xsum ? xsum + b0 : NULL;                               \
                    switch (nb) {                                                            \
                        case 1: ROW(__VA_ARGS__, xb, sb, B, K, 1, f16, out); break;          \
                        case 2: ROW(__VA_ARGS__, xb, sb, B, K, 2, f16, out); break;          \
                        case 3: ROW(__VA_ARGS__, xb, sb, B, K, 3, f16, out); break;          \
                        case 4: ROW(__VA_ARGS__, xb, sb, B, K, 4, f16, out); break;          \
                        case 5: ROW(__VA_ARGS__, xb, sb, B, K, 5, f16, out); break;          \
                        case 6: ROW(__VA_ARGS__, xb, sb, B, K, 6, f16, out); break;          \
                        case 7: ROW(__VA_ARGS__, xb, sb, B, K, 7, f16, out); break;          \
                        default: ROW(__VA_ARGS__, xb, sb, B, K, 8, f16, out); break;         \
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
INLINE void rows_i8_1(const int8_t *c, int64_t K, int G, const void *scale, const void *low,
                      int64_t at, const float *x, const float *xsum, const int f16,
                      const int R, float *out) {
    const int64_t groups = K / G;
    vec acc[4];
    for (int r = 0; r < R; r++) acc[r] = VZERO();
    for (int64_t g = 0; g < groups; g++) {
        vec part[4];
        for (int r = 0; r < R; r++) part[r] = VZERO();
        if (((g * G) & 63) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(c + (r + 2 * R) * K + g * G), _MM_HINT_T0);
        for (int j = 0; j < G; j += LANES) {
            const int64_t k = g * G + j;
            const vec xv = VLOAD(x + k);
            for (int r = 0; r < R; r++) part[r] = VFMADD(widen_lanes_i8(c + r * K + k), xv, part[r]);
        }
        for (int r = 0; r < R; r++) {
            const vec vs = VSET1(load_scale(scale, at + r * groups + g, f16));
            acc[r] = VFMADD(part[r], vs, acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        out[r] = VSUM(acc[r]) + (low ? low_share(low, at + r * groups, groups, xsum, f16) : 0.0f);
    }
}

INLINE void rows_u4_1(const uint8_t *c, const uint8_t *hb, int64_t K, const void *scale,
                      const void *low, int64_t at, const float *x, const float *xsum,
                      const int f16, const int R, float *out) {
    const int64_t groups = K / 32;
    const int five = hb != NULL;
    vec acc[4];
    for (int r = 0; r < R; r++) acc[r] = VZERO();
    for (int64_t g = 0; g < groups; g++) {
        vec xv[32 / LANES];
        load_group(x + g * 32, xv);
        if ((g & 3) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(c + (r + 2 * R) * (K / 2) + g * 16), _MM_HINT_T0);
        if (five && (g & 15) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(hb + (r + 2 * R) * (K / 8) + g * 4), _MM_HINT_T0);
        for (int r = 0; r < R; r++) {
            vec v[32 / LANES];
            group_lanes(c + r * (K / 2) + g * 16, five ? hb + r * (K / 8) + g * 4 : NULL, v);
            const vec vs = VSET1(load_scale(scale, at + r * groups + g, f16));
            acc[r] = VFMADD(group_dot(v, xv), vs, acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        out[r] = VSUM(acc[r]) + (low ? low_share(low, at + r * groups, groups, xsum, f16) : 0.0f);
    }
}

/* y [N] = W x for one row x, W as i8 (packed = 0) or u4/u5 (packed = 1) codes; xsum: x's
 * group sums (`group_sums`), NULL where there is no `low`. */
static void qmv(const void *codes, const uint8_t *high, const void *scale, const void *low,
                int64_t N, int64_t K, int G, const float *x, const float *xsum, float *y,
                const int f16, const int packed) {
    const int64_t groups = K / G;
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
}
#endif

/* The sums of each group of G values of x [B, K], added in order, for the offsets' share:
 * [K/G, B] (group-major, so `low_shares` reads the rows of a pass 8 wide; 8 more floats of
 * padding); NULL when the memory cannot be had. */
static float *group_sums(const float *x, int64_t B, int64_t K, int G) {
    const int64_t groups = K / G;
    float *xs = (float *)calloc((size_t)(groups * B + MAX_ROWS), sizeof(float));
    if (!xs) return NULL;
    for (int64_t b = 0; b < B; b++)
        for (int64_t g = 0; g < groups; g++) {
            float t = 0.0f;
            for (int j = 0; j < G; j++) t += x[b * K + g * G + j];
            xs[g * B + b] = t;
        }
    return xs;
}

/* Only the AVX2 rows add the offsets' share from the group sums; the plain C loops add the
 * offsets into the weights. */
#define NEEDS_SUMS(low) (QMM_AVX2 && (low) != NULL)

#define SCALE_AT(p, i) (f16 ? (const void *)((const uint16_t *)(p) + (i)) \
                            : (const void *)((const float *)(p) + (i)))

/* y [B, N] = x W^T; 0, or -1 with nothing written when scratch memory cannot be had. */
static int qmm_i8(const int8_t *codes, const void *scale, const void *low, int64_t N,
                  int64_t K, int G, const float *x, int64_t B, float *y, const int f16) {
    float *xsum = NEEDS_SUMS(low) ? group_sums(x, B, K, G) : NULL;
    if (NEEDS_SUMS(low) && !xsum) return -1;
    const int64_t groups = K / G;
#if QMM_AVX2
    if (B == 1) {
        qmv(codes, NULL, scale, low, N, K, G, x, xsum, y, f16, 0);
        free(xsum);
        return 0;
    }
#endif
#define ROW_I8(c, s, l, G_, ...) row_i8(c, s, l, K, G_, __VA_ARGS__)
    DISPATCH(ROW_I8, codes + n * K, SCALE_AT(scale, n * groups),
             low ? SCALE_AT(low, n * groups) : NULL, G);
#undef ROW_I8
    free(xsum);
    return 0;
}

static int qmm_u4(const uint8_t *codes, const uint8_t *high, const void *scale,
                  const void *low, int64_t N, int64_t K, const float *x, int64_t B, float *y,
                  const int f16) {
    float *xsum = NEEDS_SUMS(low) ? group_sums(x, B, K, 32) : NULL;
    if (NEEDS_SUMS(low) && !xsum) return -1;
    const int64_t groups = K / 32;
#if QMM_AVX2
    if (B == 1) {
        qmv(codes, high, scale, low, N, K, 32, x, xsum, y, f16, 1);
        free(xsum);
        return 0;
    }
#endif
#define ROW_U4(c, h, s, l, ...) row_u4(c, h, s, l, K, __VA_ARGS__)
    DISPATCH(ROW_U4, codes + n * (K / 2), high ? high + n * (K / 8) : NULL,
             SCALE_AT(scale, n * groups), low ? SCALE_AT(low, n * groups) : NULL);
#undef ROW_U4
    free(xsum);
    return 0;
}

/* Entry points (ctypes): codes [N, K] (i8) or [N, K/2] (u4, u5), high [N, K/8] (u5; NULL:
 * u4); scale, low [N, K/G] (low may be NULL); x [B, K] and y [B, N] float32, contiguous.
 * 0, or -1 when scratch memory could not be had. */
int qmm_i8_f32(const int8_t *codes, const float *scale, const float *low, int64_t N,
               int64_t K, int G, const float *x, int64_t B, float *y) {
    return qmm_i8(codes, scale, low, N, K, G, x, B, y, 0);
}

int qmm_i8_f16(const int8_t *codes, const uint16_t *scale, const uint16_t *low, int64_t N,
               int64_t K, int G, const float *x, int64_t B, float *y) {
    return qmm_i8(codes, scale, low, N, K, G, x, B, y, 1);
}

int qmm_u4_f32(const uint8_t *codes, const uint8_t *high, const float *scale,
               const float *low, int64_t N, int64_t K, const float *x, int64_t B, float *y) {
    return qmm_u4(codes, high, scale, low, N, K, x, B, y, 0);
}

int qmm_u4_f16(const uint8_t *codes, const uint8_t *high, const uint16_t *scale,
               const uint16_t *low, int64_t N, int64_t K, const float *x, int64_t B, float *y) {
    return qmm_u4(codes, high, scale, low, N, K, x, B, y, 1);
}
