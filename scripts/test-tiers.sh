#!/usr/bin/env bash
# The suite in two tiers, both run by `make test`, each timed:
#   unit         tests that run in the test process (the library, numbers, files);
#   end-to-end   test classes whose file launches a process: the sae binary (runSAE), mpirun,
#                python3 or a script (about 15 classes; a class with both kinds runs here whole).
# A test class is placed by what its file calls, so a new class lands in the right tier by itself.
#
#   bash scripts/test-tiers.sh [unit|end-to-end]   # both when no tier is named (built already:
#                                                 # swift build --build-tests)
#
# The end-to-end tests run the sae that SAE_TEST_BINARY names (`make test` builds the release
# one first: they train, and the debug build trains 1.4x slower over the tier), else the debug
# build beside the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

launchers='runSAE\(|runProcess\(|runPython\(|mpirun|builtExecutable\(|Process\(\)'
classes=$(grep -lE "$launchers" Tests/SparseAutoencoderTests/*Tests.swift \
  | xargs sed -nE 's/^(final )?class ([A-Za-z0-9_]+): XCTestCase.*/\2/p' | paste -sd'|')
pattern="SparseAutoencoderTests\\.($classes)/"
# The end-to-end tests spend much of their time waiting on what they launch (process and MPI
# start-up, files), so twice as many workers as cores keeps the cores busy: on 2 cores, 47.6 s with
# 2 workers (swift test's default), 38.5 with 3, 31.5 with 4.
workers=$((2 * $(nproc 2>/dev/null || echo 1)))

# Each tier runs to its end; the script fails if either did.
failed=0
run() {
  local name=$1; shift
  local start=$SECONDS
  swift test --skip-build --parallel --disable-swift-testing "$@" || failed=1
  echo "$name tier: $((SECONDS - start)) s"
}
case "${1:-both}" in
  unit) run unit --skip "$pattern" ;;
  end-to-end) run end-to-end --num-workers "$workers" --filter "$pattern" ;;
  both) run unit --skip "$pattern"; run end-to-end --num-workers "$workers" --filter "$pattern" ;;
  *) echo "usage: bash scripts/test-tiers.sh [unit|end-to-end]" >&2; exit 2 ;;
esac
exit $failed
