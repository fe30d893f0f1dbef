#!/usr/bin/env bash
# A dictionary too large for one process trains on latent shards: under one address-space limit
# (ulimit -v, which every rank inherits), `sae train` refuses the model in one process and
# `mpirun -np 2 sae train --shard-latents` trains it, each rank holding half of the latents.
#
#   bash bench/bigger_than_one_rank.sh [SAE] [LIMIT_KB]    # defaults: .build/release/sae, 1000000
set -euo pipefail
SAE=${1:-.build/release/sae}
LIMIT=${2:-1000000}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
python3 - "$DIR" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
np.save(sys.argv[1] + "/train.npy", rng.standard_normal((2048, 256)).astype(np.float32))
np.save(sys.argv[1] + "/val.npy", rng.standard_normal((256, 256)).astype(np.float32))
PY
ARGS=(--data-npy "$DIR/train.npy" --val-npy "$DIR/val.npy" --code 65536 --k 16 --batch-size 64 --epochs 1)
export SAE_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "== one process, ulimit -v $LIMIT KB"
(ulimit -v "$LIMIT"; "$SAE" train "${ARGS[@]}" --out "$DIR/one" 2>&1 | tail -1) || true
echo "== two latent shards, the same limit on each rank"
(ulimit -v "$LIMIT"; mpirun -np 2 /usr/bin/time -f "a rank's peak resident memory: %M KB" "$SAE" train "${ARGS[@]}" --shard-latents --out "$DIR/two" 2>&1 \
  | grep -E "Wrote|peak|Error")
