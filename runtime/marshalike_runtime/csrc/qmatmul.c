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
 * values came from fp16 anyway. Besides the products: `decode_layer`, a whole transformer
 * layer's decoding step, and `decode_layers`, a stack of them; `topk_rows`; `top_logsumexp`,
 * for sampling; `dequantize`, for prompts. Rows of the output are shared among OpenMP
 * threads; built against torch's libgomp (same soname), the threads are torch's own.
 *
 * The kernels are split by what they do, and this file includes every part, so that they
 * compile as one translation unit (the helpers of common.h, and `qmm_i8`/`qmm_u4`, which
 * `decode_layer` calls, inline across parts):
 *
 *   common.h      the headers, constants and code-reading helpers every part uses;
 *   matmul.c      the i8/u4/u5 matrix products and their entry points;
 *   head.c        an output head's screen, top k and rescoring;
 *   sample.c      the best values and logsumexp of rows of logits, for sampling;
 *   decode.c      the fused decoding step of a layer, and of a stack of layers;
 *   dequantize.c  whole weight matrices from their codes, for prompts.
 *
 * Built at run time by cpu_kernels.py with the machine's C compiler (-O3 -march=native);
 * the AVX2 path is used where the compiler targets it (its layer products 16 wide with
 * AVX-512), plain C loops elsewhere (tested by building without -march,
 * tests/runtime/test_cpu_kernels.py), and the screen's 8-bit dot products use VNNI where
 * the CPU has it (tested against a build without it).
 */

#include "common.h"

int qmm_has_avx2(void) { return QMM_AVX2; }
int qmm_has_vnni(void) { return QMM_VNNI; }

#include "matmul.c"
#include "head.c"
#include "sample.c"
#include "decode.c"
#include "dequantize.c"
