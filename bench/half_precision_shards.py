"""The same 65,536 d-512 float32 vectors as four shards in five forms, to time reading them:
float32 and float16 .npy, and F32, F16 and BF16 .safetensors (BF16: the upper half of each
float32, as torch's bfloat16 conversion by truncation). Numpy only.

    python3 bench/half_precision_shards.py --out /tmp/stbench
    cd /tmp/stbench && for kind in npy32 st32 npy16 st16 stbf16; do
      printf "%s " $kind
      sae bench --data-npy $kind --val-npy val.npy --code 4096 --k 32 --batch-size 1024 --epochs 2 | grep '^data'
    done
"""
import argparse
import json
import os
import struct

import numpy as np


def safetensors(path, array, dtype):
    if dtype == "F16":
        raw = array.astype(np.float16).tobytes()
    elif dtype == "BF16":
        raw = (array.view(np.uint32) >> 16).astype("<u2").tobytes()
    else:
        raw = array.astype("<f4").tobytes()
    header = json.dumps({"acts": {"dtype": dtype, "shape": list(array.shape), "data_offsets": [0, len(raw)]}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + raw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--width", type=int, default=512)
    args = parser.parse_args()
    x = np.random.default_rng(0).standard_normal((args.rows, args.width)).astype(np.float32)
    for kind in ["npy32", "npy16", "st32", "st16", "stbf16"]:
        os.makedirs(os.path.join(args.out, kind), exist_ok=True)
    part = args.rows // 4
    for i in range(4):
        p = x[i * part:(i + 1) * part]
        np.save(os.path.join(args.out, f"npy32/p{i}.npy"), p)
        np.save(os.path.join(args.out, f"npy16/p{i}.npy"), p.astype(np.float16))
        for kind, dtype in [("st32", "F32"), ("st16", "F16"), ("stbf16", "BF16")]:
            safetensors(os.path.join(args.out, f"{kind}/p{i}.safetensors"), p, dtype)
    np.save(os.path.join(args.out, "val.npy"), x[:2048])


if __name__ == "__main__":
    main()
