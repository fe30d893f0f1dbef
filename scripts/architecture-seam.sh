#!/usr/bin/env bash
# The architecture seam, checked: an SAE architecture is its file in
# Sources/SparseAutoencoder/Architectures/ (C kernels, if any, in Sources/CKernels), one line in
# Architectures.all, and, if it has command-line options, one file in Sources/sae/Architectures/
# and its two lines in ModelOptions. This removes one architecture (default: Gated, the last one
# added) from a copy of the committed tree by exactly those steps, builds `sae` there, checks that
# it trains the other architectures and refuses the removed one by name, and prints the removal's
# diff stat: read backwards, what adding that architecture took.
#
#   bash scripts/architecture-seam.sh [Gated|JumpReLU|Matryoshka]
#
# (BatchTopK is not removable alone: Matryoshka BatchTopK is built on it, by design.) About 30 s
# on 2 cores (a debug build of a fresh clone); not part of `make test`.
set -euo pipefail
name=${1:-Gated}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/sae-seam.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$here" "$work/tree"
cd "$work/tree"
file=Sources/SparseAutoencoder/Architectures/$name.swift
[ -f "$file" ] || { echo "error: no $file (architectures: $(ls Sources/SparseAutoencoder/Architectures | sed 's/\.swift//' | tr '\n' ' '))" >&2; exit 2; }
architecture=$(sed -n 's/.*public static let \([a-z0-9]*\) = Self(named: "\([a-z0-9]*\)").*/\2/p' "$file" | head -1)
[ -n "$architecture" ] || { echo "error: $file declares no architecture name (Self(named:))" >&2; exit 2; }

# 1. Its file, and its registration line's entry.
git rm -q "$file"
sed -i "s/, $name\.self//; s/$name\.self, //" Sources/SparseAutoencoder/Architectures/Architecture.swift
# 2. Its command-line options: its file of the tool and its lines in ModelOptions.
options=Sources/sae/Architectures/${name}Options.swift
if [ -f "$options" ]; then
  git rm -q "$options"
  var=$(sed -n "s/.*@OptionGroup var \([A-Za-z0-9]*\): ${name}Options.*/\1/p" Sources/sae/Options.swift)
  sed -i "/@OptionGroup var $var: ${name}Options/d; /try $var\.apply(to: &config)/d" Sources/sae/Options.swift
fi
echo "Removing $name ($architecture) from a copy of $(git -C "$here" rev-parse --short HEAD):"
git diff --cached --stat HEAD -- . ; git diff --stat

swift build --product sae 2>&1 | grep -E "^/.*error:|^Build" | sort -u | head -20 || true
sae=$(swift build --product sae --show-bin-path)/sae
[ -x "$sae" ] || { echo "FAILED: sae does not build without $name: the seam leaks" >&2; exit 1; }
# 600 x 12 float32 vectors as .npy (python3 alone, no numpy).
python3 - "$work/x.npy" <<'PY'
import random, struct, sys
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (600, 12), }"
header += " " * (63 - len(header)) + "\n"
random.seed(0)
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<7200f", *(random.gauss(0, 1) for _ in range(7200))))
PY
for other in "dictionary --k 4" "batchtopk --k 4" "jumprelu --target-l0 4" "matryoshka --k 4 --groups 8,16" "gated"; do
  set -- $other
  [ "$1" = "$architecture" ] && continue
  "$sae" train --data-npy "$work/x.npy" --code 24 --epochs 1 --architecture $other --out "$work/run-$1" > /dev/null \
    || { echo "FAILED: --architecture $other does not train without $name" >&2; exit 1; }
done
if refusal=$("$sae" train --data-npy "$work/x.npy" --architecture "$architecture" --out "$work/removed" 2>&1); then
  echo "FAILED: --architecture $architecture still trains" >&2; exit 1
fi
echo "$refusal" | grep -q "architecture" || { echo "FAILED: the refusal does not name the option: $refusal" >&2; exit 1; }
echo "ok: sae builds and trains every other architecture without $name; --architecture $architecture is refused:"
echo "  $refusal"
