#!/usr/bin/env bash
# Runs the test suite (built already: `swift build --build-tests`) once per kind of CPU kernel this
# machine can run, so that a test which holds on one CPU kind only is caught here rather than on
# the next machine: OpenBLAS's kernels (OPENBLAS_CORETYPE) for AVX-512 (SkylakeX), AVX2 Intel
# (Haswell), AVX2 AMD (Zen) and generic SSE3 (Prescott), and sae's own C kernels in their
# baseline x86-64 variant (SAE_KERNELS=baseline) as a CPU without AVX2 runs them.
#
#   bash scripts/test-kinds.sh           # the whole suite under each kind (about 40 s each)
#   bash scripts/test-kinds.sh --quick   # what `make test` runs: the numerical unit tests under AVX2
#                                        # AMD's kernel (Zen) and the generic ones (Prescott + baseline)
#
# A kind whose instructions this CPU lacks is skipped (OpenBLAS would fall back to another one).
set -uo pipefail
cd "$(dirname "$0")/.."

filter=()
if [ "${1:-}" = "--quick" ]; then
  # The tests whose numbers come from the BLAS products and the C kernels.
  filter=(--filter 'SparseAutoencoderTests\.(KernelTests|BLASTests|DenseTests|AutoencoderTests|DictionaryTests|SparseTopKTests|BatchTopKTests|JumpReLUTests|MatryoshkaTests|GatedTests|ActivityPenaltyTests|ReconstructionLossTests|AdamTests|CodeStatisticsTests|RunAnalysisTests|TrainerTests|GradientClippingTests)/')
fi

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]]; }

kinds=()
if [ ${#filter[@]} -gt 0 ]; then
  has avx2 && has fma && kinds+=("OPENBLAS_CORETYPE=Zen")
  kinds+=("OPENBLAS_CORETYPE=Prescott SAE_KERNELS=baseline")
else
  has avx512f && has avx512bw && has avx512vl && kinds+=("OPENBLAS_CORETYPE=SkylakeX")
  has avx2 && has fma && kinds+=("OPENBLAS_CORETYPE=Haswell" "OPENBLAS_CORETYPE=Zen")
  kinds+=("OPENBLAS_CORETYPE=Prescott" "SAE_KERNELS=baseline" "OPENBLAS_CORETYPE=Prescott SAE_KERNELS=baseline")
fi

failed=()
for kind in "${kinds[@]}"; do
  log=$(mktemp)
  start=$(date +%s)
  env $kind swift test --disable-swift-testing --skip-build "${filter[@]}" >"$log" 2>&1
  rc=$?
  summary=$(grep -E 'Executed [0-9]+ tests' "$log" | tail -1 | sed 's/^[[:space:]]*//')
  echo "$kind: ${summary:-no summary} ($(( $(date +%s) - start )) s)"
  if [ $rc -ne 0 ]; then
    grep -E 'error:' "$log" | head -20
    failed+=("$kind")
  fi
  rm -f "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under: ${failed[*]}" >&2
  exit 1
fi
echo "every kind passed"
