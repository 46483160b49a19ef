/* A weight matrix dequantized from its codes in one pass (float32 or bfloat16), for
 * prompts: torch's own matrix products multiply many rows best.
 *
 * Compiled as part of qmatmul.c, in one translation unit with the other parts.
 */

#include "common.h"

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
