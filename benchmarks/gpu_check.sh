#!/usr/bin/env bash
# The runtime on a GPU machine, in one run: its correctness tests on CUDA, then the benchmark
# of our runtime alone (CUDA, bf16 and fp32). Everything it prints also lands in $OUT:
#   $OUT/env.txt        GPU, driver, torch and python versions
#   $OUT/tests.txt      pytest output of the runtime tests (MARSHALIKE_TEST_DEVICE=cuda)
#   $OUT/bench.txt      the benchmark table
#   $OUT/bench.json     the benchmark's raw figures
#
# What the GPU machine (H200 image: python3 3.12 with torch 2.11 + CUDA, numpy, safetensors,
# tokenizers, jinja2, pytest, pyyaml, tqdm, requests; no internet) lacks, and so must be
# carried — each path relative to the repository root, named in the device tool's `carry`,
# and ignored by git (`echo /.whl/ >> .git/info/exclude`, same for /.model/):
#
#   .whl/     wheels of the missing packages. Only `gguf` (pure Python) is needed:
#               python3 -m pip download --no-deps -d .whl gguf==0.19.0
#             (lark, click and openai are not needed: no compiler, CLI or server test runs.)
#   .model/   OPTIONAL: one *.gguf file to benchmark. The embedded Gemma 3 270M GGUF is
#             253 MB, more than the 64 MiB one call can carry, so by default the benchmark
#             runs a random-weight model of the same config (gemma3-270m: the same matmuls
#             and KV cache, so the same speed; no agreement figures). Tests that need the
#             real embedded model are slow-marked and skipped here for the same reason.
#
# Run it (device tool): command "bash benchmarks/gpu_check.sh", carry [".whl"] (and
# ".model" if used), timeout_s 540. It stays well inside that: tests ~1 min, bench ~2 min.
set -uo pipefail

OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PYTHONUNBUFFERED=1

if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { echo "gpu_check: wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site
fi
# The repository itself, uninstalled: the compiler package and the runtime package.
export PYTHONPATH="$ROOT:$ROOT/runtime${PYTHONPATH:+:$PYTHONPATH}"

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c 'import sys, torch; print(sys.version.split()[0], torch.__version__,
torch.version.cuda, torch.cuda.is_available())'
} 2>&1 | tee "$OUT/env.txt"
python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null || {
    echo "gpu_check: python3 has no torch with a usable CUDA device" | tee -a "$OUT/env.txt"
    exit 1
}

# The runtime's tests whose tiny models follow MARSHALIKE_TEST_DEVICE, plus the rest of the
# runtime's fast tests that do not need the server stack (openai is not installed there).
TESTS=()
for name in engine quant sampling model checkpoint gguf_file tokenizer chat; do
    [ -f "tests/runtime/test_$name.py" ] && TESTS+=("tests/runtime/test_$name.py")
done
MARSHALIKE_TEST_DEVICE=cuda timeout 240 python3 -m pytest -q -m "not slow" \
    -p no:cacheprovider "${TESTS[@]}" 2>&1 | tee "$OUT/tests.txt"
tests_status=${PIPESTATUS[0]}

MODEL_ARGS=(--random-config gemma3-270m)
GGUF=$(compgen -G ".model/*.gguf" | head -n 1 || true)
[ -n "$GGUF" ] && MODEL_ARGS=(--model "$GGUF")
timeout 280 python3 benchmarks/runtime_bench.py --engines ours-bf16,ours-fp32 --device cuda \
    "${MODEL_ARGS[@]}" --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.txt"
bench_status=${PIPESTATUS[0]}

echo "gpu_check: tests exit $tests_status, benchmark exit $bench_status" | tee -a "$OUT/env.txt"
[ "$tests_status" -eq 0 ] && [ "$bench_status" -eq 0 ]
