"""Synthetic "sparse structure" vectors for benchmarking dictionary SAEs, as float32 .npy files.

    python3 bench/make_vectors.py --out runs/bench-data/d512 [--dim 512] [--directions 8192]
        [--active 20] [--train 65536] [--val 8192] [--seed 0] [--shards S]

The generative model (what a TopK SAE should be able to recover):
  - a fixed dictionary of --directions unit vectors in R^--dim (Gaussian, normalised), from --seed;
  - every vector is the sum of n ~ Poisson(--active) directions (--count fixed: exactly --active),
    drawn uniformly with replacement (a repeat, probability about active^2 / 2 directions, just
    adds), each scaled by an Exponential(1) magnitude (non-negative, like relu-ed features);
  - plus isotropic Gaussian noise, std --noise per dimension (default 0.01).
With the defaults a vector's squared norm is about active * E[m^2] = 20 * 2 = 40, i.e. a variance of
about 0.078 per dimension; the noise adds 1e-4 per dimension, so a perfect dictionary leaves an FVU
of about 0.0013 (noise alone).

Writes to --out:
  train.npy           (N_train, dim) float32, or with --shards S: train/shard_00000.npy ... S files
                      holding the same rows in the same order (for testing streamed data)
  val.npy             (N_val, dim) float32, an independent draw from the same model
  dictionary.npy      (directions, dim) float32, the true directions
  meta.json           the settings above (side_by_side.py reuses a directory whose meta matches)
Rows are generated and written in blocks of 4,096 rows, so memory use stays around 100 MB however
large the files are (1 GB: about 30 s, 96 MB peak RSS); the rows depend only on --seed (not on
--shards), so sharded and single-file sets are identical row for row.
"""
import argparse, json, os, sys

import numpy as np

BLOCK = 4096  # rows per generator block (fixed: the data must not depend on it)


def dictionary(seed, directions, dim):
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    d = rng.standard_normal((directions, dim), dtype=np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d


def block(dic, seed, stream, index, rows, active, fixed, noise):
    """Rows of block `index` of stream 1 (train) or 2 (val)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, index)))
    directions, dim = dic.shape
    counts = np.full(rows, active) if fixed else rng.poisson(active, rows)
    slots = max(int(counts.max()), 1)
    idx = rng.integers(0, directions, (rows, slots))
    mag = rng.exponential(1.0, (rows, slots)).astype(np.float32)
    mag[np.arange(slots)[None, :] >= counts[:, None]] = 0
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    x *= noise
    for j in range(slots):
        x += mag[:, j, None] * dic[idx[:, j]]
    return x


def write(path_rows, dic, args, stream):
    """path_rows: [(path, rows)] consecutive files holding one stream's rows in order. Plain buffered
    writes (not a memmap, whose dirty pages would count in the resident set)."""
    total = sum(r for _, r in path_rows)
    pending = list(path_rows)
    out, path, left = None, None, 0

    def next_file():
        path, rows = pending.pop(0)
        f = open(path + ".tmp", "wb")
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (rows, args.dim)})
        return f, path, rows

    out, path, left = next_file()
    for b in range(0, (total + BLOCK - 1) // BLOCK):
        x = block(dic, args.seed, stream, b, min(BLOCK, total - b * BLOCK), args.active, args.fixed_count, args.noise)
        while len(x):
            n = min(len(x), left)
            out.write(np.ascontiguousarray(x[:n], dtype="<f4").tobytes())
            x, left = x[n:], left - n
            if left == 0:
                out.close()
                os.replace(path + ".tmp", path)
                if pending:
                    out, path, left = next_file()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--directions", type=int, default=8192, help="dictionary size (true features)")
    p.add_argument("--active", type=int, default=20, help="mean number of directions per vector")
    p.add_argument("--fixed-count", action="store_true", help="exactly --active directions per vector (not Poisson)")
    p.add_argument("--noise", type=float, default=0.01, help="Gaussian noise std per dimension")
    p.add_argument("--train", type=int, default=65536)
    p.add_argument("--val", type=int, default=8192)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shards", type=int, default=0, help="write the training set as this many files in OUT/train/")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if args.dim < 1 or args.directions < 1 or args.active < 0 or args.train < 1 or args.val < 0 or args.shards < 0:
        sys.exit("error: sizes must be positive")
    if args.shards > args.train:
        sys.exit("error: more shards than training vectors")
    os.makedirs(args.out, exist_ok=True)
    meta_path = os.path.join(args.out, "meta.json")
    if os.path.exists(meta_path):
        os.remove(meta_path)  # an interrupted run must not look complete
    dic = dictionary(args.seed, args.directions, args.dim)
    np.save(os.path.join(args.out, "dictionary.npy"), dic)
    if args.shards:
        os.makedirs(os.path.join(args.out, "train"), exist_ok=True)
        base, extra = divmod(args.train, args.shards)
        parts = [(os.path.join(args.out, "train", f"shard_{s:05d}.npy"), base + (s < extra)) for s in range(args.shards)]
    else:
        parts = [(os.path.join(args.out, "train.npy"), args.train)]
    write(parts, dic, args, 1)
    if args.val:
        write([(os.path.join(args.out, "val.npy"), args.val)], dic, args, 2)
    meta = {k: getattr(args, k) for k in ("dim", "directions", "active", "fixed_count", "noise", "train", "val", "seed", "shards")}
    meta["train_files"] = [os.path.relpath(path, args.out) for path, _ in parts]
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    gb = (args.train + args.val) * args.dim * 4 / 1e9
    print(f"wrote {args.train} train + {args.val} val vectors of dim {args.dim} ({gb:.2f} GB) to {args.out}")


if __name__ == "__main__":
    main()
