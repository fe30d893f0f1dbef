"""Val FVU at matched L0: JumpReLU and Gated, sae against dictionary_learning 0.1.0, by sweeping each side's sparsity setting.

    python3 bench/matched_l0.py [--archs jumprelu,gated] --jumprelu-sae 2,8 --jumprelu-peer 2,8 \
        --gated-sae 0.3,1 --gated-peer 0.3,1 [--epochs 12 | --epochs jumprelu=32,gated=12] \
        [--l0s 32,64 | --l0s jumprelu=32/64/175,gated=32/64] \
        [--data-dir runs/bench-data/d512] [--out runs/matched-l0] [--json F]

The architectures part of side_by_side.py compares the two at one setting, where their L0s differ. Here each
setting in the lists is one run on each side (sae: JumpReLU's --target-l0 with --l0-coefficient at its default 1,
Gated's --gate-l1; dictionary_learning: JumpReluTrainer's target_l0 with sparsity_penalty 1, GatedSAETrainer's
l1_penalty), both driven as side_by_side.py drives them: `sae train --data-npy` (SAE_THREADS=2) and
bench/dictionary_learning_reference.py (the trainer's own `update(step, x)`, torch threads 2), on the d512 vectors
(4,096 latents, batch 1,024, lr 4e-4 constant, the same number of steps, Adam betas (0, 0.999) and eps 1e-8 on
both, the gradient's norm clipped as the peer's trainers clip it: sae's --max-grad-norm 1/d (--sae-clip); the remaining differences are listed in the reference's docstring). Each run reports the val FVU (sum of
squared errors / total variance of the val set about its mean) and L0 (mean active latents per val vector) by its
own implementation: sae's metrics.json test_fvu and l0 (a latent counts when above 0.001), the reference's (when
nonzero). Both also after the epoch before the last (sae: trained to E - 1 epochs, evaluated, then resumed to E,
the same weights as one run), so that the table shows whether L0 has levelled off.

Then, per architecture and side, FVU at each --l0s value by linear interpolation in (L0, FVU) between the two runs
that bracket it most closely (the run with the largest L0 at or below it and the one with the smallest at or
above), naming them, and sae's FVU minus the peer's. A side without a run on each side of an L0 says so.
Each run's commands, output, wall time and result are kept in --out; a run whose result is there
(SIDE_ARCH_SETTING_eEPOCHS.result.json) is reused, not trained again, so that a sweep can be extended a setting at
a time (delete the file to train it again). One run at a time.
"""
import argparse, ast, json, os, shlex, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import BENCH, DATA_DIR, DICT_BATCH, PEER_THREADS, SAE, run_measured  # noqa: E402

ARCHS = ["jumprelu", "gated"]
LATENTS, LR = 4096, 4e-4  # side_by_side.py's d512 shape
SIDES = ["dict_learning", "sae"]
SETTING = {"jumprelu": "target L0", "gated": "gate L1"}


def shape(npy):
    """The shape of a .npy file, from its header (format 1: a 2-byte header length, 2 and 3: 4 bytes)."""
    with open(npy, "rb") as f:
        major = f.read(8)[6]
        size = int.from_bytes(f.read(2 if major == 1 else 4), "little")
        return ast.literal_eval(f.read(size).decode("latin1"))["shape"]


def sae_runs(arch, setting, train, val, epochs, base, clip):
    """The two sae commands: train to epochs - 1, then resume to epochs."""
    first = [SAE, "train", "--data-npy", train, "--val-npy", val, "--code", str(LATENTS), "--batch-size", str(DICT_BATCH),
             "--learning-rate", repr(LR), "--epochs", str(epochs - 1), "--adam-beta1", "0", "--adam-beta2", "0.999",
             "--adam-epsilon", "1e-8", "--architecture", arch, "--out", base, "--force"]
    first += ["--target-l0", setting] if arch == "jumprelu" else ["--gate-l1", setting]
    if clip:
        first += ["--max-grad-norm", repr(clip)]
    return [first, [SAE, "train", "--resume", base, "--epochs", str(epochs)]]


def peer_run(python, arch, setting, train, val, epochs, base):
    cmd = [python, os.path.join(BENCH, "dictionary_learning_reference.py"), "--arch", arch, "--train", train, "--val", val,
           "--latents", str(LATENTS), "--batch-size", str(DICT_BATCH), "--lr", repr(LR), "--epochs", str(epochs),
           "--threads", str(PEER_THREADS), "--json", base + ".json"]
    return cmd + (["--target-l0", setting] if arch == "jumprelu" else ["--l1-penalty", setting])


def run(side, arch, setting, args, python, epochs):
    """One run (reused from --out if its result is there): {setting, l0, fvu, l0_before, fvu_before, wall, commands}."""
    train, val = (os.path.join(args.data_dir, f) for f in ("train.npy", "val.npy"))
    clip = sae_clip(args, val) if side == "sae" else 0
    base = os.path.join(args.out, f"{side}_{arch}_{setting}_e{epochs}" + (f"_clip{clip:.3g}" if clip else ""))
    cmds = sae_runs(arch, setting, train, val, epochs, base, clip) if side == "sae" else [peer_run(python, arch, setting, train, val, epochs, base)]
    shown = [" ".join(shlex.quote(c) for c in cmd) for cmd in cmds]
    result_path = base + ".result.json"
    if os.path.exists(result_path):
        print(f"{side} {arch} {setting}, {epochs} epochs: reused {result_path}", flush=True)
        return json.load(open(result_path))
    print(f"{side} {arch} {setting}, {epochs} epochs", flush=True)
    env = dict(os.environ, SAE_THREADS=str(PEER_THREADS))
    wall, metrics = 0.0, []
    for i, cmd in enumerate(cmds):
        code, seconds, _ = run_measured(cmd, f"{base}.{i}.log", env)
        wall += seconds
        if code != 0:
            sys.exit(f"error: {shown[i]} failed, see {base}.{i}.log")
        if side == "sae":
            metrics.append(json.load(open(os.path.join(base, "metrics.json"))))
    if side == "sae":
        (before, after) = metrics
        r = dict(l0=after["l0"], fvu=after["test_fvu"], l0_before=before["l0"], fvu_before=before["test_fvu"])
    else:
        peer = json.load(open(base + ".json"))
        r = dict(l0=peer["l0"][-1], fvu=peer["val_fvu"][-1], l0_before=peer["l0"][-2], fvu_before=peer["val_fvu"][-2])
    r.update(side=side, arch=arch, setting=setting, epochs=epochs, steps=epochs * -(-shape(train)[0] // DICT_BATCH), wall=wall, commands=shown)
    with open(result_path, "w") as f:
        json.dump(r, f, indent=1)
    return r


def sae_clip(args, val):
    """sae's --max-grad-norm: --sae-clip, or by default 1 / d, the peer's clip_grad_norm_(1.0) on its loss (which
    sums the squared error over the d features where sae's averages it: its gradient is d times sae's)."""
    if args.sae_clip != "peer":
        return float(args.sae_clip)
    return 1.0 / shape(val)[-1]


def at_l0(runs, l0):
    """(FVU interpolated at l0, lower run, upper run), or None when no two runs bracket it."""
    below = [r for r in runs if r["l0"] <= l0]
    above = [r for r in runs if r["l0"] >= l0]
    if not below or not above:
        return None
    lo, hi = max(below, key=lambda r: r["l0"]), min(above, key=lambda r: r["l0"])
    if hi["l0"] == lo["l0"]:
        return lo["fvu"], lo, hi
    return lo["fvu"] + (hi["fvu"] - lo["fvu"]) * (l0 - lo["l0"]) / (hi["l0"] - lo["l0"]), lo, hi


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="jumprelu,gated")
    for arch in ARCHS:
        for side, who in (("sae", "sae"), ("peer", "dictionary_learning")):
            p.add_argument(f"--{arch}-{side}", default="", help=f"{who}'s {SETTING[arch]} settings, comma-separated")
    p.add_argument("--epochs", default="12", help="epochs of 64 steps: N, or per architecture (jumprelu=32,gated=12)")
    p.add_argument("--l0s", default="32,64", help="the L0s to compare FVU at: 32,64, or per architecture (jumprelu=32/64/175,gated=32/64)")
    p.add_argument("--data-dir", default=os.path.join(DATA_DIR, "d512"), help="train.npy and val.npy (bench/make_vectors.py's d512)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(DATA_DIR), "matched-l0"), help="runs, logs and results")
    p.add_argument("--python", default=os.environ.get("BENCH_PYTHON", sys.executable), help="a python with dictionary_learning")
    p.add_argument("--json", help="also write every run's result here")
    p.add_argument("--sae-clip", default="peer", help="sae's --max-grad-norm: 'peer' (default) 1/d, the peer's clipping "
                   "at 1.0 on sae's scale; 0 for none (the runs before 2026-12-05e)")
    args = p.parse_args()
    archs = args.archs.split(",")
    if unknown := set(archs) - set(ARCHS):
        sys.exit(f"error: unknown architecture(s) {', '.join(sorted(unknown))}")
    epochs = {a: int(args.epochs) for a in ARCHS} if "=" not in args.epochs else \
        {a: int(e) for a, e in (item.split("=") for item in args.epochs.split(","))}
    if any(epochs.get(a, 0) < 2 for a in archs):
        sys.exit("error: every architecture needs --epochs of at least 2 (L0 is compared over the last two)")
    if not os.path.exists(SAE):
        sys.exit("error: build sae first: swift build -c release --product sae (or SAE_BIN=)")
    os.makedirs(args.out, exist_ok=True)
    l0s = {a: [float(x) for x in args.l0s.split(",")] for a in ARCHS} if "=" not in args.l0s else \
        {a: [float(x) for x in v.split("/")] for a, v in (item.split("=") for item in args.l0s.split(","))}

    results = []
    for arch in archs:
        for side, option in (("dict_learning", "peer"), ("sae", "sae")):
            for setting in filter(None, getattr(args, f"{arch}_{option}").split(",")):
                results.append(run(side, arch, setting, args, args.python, epochs[arch]))

    for arch in archs:
        e = epochs[arch]
        print(f"\n{arch}: d512, {LATENTS} latents, batch {DICT_BATCH}, lr {LR:g} constant, {e} epochs ({e * 64} steps); "
              f"L0 and val FVU after epoch {e - 1} and {e}")
        print(f"{'side':14} {SETTING[arch]:>10} {'L0 e' + str(e - 1):>9} {'L0':>8} {'FVU e' + str(e - 1):>9} {'val FVU':>8} {'wall s':>7}")
        runs = {s: sorted((r for r in results if r["arch"] == arch and r["side"] == s), key=lambda r: r["l0"]) for s in SIDES}
        for s in SIDES:
            for r in runs[s]:
                print(f"{s:14} {r['setting']:>10} {r['l0_before']:9.1f} {r['l0']:8.1f} {r['fvu_before']:9.4f} {r['fvu']:8.4f} {r['wall']:7.0f}")
        for l0 in l0s.get(arch, []):
            found = {s: at_l0(runs[s], l0) for s in SIDES}
            for s in SIDES:
                f = found[s]
                what = f"FVU {f[0]:.4f} (between {f[1]['setting']} at L0 {f[1]['l0']:.1f} and {f[2]['setting']} at {f[2]['l0']:.1f})" \
                    if f else "not bracketed (L0 " + ", ".join(f"{r['l0']:.1f}" for r in runs[s]) + ")"
                print(f"  L0 {l0:g} {s:14} {what}")
            if all(found.values()):
                diff = found["sae"][0] - found["dict_learning"][0]
                print(f"  L0 {l0:g} sae - dict_learning: {diff:+.4f} ({'within 0.005 or better' if diff <= 0.005 else 'misses 0.005'})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
