#!/usr/bin/env python3
"""Writes Tests/Fixtures/fashion-mini: the first 20 training and 10 test images of each class of
the real Fashion-MNIST (Debian's dataset-fashion-mnist), in their original order, as the four
gzip'd IDX files under their usual names. The tests train on these instead of the full 60,000
images; one test (FashionMNISTTests.testTheRealFilesMatchTheirChecksumsLoadAndTrain) reads the real files.

    python3 Tests/Fixtures/make-fashion-mini.py [SOURCE_DIR]
"""
import gzip, os, struct, sys

source = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion-mini")
os.makedirs(target, exist_ok=True)
for split, per_class in [("train", 20), ("t10k", 10)]:
    images = gzip.open(os.path.join(source, split + "-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(source, split + "-labels-idx1-ubyte.gz")).read()[8:]
    picked, counts = [], [0] * 10
    for i, label in enumerate(labels):
        if counts[label] < per_class:
            picked.append(i)
            counts[label] += 1
    files = {
        split + "-images-idx3-ubyte": struct.pack(">IIII", 0x803, len(picked), 28, 28)
            + b"".join(images[16 + 784 * i:16 + 784 * (i + 1)] for i in picked),
        split + "-labels-idx1-ubyte": struct.pack(">II", 0x801, len(picked)) + bytes(labels[i] for i in picked),
    }
    for name, data in files.items():
        with open(os.path.join(target, name + ".gz"), "wb") as f:
            f.write(gzip.compress(data, 9, mtime=0))
