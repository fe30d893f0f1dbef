"""SAEs made by the real SAELens and sparsify packages, read by `sae import`: the codes agree.

    SAE_BIN=.build/release/sae .venv/bin/python bench/import_check.py [WORKDIR]

For each kind below, builds an SAE with the package's own classes (random weights, biases and
thresholds made nonzero so that every term matters), saves it with the package's own save
(`SAE.save_model`, `SparseCoder.save_to_disk`), encodes random vectors with the package's encode,
then runs `sae import DIR --data-npy x.npy --out RUN` and `sae encode RUN --npy x.npy` and compares:
the largest code difference relative to the largest code, and whether the same latents are active.
Exits non-zero on a mismatch. Not part of `make test` (the packages need torch); the suite's
ImportTests check the same path on sae's own exports with numpy alone.
  SAELens 6: standard (apply_b_dec_to_input true and false), topk, jumprelu, gated, transcoder,
             jumprelu_transcoder (float32, and one standard SAE saved in bfloat16, compared with
             SAELens's float32 encode of the same weights);
  sparsify:  a TopK SAE and a TopK transcoder.
"""
import os, subprocess, sys, tempfile

import numpy as np
import torch

os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")
SAE = os.environ.get("SAE_BIN", os.path.join(os.path.dirname(__file__), "..", ".build", "release", "sae"))
D_IN, D_OUT, LATENTS, K, ROWS = 24, 20, 96, 6, 300


def randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if p.dim() > 1 else 0.1))
            if name == "threshold":
                p.copy_(torch.rand(p.shape, generator=g) * 0.3)


def saelens_kinds():
    from sae_lens.saes import (GatedSAE, GatedSAEConfig, JumpReLUSAE, JumpReLUSAEConfig, StandardSAE, StandardSAEConfig,
                               TopKSAE, TopKSAEConfig)
    from sae_lens.saes.transcoder import JumpReLUTranscoder, JumpReLUTranscoderConfig, Transcoder, TranscoderConfig
    common = dict(d_in=D_IN, d_sae=LATENTS, dtype="float32", device="cpu")
    yield "standard", StandardSAE(StandardSAEConfig(**common))
    yield "standard-uncentred", StandardSAE(StandardSAEConfig(**common, apply_b_dec_to_input=False))
    yield "topk", TopKSAE(TopKSAEConfig(**common, k=K))
    yield "jumprelu", JumpReLUSAE(JumpReLUSAEConfig(**common))
    yield "gated", GatedSAE(GatedSAEConfig(**common))
    yield "gated-uncentred", GatedSAE(GatedSAEConfig(**common, apply_b_dec_to_input=False))
    yield "transcoder", Transcoder(TranscoderConfig(**common, d_out=D_OUT, apply_b_dec_to_input=False))
    yield "jumprelu_transcoder", JumpReLUTranscoder(JumpReLUTranscoderConfig(**common, d_out=D_OUT, apply_b_dec_to_input=False))
    yield "standard-bf16", StandardSAE(StandardSAEConfig(d_in=D_IN, d_sae=LATENTS, dtype="bfloat16", device="cpu"))


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="sae-import-")
    x = np.random.default_rng(0).normal(size=(ROWS, D_IN)).astype(np.float32)
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "y.npy"), np.zeros((ROWS, D_OUT), np.float32))
    np.save(os.path.join(work, "y_in.npy"), np.zeros((ROWS, D_IN), np.float32))
    cases = []
    for seed, (name, sae) in enumerate(saelens_kinds()):
        randomise(sae, seed)
        folder = os.path.join(work, name)
        sae.save_model(folder)
        with torch.no_grad():
            # A bfloat16 SAE's weights, read by sae as float32, against SAELens's encode in float32
            # of the same weights (its bfloat16 arithmetic rounds the codes to bfloat16's 3 digits).
            codes = sae.to(dtype=torch.float32).encode(torch.from_numpy(x)).numpy()
        cases.append((f"SAELens {name}", folder, codes, "y.npy" if "transcoder" in name else None, 1e-5))
    from sparsify import SparseCoder, SparseCoderConfig
    for seed, transcode in enumerate([False, True], start=100):
        coder = SparseCoder(D_IN, SparseCoderConfig(num_latents=LATENTS, k=K, transcode=transcode))
        randomise(coder, seed)
        folder = os.path.join(work, "sparsify-transcoder" if transcode else "sparsify")
        coder.save_to_disk(folder)
        with torch.no_grad():
            out = coder.encode(torch.from_numpy(x))
            codes = torch.zeros(ROWS, LATENTS).scatter_(1, out.top_indices, out.top_acts).numpy()
        cases.append((f"sparsify {'transcoder' if transcode else 'TopK'}", folder, codes, "y_in.npy" if transcode else None, 1e-5))
    failed = 0
    for name, folder, theirs, targets, tolerance in cases:
        run, ours_path = folder + "-run", folder + "-codes.npy"
        command = [SAE, "import", folder, "--data-npy", os.path.join(work, "x.npy"), "--out", run, "--force"]
        if targets:
            command += ["--target-npy", os.path.join(work, targets)]
        subprocess.run(command, check=True, capture_output=True)
        subprocess.run([SAE, "encode", run, "--npy", os.path.join(work, "x.npy"), "--out", ours_path, "--force"],
                       check=True, capture_output=True)
        ours = np.load(ours_path)
        error = np.abs(theirs - ours).max() / max(np.abs(theirs).max(), 1e-12)
        differing = int(((theirs > 0) != (ours > 0)).sum())
        ok = error <= tolerance and differing <= theirs.size * 1e-4
        failed += not ok
        print(f"{name:28} relative code error {error:.1e}, active latents differing {differing} of {theirs.size}, "
              f"L0 {float((theirs > 0).sum(1).mean()):.1f}: {'ok' if ok else 'MISMATCH'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
