/* What every part of the kernels shares: the headers, whether the AVX2 path is compiled,
 * the batch and scheduling constants, and the helpers that read a group's scales and codes
 * (scalar, and widened into AVX2 registers).
 */

#ifndef QMM_COMMON_H
#define QMM_COMMON_H

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

/* 8-bit dot products in one instruction (vpdpbusd), 256 bits wide: AVX-512 VNNI with VL
 * (AMD Zen 4, Intel Ice Lake and later servers) or AVX-VNNI (Intel Alder Lake, Zen 5). */
#if QMM_AVX2 && defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define QMM_VNNI 1
#define DPBUSD(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
#elif QMM_AVX2 && defined(__AVXVNNI__)
#define QMM_VNNI 1
#define DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32(acc, u, s)
#else
#define QMM_VNNI 0
#endif

/* The layers' float products 16 lanes wide (matmul.c): AVX-512 F with BW (Intel Skylake
 * servers and later, AMD Zen 4 and later). Half the instructions per product of AVX2's. */
#if QMM_AVX2 && defined(__AVX512F__) && defined(__AVX512BW__)
#define QMM_AVX512 1
#else
#define QMM_AVX512 0
#endif

#define INLINE static inline __attribute__((always_inline))

#ifdef _OPENMP
#include <omp.h>
INLINE int omp_threads(void) { return omp_get_max_threads(); }
#else
INLINE int omp_threads(void) { return 1; }
#endif
#define MAX_ROWS 8 /* batch rows handled per pass over a weight row */
#define ROW_CHUNK 16 /* output rows per scheduling unit */

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

/* The nearest fp16 (ties to even; too large: infinity), as F16C's vcvtps2ph and torch's
 * `.to(torch.float16)` round: the KV cache written here and by torch holds the same bits. */
INLINE uint16_t float_to_half(float f) {
#if QMM_AVX2
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7FFFFFFF;
    if (x > 0x7F800000) return sign | 0x7E00; /* NaN */
    if (x >= 0x47800000) return sign | 0x7C00; /* 2^16 and above, infinity */
    uint32_t q, r, half;
    if (x >= 0x38800000) { /* normal: 10 of the 23 mantissa bits, the rest rounded */
        q = ((x >> 23) - 112) << 10 | (x & 0x7FFFFF) >> 13;
        r = x & 0x1FFF, half = 0x1000;
    } else { /* subnormal or zero: the value in units of 2^-24 */
        const uint32_t e = x >> 23, shift = 126 - e;
        if (shift > 24) return sign;
        const uint32_t m = (x & 0x7FFFFF) | 0x800000;
        q = m >> shift, r = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    }
    if (r > half || (r == half && (q & 1))) q++; /* a carry moves up an exponent: right */
    return sign | (uint16_t)q;
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
#endif

#endif /* QMM_COMMON_H */
