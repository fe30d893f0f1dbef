#!/usr/bin/env bash
# TopK dictionary SAEs with k in {8, 16, 32}, with and without AuxK, on two datasets:
#   fashion-mnist  the 784 pixels of each image (train 60000, validate on the 10000 test images)
#   codes          the 64-d code of the tutorial's L1 autoencoder for every image (a model's
#                  activations, the interpretability use case): written with `sae encode` to .npy
# AuxK uses k_aux = half the input size (Gao et al.), at most half the latents: 128 for the
# pixels (256 latents), 32 for the codes. Then prints one table (dead latents = not fired on the
# last epoch's training samples).
#
#   bash bench/topk_auxk.sh [OUT] [EPOCHS]        # default runs/topk, 30 epochs
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/topk}
epochs=${2:-30}
swift build -c release --product sae >/dev/null
sae=.build/release/sae
mkdir -p "$out"

if [ ! -f "$out/codes_train.npy" ]; then
  $sae train --penalty l1 --epochs "$epochs" --out "$out/l1" --force >/dev/null
  $sae encode "$out/l1" --split train --out "$out/codes_train.npy"
  $sae encode "$out/l1" --split test --out "$out/codes_test.npy"
fi

for k in 8 16 32; do
  for aux in no yes; do
    fm=(--architecture dictionary --code 256 --k "$k")
    cd_=(--data-npy "$out/codes_train.npy" --val-npy "$out/codes_test.npy" --code 512 --k "$k")
    [ "$aux" = yes ] && fm+=(--auxk 128) && cd_+=(--auxk 32)
    echo "fashion-mnist k=$k auxk=$aux"
    $sae train "${fm[@]}" --epochs "$epochs" --out "$out/fm_k${k}_aux${aux}" --force | tail -1
    echo "codes k=$k auxk=$aux"
    $sae train "${cd_[@]}" --epochs "$epochs" --out "$out/codes_k${k}_aux${aux}" --force | tail -1
  done
done

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print(f"\n{'data':<14}{'latents':>8}{'k':>4}{'AuxK':>6}{'val MSE':>10}{'FVU':>8}{'L0':>7}{'dead (train)':>14}{'dead (test)':>13}")
for data, latents in (("fm", 256), ("codes", 512)):
    for k in (8, 16, 32):
        for aux in ("no", "yes"):
            m = json.load(open(f"{out}/{data}_k{k}_aux{aux}/metrics.json"))
            name = "fashion-mnist" if data == "fm" else "L1 codes"
            print(f"{name:<14}{latents:>8}{k:>4}{aux:>6}{m['test_mse']:>10.5f}{m['test_fvu']:>8.4f}{m['l0']:>7.2f}"
                  f"{m['training_dead_latents']:>14}{m['never_active_units']:>13}")
PY
