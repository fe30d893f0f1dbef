"""Loads an `sae export` folder with numpy alone (safetensors read by its spec) and checks that
it reproduces the encodings and reconstructions `sae` computed.

    python3 check_export.py EXPORT_DIR x.npy codes.npy reconstructions.npy

Exits non-zero, saying why, on any mismatch. Run by InteropTests (and so by `make test`).
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    """The safetensors format: u64 little-endian header size, a JSON header, raw tensor bytes."""
    with open(path, "rb") as f:
        blob = f.read()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(blob[base + begin:base + end], dtype="<f4").reshape(info["shape"])
    return tensors


def load(folder):
    """(W_enc (d_in, d_sae), b_enc, W_dec (d_sae, d_out), b_dec (d_out), k or None, threshold or None,
    centred) from either layout. An SAE's encoder reads x - b_dec (d_out = d_in); a transcoder's
    reads x itself (SAELens: apply_b_dec_to_input false, architecture *transcoder; sparsify:
    transcode true)."""
    with open(f"{folder}/cfg.json") as f:
        cfg = json.load(f)
    try:
        t = read_safetensors(f"{folder}/sae_weights.safetensors")
        architecture = cfg["architecture"]
        centred = not architecture.endswith("transcoder")
        assert cfg["apply_b_dec_to_input"] is centred and cfg["normalize_activations"] == "none", cfg
        k = cfg["k"] if architecture == "topk" else None
        threshold = t["threshold"] if architecture in ("jumprelu", "jumprelu_transcoder") else None
        if cfg["architecture"] == "gated":
            # (x_c W + b_gate > 0) relu(x_c W exp(r_mag) + b_mag): the gate as the "threshold"
            # (b_gate, r_mag, b_mag), read by encode.
            threshold = ("gated", t["b_gate"], t["r_mag"], t["b_mag"])
            t = dict(t, b_enc=np.zeros_like(t["b_gate"]))
        w_enc, b_enc, w_dec, b_dec = t["W_enc"], t["b_enc"], t["W_dec"], t["b_dec"]
        d_in, d_sae, d_out = cfg["d_in"], cfg["d_sae"], cfg.get("d_out", cfg["d_in"])
        assert centred or "d_out" in cfg, "a SAELens transcoder needs d_out (its default is 768)"
    except FileNotFoundError:
        t = read_safetensors(f"{folder}/sae.safetensors")
        k, threshold, centred = cfg["k"], None, not cfg.get("transcode", False)
        w_enc, b_enc, w_dec, b_dec = t["encoder.weight"].T, t["encoder.bias"], t["W_dec"], t["b_dec"]
        d_in, d_sae, d_out = cfg["d_in"], cfg["num_latents"], cfg["d_in"]
    assert w_enc.shape == (d_in, d_sae) and w_dec.shape == (d_sae, d_out), (w_enc.shape, w_dec.shape)
    assert b_enc.shape == (d_sae,) and b_dec.shape == (d_out,), (b_enc.shape, b_dec.shape)
    return w_enc, b_enc, w_dec, b_dec, k, threshold, centred


def encode(x, w_enc, b_enc, b_dec, k, threshold=None, centred=True):
    pre = (x - b_dec if centred else x) @ w_enc + b_enc
    if isinstance(threshold, tuple):
        _, b_gate, r_mag, b_mag = threshold
        return np.where(pre + b_gate > 0, np.maximum(pre * np.exp(r_mag) + b_mag, 0), 0)
    if threshold is not None:
        # JumpReLU (SAELens): relu, zeroed where the pre-activation does not exceed the threshold.
        return np.where(pre > threshold, np.maximum(pre, 0), 0)
    if k is not None:
        # Keep each row's k largest pre-activations (SAELens and sparsify: topk, then relu).
        keep = np.argpartition(-pre, k - 1, axis=1)[:, :k]
        mask = np.zeros_like(pre, dtype=bool)
        np.put_along_axis(mask, keep, True, axis=1)
        pre = np.where(mask, pre, 0)
    return np.maximum(pre, 0)


def main():
    folder, x_path, codes_path, recon_path = sys.argv[1:5]
    w_enc, b_enc, w_dec, b_dec, k, threshold, centred = load(folder)
    x = np.load(x_path).astype(np.float64)
    z = encode(x, w_enc.astype(np.float64), b_enc, b_dec, k, threshold, centred)
    ours = np.load(codes_path)
    recon = z @ w_dec + b_dec
    code_error = np.abs(z - ours).max() / max(np.abs(ours).max(), 1e-12)
    recon_error = np.abs(recon - np.load(recon_path)).max() / max(np.abs(recon).max(), 1e-12)
    same_support = np.array_equal(z > 0, ours > 0)
    print(f"{folder}: k={k}, {'' if centred else 'transcoder, '}relative code error {code_error:.2e}, reconstruction error {recon_error:.2e}, "
          f"same active latents: {same_support}")
    if not (same_support and code_error < 1e-4 and recon_error < 1e-4):
        sys.exit("the export does not reproduce sae's encodings")


if __name__ == "__main__":
    main()
