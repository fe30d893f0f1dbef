"""Loads an `sae export` folder with the real SAELens and checks that its encode gives sae's codes.

    .venv/bin/python bench/saelens_check.py EXPORT_DIR x.npy codes.npy

(`make bench` creates .venv with sae-lens; any environment with `pip install sae-lens` will do.)
Prints the architecture SAELens loaded, the largest code difference relative to the largest code,
and whether the same latents are active; exits non-zero on a mismatch. Not part of `make test`
(SAELens needs torch, several GB); Tests/Interop/check_export.py checks the same with numpy alone.
"""
import sys

import numpy as np
import torch
from sae_lens import SAE


def main():
    folder, x_path, codes_path = sys.argv[1:4]
    sae = SAE.load_from_disk(folder, device="cpu")
    x = torch.from_numpy(np.load(x_path).astype(np.float32))
    with torch.no_grad():
        theirs = sae.encode(x).numpy()
    ours = np.load(codes_path)
    error = np.abs(theirs - ours).max() / max(np.abs(ours).max(), 1e-12)
    same = np.array_equal(theirs > 0, ours > 0)
    differing = int((( theirs > 0) != (ours > 0)).sum())
    print(f"{folder}: SAELens {type(sae).__name__} ({sae.cfg.architecture()}), relative code error {error:.2e}, "
          f"same active latents: {same} ({differing} of {ours.size} differ), L0 {float((ours > 0).sum(1).mean()):.2f}")
    if error > 1e-4 or differing > ours.size * 1e-5:
        sys.exit("SAELens's codes differ from sae's")


if __name__ == "__main__":
    main()
