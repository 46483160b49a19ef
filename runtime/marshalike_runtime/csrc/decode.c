/* One decoding step of a transformer layer (`decode_layer`), and of a stack of layers.
 *
 * For a quantized model, the ~60 small torch operations of a decoding step per layer cost
 * more than its matrix products; this runs the whole layer for B rows at one position:
 *
 *   h = x + [post_attn_norm] (wo (attention (rope (qk_norm (wqkv (attn_norm (x)))))))
 *   x = h + [post_ffw_norm] (w2 (act (gate) * up)),  gate | up = w13 (ffn_norm (h))
 *
 * with row b's key and value written to the cache at `pos[b]` (rows 0..B-1, each a sequence
 * of its own length; the cache holds fp16, half the bytes that attention reads of float32,
 * which bounds its time), attention over its cached positions [start, pos[b]] (start =
 * pos[b] - window + 1 for a sliding-window layer), rotate-half RoPE from row b's cos/sin
 * (`cos + b * D`), GQA (query head h reads key head h / group).
 * The caller (fast_decode.py) checks that its torch forward computes the same thing.
 *
 * Compiled as part of qmatmul.c, after matmul.c, whose `qmm_i8` and `qmm_u4` it calls.
 */

#include "common.h"

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
    uint16_t *k_cache, *v_cache; /* [B_max, H_kv, S, D], fp16 */
    int64_t cache_len; /* S */
    int64_t window; /* 0: global attention */
    int64_t dim, n_heads, n_kv_heads, head_dim, hidden;
    float eps, attn_scale;
    int32_t gelu, _pad;
} layer_desc;

/* 0, or -1 when the product's scratch memory could not be had. */
static int linear(const qlinear *l, const float *x, int64_t B, float *y) {
    const int rc = l->packed
        ? qmm_u4((const uint8_t *)l->codes, l->high, l->scale, l->low, l->n, l->k, x, B, y,
                 l->half_scales)
        : qmm_i8((const int8_t *)l->codes, l->scale, l->low, l->n, l->k, l->group, x, B, y,
                 l->half_scales);
    if (rc != 0) return rc;
    if (l->bias)
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < l->n; i++) y[b * l->n + i] += l->bias[i];
    return 0;
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

#if QMM_AVX2
/* 8 fp16 values of the KV cache as floats. */
INLINE __m256 load_half8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
#endif

/* n floats into the KV cache as fp16, rounded to nearest (`float_to_half`). Exported, so
 * that tests compare each build's rounding with torch's. */
void store_half(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
#if QMM_AVX2
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
    for (; i < n; i++) dst[i] = float_to_half(src[i]);
}

/* A query against a cached key (fp16). Four accumulators: one chain of dependent FMAs along
 * a 256-wide head would wait on each addition's latency. */
static float dot(const float *a, const uint16_t *b, int64_t n) {
#if QMM_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_half8(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load_half8(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), load_half8(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), load_half8(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_half8(b + i), acc0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += a[i] * half_to_float(b[i]);
    return s;
#else
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * half_to_float(b[i]);
    return s;
#endif
}

/* o [D] = sum_j w[j] v[j] over `span` rows of cached values v (fp16, stride D), for the
 * output values from c on (0: all). The output is built 64 values at a time in registers,
 * each pass streaming over the rows, rather than loaded and stored again for every row. */
static void weighted_rows(const float *w, const uint16_t *v, int64_t span, int64_t D, int64_t c,
                          float *o) {
#if QMM_AVX2
    for (; c + 64 <= D; c += 64) {
        __m256 acc[8];
        for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_ps();
        for (int64_t j = 0; j < span; j++) {
            const __m256 wj = _mm256_set1_ps(w[j]);
            const uint16_t *vj = v + j * D + c;
            for (int r = 0; r < 8; r++) acc[r] = _mm256_fmadd_ps(wj, load_half8(vj + 8 * r), acc[r]);
        }
        for (int r = 0; r < 8; r++) _mm256_storeu_ps(o + c + 8 * r, acc[r]);
    }
    for (; c + 8 <= D; c += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t j = 0; j < span; j++) acc = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), load_half8(v + j * D + c), acc);
        _mm256_storeu_ps(o + c, acc);
    }
#endif
    for (; c < D; c++) {
        float t = 0.0f;
        for (int64_t j = 0; j < span; j++) t += w[j] * half_to_float(v[j * D + c]);
        o[c] = t;
    }
}

/* `weighted_rows` for the n (<= 8) query heads that share a key head, in one pass over v:
 * w [n, span] (stride ws), o [n, D] (stride D). Each output value is the same chain of
 * FMAs over the rows as `weighted_rows` makes it, so the results are the same to the last
 * bit; v is read once instead of once a head. */
static void weighted_rows_heads(const float *w, int64_t ws, int n, const uint16_t *v,
                                int64_t span, int64_t D, float *o) {
    int64_t c = 0;
#if QMM_AVX2
    for (; c + 16 <= D; c += 16) {
        __m256 acc[16];
        for (int r = 0; r < 2 * n; r++) acc[r] = _mm256_setzero_ps();
        for (int64_t j = 0; j < span; j++) {
            const __m256 v0 = load_half8(v + j * D + c), v1 = load_half8(v + j * D + c + 8);
            for (int h = 0; h < n; h++) {
                const __m256 wj = _mm256_set1_ps(w[h * ws + j]);
                acc[2 * h] = _mm256_fmadd_ps(wj, v0, acc[2 * h]);
                acc[2 * h + 1] = _mm256_fmadd_ps(wj, v1, acc[2 * h + 1]);
            }
        }
        for (int h = 0; h < n; h++) {
            _mm256_storeu_ps(o + h * D + c, acc[2 * h]);
            _mm256_storeu_ps(o + h * D + c + 8, acc[2 * h + 1]);
        }
    }
#endif
    if (c < D)
        for (int h = 0; h < n; h++) weighted_rows(w + h * ws, v, span, D, c, o + h * D);
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

static int64_t first_position(const layer_desc *L, int64_t pos) {
    return L->window > 0 && pos - L->window + 1 > 0 ? pos - L->window + 1 : 0;
}

/* 0 on success, -1 when scratch memory could not be had (the step is then lost: x and the
 * cache rows at pos may be part-way written). */
int decode_layer(const layer_desc *L, float *x, int64_t B, const int64_t *pos, const float *cos,
                 const float *sin) {
    const int64_t D = L->head_dim, H = L->n_heads, Hkv = L->n_kv_heads, dim = L->dim;
    const int64_t qd = H * D, kvd = Hkv * D, qkv_n = qd + 2 * kvd, S = L->cache_len;
    int64_t span = 1; /* the widest row's */
    for (int64_t b = 0; b < B; b++) {
        const int64_t rows = pos[b] - first_position(L, pos[b]) + 1;
        span = rows > span ? rows : span;
    }
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
    if (linear(&L->wqkv, h, B, big) != 0) goto fail;
    for (int64_t b = 0; b < B; b++) {
        float *q = big + b * qkv_n, *k = q + qd, *v = k + kvd;
        for (int64_t hh = 0; hh < H; hh++) {
            if (L->q_norm) rmsnorm(q + hh * D, L->q_norm, D, L->eps, q + hh * D);
            rope(q + hh * D, cos + b * D, sin + b * D, D);
        }
        for (int64_t hh = 0; hh < Hkv; hh++) {
            if (L->k_norm) rmsnorm(k + hh * D, L->k_norm, D, L->eps, k + hh * D);
            rope(k + hh * D, cos + b * D, sin + b * D, D);
            const int64_t at = ((b * Hkv + hh) * S + pos[b]) * D;
            store_half(L->k_cache + at, k + hh * D, D);
            store_half(L->v_cache + at, v + hh * D, D);
        }
    }
    /* One task per query head where there are few rows (a single sequence keeps both cores
     * busy), else per key head with the query heads that share it: its keys and values are
     * then read once, not once a head. Each head's scores and output are the same either
     * way, to the last bit. */
    const int64_t group = H / Hkv;
    const int64_t per = group <= 8 && B * Hkv >= 2 * omp_threads() ? group : 1;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < B * H / per; t++) {
        const int64_t b = t * per / H, h0 = t * per % H, kh = h0 / group;
        const uint16_t *kc = L->k_cache + (b * Hkv + kh) * S * D, *vc = L->v_cache + (b * Hkv + kh) * S * D;
        const int64_t start = first_position(L, pos[b]), len = pos[b] - start + 1;
        float *sc = scores + (b * H + h0) * span;
        for (int64_t j = 0; j < len; j++)
            for (int64_t i = 0; i < per; i++)
                sc[i * span + j] = dot(big + b * qkv_n + (h0 + i) * D, kc + (start + j) * D, D) * L->attn_scale;
        for (int64_t i = 0; i < per; i++) {
            float *si = sc + i * span, best = -INFINITY, total = 0.0f;
            for (int64_t j = 0; j < len; j++) best = si[j] > best ? si[j] : best;
            for (int64_t j = 0; j < len; j++) total += (si[j] = expf(si[j] - best));
            for (int64_t j = 0; j < len; j++) si[j] /= total;
        }
        weighted_rows_heads(sc, span, (int)per, vc + start * D, len, D, mid + b * qd + h0 * D);
    }
    if (linear(&L->wo, mid, B, out) != 0) goto fail;
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * dim, *xb = x + b * dim;
        if (L->post_attn_norm) rmsnorm(o, L->post_attn_norm, dim, L->eps, o);
        for (int64_t i = 0; i < dim; i++) xb[i] += o[i];
    }
    /* feed-forward */
    for (int64_t b = 0; b < B; b++) rmsnorm(x + b * dim, L->ffn_norm, dim, L->eps, h + b * dim);
    if (linear(&L->w13, h, B, big) != 0) goto fail;
    const int64_t F = L->hidden;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) gated(big + b * 2 * F, F, L->gelu, mid + b * F);
    if (linear(&L->w2, mid, B, out) != 0) goto fail;
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * dim, *xb = x + b * dim;
        if (L->post_ffw_norm) rmsnorm(o, L->post_ffw_norm, dim, L->eps, o);
        for (int64_t i = 0; i < dim; i++) xb[i] += o[i];
    }
    free(h), free(big), free(mid), free(out), free(scores);
    return 0;
fail:
    free(h), free(big), free(mid), free(out), free(scores);
    return -1;
}

/* A whole decoding step of n layers, one call instead of one per layer (the embedded
 * model's 18 calls from Python: a step x1.035 faster at batch 1, x1.07 at 8). Layer i uses
 * the local RoPE table where local[i] is set, else the global one. 0 on success, -1 when a layer's scratch memory
 * could not be had (the layers before it have run). */
int decode_layers(const layer_desc *L, int64_t n, const uint8_t *local, float *x, int64_t B,
                  const int64_t *pos, const float *cos_global, const float *sin_global,
                  const float *cos_local, const float *sin_local) {
    for (int64_t i = 0; i < n; i++) {
        const float *cos = local[i] ? cos_local : cos_global;
        const float *sin = local[i] ? sin_local : sin_global;
        if (decode_layer(L + i, x, B, pos, cos, sin) != 0) return -1;
    }
    return 0;
}
