/* Sampling's pass over a row of logits: its k best values, best first, and its logsumexp,
 * for nucleus (top-p) sampling, which needs the probabilities of the best tokens only but
 * the normaliser of all of them; with k = 1 and no logsumexp, greedy decoding's argmax.
 * torch takes three passes and two temporaries over a 262k vocabulary for that (logsumexp,
 * topk); here one pass finds the best k and the maximum (`best_k`, the scan `topk_rows`
 * makes), a second sums the exponentials (a vectorised exp, summed in double), while the
 * row is still in cache.
 *
 * Compiled as part of qmatmul.c, in one translation unit with the other parts.
 */

#include "common.h"

#if QMM_AVX2
/* exp(x) for x <= 0 (a logit less the row's maximum), within 2 ulp: x = n ln2 + r with
 * |r| <= ln2 / 2, a degree-6 polynomial for exp(r) (Cephes' expf) and 2^n put in the
 * exponent bits. Below -87.3 (where exp leaves float's normal range) it gives 2^-126,
 * which no sum of a vocabulary's terms notices. */
INLINE __m256 exp_nonpositive(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif

typedef struct {
    float v;
    int64_t i;
} scored;

/* Best first; of equal values, the lower index. */
static int by_value_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Row's sum of exp(y - m), in double. */
static double sum_exp(const float *row, int64_t N, float m) {
    double total = 0.0;
    int64_t i = 0;
#if QMM_AVX2
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    const __m256 vm = _mm256_set1_ps(m);
    for (; i + 8 <= N; i += 8) {
        const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(row + i), vm));
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(acc0, acc1));
    total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
    for (; i < N; i++) total += (double)expf(row[i] - m);
    return total;
}

/* For each row b of y [B, N]: vals [B, k] its k largest values, best first (of equal
 * values the lower index first), ids [B, k] their indices, and, unless lse is NULL (for
 * greedy decoding, k = 1: the argmax), lse [B] log(sum(exp(y[b]))); a row whose values
 * are all -inf has lse -inf. -1 where k is out of 1..min(N, 4096) (the heap lives on the
 * stack). */
int top_logsumexp(const float *y, int64_t B, int64_t N, int k, float *vals, int64_t *ids,
                  float *lse) {
    if (k <= 0 || k > N || k > 4096) return -1;
#pragma omp parallel for schedule(static) if (B > 1)
    for (int64_t b = 0; b < B; b++) {
        const float *row = y + b * N;
        float val[k];
        int64_t idx[k];
        const float m = best_k(row, N, k, val, idx);
        if (lse) lse[b] = m == -INFINITY ? -INFINITY : m + (float)log(sum_exp(row, N, m));
        scored best[k];
        for (int j = 0; j < k; j++) best[j].v = val[j], best[j].i = idx[j];
        qsort(best, (size_t)k, sizeof best[0], by_value_desc);
        for (int j = 0; j < k; j++) vals[b * k + j] = best[j].v, ids[b * k + j] = best[j].i;
    }
    return 0;
}
