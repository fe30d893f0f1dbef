"""Fashion-MNIST images for the reference scripts, read from the IDX files (raw or .gz) sae reads."""
import gzip, os, sys

import numpy as np


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    rank = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(shape)


def find(directory, name):
    for candidate in (os.path.join(directory, name + ".gz"), os.path.join(directory, name)):
        if os.path.exists(candidate):
            return candidate
    sys.exit(f"error: {name} not found in {directory}")


def images(directory):
    """(train, test) float32 images scaled to [0, 1], (N, 784) each: Keras's x.astype("float32") / 255."""
    load = lambda name: read_idx(find(directory, name)).reshape(-1, 784).astype(np.float32) / 255.0
    return load("train-images-idx3-ubyte"), load("t10k-images-idx3-ubyte")
