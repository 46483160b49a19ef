#!/usr/bin/env bash
# The runtime and the compiler on an NVIDIA GPU, in one run:
#
#   1. the runtime's tests with their tiny models on CUDA (MARSHALIKE_TEST_DEVICE=cuda): the
#      engine, the continuous batcher and the prefix cache among them;
#   2. the runtime's speed on CUDA (bf16 and fp32): prompt, one stream, and a batch of 8 and
#      of 32 (`runtime_bench.py --batch`);
#   3. a whole compile of the team corpus with the embedded model on the GPU, its hidden tests
#      judging (`quality.py --corpus team --mode full --seed 0`).
#
# Run it from a clone of the repository with marshalike installed and torch built for CUDA:
#
#   pip install torch==2.13.0          # on Linux, PyPI's build of it is the CUDA one
#   pip install -e ".[local,dev]"
#   bash benchmarks/gpu_check.sh
#
# What it prints also lands in $OUT (default /tmp/gpu_check_out): env.txt (GPU, driver,
# torch, python), tests.txt, bench-8.txt and bench-32.txt (with .json of each), quality.txt
# and quality.json. The exit status is 0 only when every step passed.
#
# The benchmark's model: one GGUF file put into .model/, else the embedded model, else (where
# that is not installed) a random-weight model of its shape, which has the same products and
# KV cache and so the same speed. Where the compiler's packages or the embedded model cannot
# be imported, step 3 says why and the run counts as failed. On a machine without network
# access, wheels of what is missing can be put into .whl/: they are installed into /tmp/site
# first, and nowhere else.
#
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU (slowly): a check of this script itself.
set -uo pipefail

OUT=${OUT:-/tmp/gpu_check_out}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
case "$DEVICE" in
    cuda | cpu) ;;
    *) echo "gpu_check: GPU_CHECK_DEVICE is cuda or cpu, not '$DEVICE'"; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PYTHONUNBUFFERED=1
# On the CPU nothing may reach a GPU: the compile's engine takes CUDA wherever it sees it.
[ "$DEVICE" = cpu ] && export CUDA_VISIBLE_DEVICES=

if compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { echo "gpu_check: wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site
fi
# The repository itself, whether installed or not: the compiler and the runtime.
export PYTHONPATH="$ROOT:$ROOT/runtime${PYTHONPATH:+:$PYTHONPATH}"

{
    if command -v nvidia-smi > /dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    fi
    "$PYTHON" -c 'import sys, torch; print(sys.version.split()[0], torch.__version__,
torch.version.cuda, torch.cuda.is_available())'
} 2>&1 | tee "$OUT/env.txt"
if [ "$DEVICE" = cuda ] && ! "$PYTHON" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    echo "gpu_check: $PYTHON has no torch with a usable CUDA device" | tee -a "$OUT/env.txt"
    exit 1
fi

# 1. The runtime's tests whose tiny models follow MARSHALIKE_TEST_DEVICE, and the rest of
# its fast tests (those of the server need the compiler's packages; they are left out
# where those cannot be imported).
TESTS=()
for name in engine batcher prefix_cache quant sampling model checkpoint gguf_file tokenizer chat; do
    [ -f "tests/runtime/test_$name.py" ] && TESTS+=("tests/runtime/test_$name.py")
done
if "$PYTHON" -c 'import openai, marshalike.backends.local' 2>/dev/null; then
    TESTS+=(tests/runtime/test_server.py)
fi
MARSHALIKE_TEST_DEVICE=$DEVICE timeout 600 "$PYTHON" -m pytest -q -m "not slow" \
    -p no:cacheprovider "${TESTS[@]}" 2>&1 | tee "$OUT/tests.txt"
tests_status=${PIPESTATUS[0]}

# What the compile needs: the compiler's packages and the embedded model (pip installs it
# with the local extra). The benchmark runs that model too where it is there.
missing=$("$PYTHON" - 2>&1 <<'EOF'
import sys
try:
    import marshalike.build.compiler  # noqa: F401
    from marshalike_runtime.embedded import default_model_path
    default_model_path(progress=False)
except Exception as error:
    sys.exit(f"{type(error).__name__}: {error}")
EOF
) && missing=""

# 2. Speed: one stream and a batch of 8, then a batch of 32 (bf16 only, no agreement run).
# The model: a GGUF file put into .model/, else the embedded one, else a random-weight model
# of the embedded model's shape (the same products and KV cache, so the same speed).
MODEL_ARGS=()
[ -n "$missing" ] && MODEL_ARGS=(--random-config gemma3-270m)
GGUF=$(compgen -G ".model/*.gguf" | head -n 1 || true)
[ -n "$GGUF" ] && MODEL_ARGS=(--model "$GGUF")
timeout 900 "$PYTHON" -m benchmarks.runtime_bench --engines ours-bf16,ours-fp32 \
    --device "$DEVICE" --batch 8 "${MODEL_ARGS[@]}" --json "$OUT/bench-8.json" 2>&1 \
    | tee "$OUT/bench-8.txt"
bench_status=${PIPESTATUS[0]}
timeout 900 "$PYTHON" -m benchmarks.runtime_bench --engines ours-bf16 --device "$DEVICE" \
    --batch 32 --agreement-prompts 0 --agreement-specs 0 "${MODEL_ARGS[@]}" \
    --json "$OUT/bench-32.json" 2>&1 | tee "$OUT/bench-32.txt"
bench_status=$((bench_status | PIPESTATUS[0]))

# 3. The team corpus compiled by the embedded model on this device, the full loop.
if [ -z "$missing" ]; then
    timeout 3600 "$PYTHON" -m benchmarks.quality --corpus team --mode full --seed 0 \
        --json "$OUT/quality.json" 2>&1 | tee "$OUT/quality.txt"
    quality_status=${PIPESTATUS[0]}
else
    echo "gpu_check: the team corpus is not compiled: $missing" | tee "$OUT/quality.txt"
    quality_status=1
fi

echo "gpu_check: tests exit $tests_status, benchmark exit $bench_status," \
    "team corpus exit $quality_status" | tee -a "$OUT/env.txt"
[ "$tests_status" -eq 0 ] && [ "$bench_status" -eq 0 ] && [ "$quality_status" -eq 0 ]
