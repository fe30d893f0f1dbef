#!/usr/bin/env bash
# Fuzzes each parser (IDX + gzip, safetensors, config.json, .npy) with libFuzzer and AddressSanitizer.
#   scripts/fuzz.sh [RUNS]     (default 20000 inputs per target)
# Starts from the hand-made valid files in Fuzz/seeds/TARGET and the corpus it kept before in
# Fuzz/corpus/TARGET (minimised after each run), and copies any crashing input to
# Fuzz/crashes/TARGET. The test suite replays all three.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20000}
build=.build-fuzz
# The package's C targets (CKernels, CMPI): a module map each, and their sources compiled.
objects=()
for module in CKernels CMPI; do
  header=$(ls Sources/$module/include/*.h)
  mkdir -p "$build/$module"
  printf 'module %s {\n    header "%s"\n    export *\n}\n' "$module" "$PWD/$header" > "$build/$module/module.modulemap"
  for source in Sources/$module/*.c; do
    object="$build/$module-$(basename "$source" .c).o"
    clang -O1 -fsanitize=address -ISources/$module/include -c "$source" -o "$object"
    objects+=("$object")
  done
done
echo "Building the fuzz binary (libFuzzer + AddressSanitizer)"
# shellcheck disable=SC2046
# The core and the toolkit (whose RunConfig is the config target) compiled as one module; the
# toolkit's `import SparseAutoencoder` is then a no-op.
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SparseAutoencoder -package-name SparseAutoencoder \
  $(find Sources/SparseAutoencoder Sources/SparseAutoencoderToolkit -name '*.swift' | sort) Fuzz/FuzzMain.swift \
  -I Sources/CZlib -I Sources/COpenBLAS -I "$build/CKernels" -I "$build/CMPI" \
  $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
  "${objects[@]}" $(pkg-config --libs openblas) -lz -ldl \
  -o "$build/fuzz-parsers" 2> >(grep -v "Cannot export local symbol" >&2)

for target in idx safetensors config npy; do
  echo "== $target: $runs inputs"
  mkdir -p "Fuzz/corpus/$target" "Fuzz/crashes/$target" "$build/artifacts/$target"
  SAE_FUZZ_TARGET=$target "$build/fuzz-parsers" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/artifacts/$target/" "Fuzz/corpus/$target" "Fuzz/seeds/$target" 2>&1 | grep -E "^#[0-9]+ *DONE|ERROR|SUMMARY|Done" || true
  # Keep only the inputs that add coverage.
  rm -rf "$build/merged/$target" && mkdir -p "$build/merged/$target"
  SAE_FUZZ_TARGET=$target "$build/fuzz-parsers" -merge=1 "$build/merged/$target" "Fuzz/corpus/$target" "Fuzz/seeds/$target" > /dev/null 2>&1
  rm -f "Fuzz/corpus/$target"/* && cp "$build/merged/$target"/* "Fuzz/corpus/$target/"
  echo "$target: corpus of $(ls "Fuzz/corpus/$target" | wc -l) inputs"
  found=$(find "$build/artifacts/$target" -type f | wc -l)
  if [ "$found" -gt 0 ]; then
    cp "$build/artifacts/$target"/* "Fuzz/crashes/$target/"
    echo "$target: $found crashing inputs copied to Fuzz/crashes/$target"
  fi
done
