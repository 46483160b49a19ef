/* An output head's kernels: the screen (approximate scores of the whole vocabulary from a
 * 4-bit copy), the top k of each row of scores, and the exact rescoring of the rows kept.
 *
 * Compiled as part of qmatmul.c, in one translation unit with the other parts.
 */

#include "common.h"

/* An output head's screen: 4-bit codes in groups of SG = 64, byte j of a group holding code
 * j in its low nibble and code j + 32 in its high one, fp16 scale and low per group. Larger
 * groups than the layers' 32 halve the per-group work and the bytes of scales. */
#define SG 64

#if QMM_AVX2
/* Sums of 4 adjacent products of unsigned codes (lo with x0, hi with x1) and int8
 * activations, in 8 int32 lanes. With VNNI one instruction a half; without, maddubs to
 * 16-bit pairs, added, and madd to 32 bits. The same integers either way: a pair's sum is
 * at most 2 * 15 * 127, and two of them added far from saturating 16 bits. */
INLINE __m256i dot_u4_i8(__m256i lo, __m256i hi, __m256i x0, __m256i x1) {
#if QMM_VNNI
    return DPBUSD(DPBUSD(_mm256_setzero_si256(), lo, x0), hi, x1);
#else
    const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo, x0),
                                           _mm256_maddubs_epi16(hi, x1));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
#endif
}

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
    const int64_t groups = K / SG;
    for (int64_t g = 0; g < groups; g++) {
        const float s = _cvtsh_ss(scale[g]);
        if ((g & 1) == 0) _mm_prefetch((const char *)(c + 16 * (K / 2) + g * 32), _MM_HINT_T0);
        const __m256i q = _mm256_loadu_si256((const __m256i *)(c + g * 32));
        const __m256i lo = _mm256_and_si256(q, nibble);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
        for (int b = 0; b < nb; b++) {
            const int8_t *xb = xq + b * K + g * SG;
            const __m256 f = _mm256_cvtepi32_ps(
                dot_u4_i8(lo, hi, _mm256_loadu_si256((const __m256i *)xb),
                          _mm256_loadu_si256((const __m256i *)(xb + 32))));
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

/* The k largest values of a row into the heap val/idx (idx[j] the index of val[j], in
 * heap order); the row's maximum is returned. */
static float best_k(const float *row, int64_t N, int k, float *val, int64_t *idx) {
    float m = -INFINITY;
    for (int i = 0; i < k; i++) {
        val[i] = row[i], idx[i] = i;
        m = row[i] > m ? row[i] : m;
    }
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(val, idx, k, i);
    int64_t i = k;
#if QMM_AVX2
    __m256 vmax = _mm256_set1_ps(m);
    for (; i + 8 <= N; i += 8) {
        const __m256 v = _mm256_loadu_ps(row + i);
        vmax = _mm256_max_ps(vmax, v);
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(val[0]), _CMP_GT_OQ));
        while (mask) {
            const int j = __builtin_ctz(mask);
            heap_offer(val, idx, k, row[i + j], i + j);
            mask &= mask - 1;
        }
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    for (int j = 0; j < 8; j++) m = lanes[j] > m ? lanes[j] : m;
#endif
    for (; i < N; i++) {
        m = row[i] > m ? row[i] : m;
        heap_offer(val, idx, k, row[i], i);
    }
    return m;
}

int topk_rows(const float *y, int64_t B, int64_t N, int k, int64_t *out) {
    if (k <= 0 || k > N || k > 4096) return -1; /* the heap lives on the stack */
#pragma omp parallel for schedule(static) if (B > 1)
    for (int64_t b = 0; b < B; b++) {
        float val[k];
        best_k(y + b * N, N, k, val, out + b * k);
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
