"""EleutherAI sparsify's TopK SAE trained on .npy vectors directly, with its trainer's exact step.

    SPARSIFY_DISABLE_TRITON=1 python bench/sparsify_reference.py --train TRAIN.npy --val VAL.npy \
        [--latents 4096] [--k 32] [--batch-size 1024] [--lr 4e-4] [--epochs 2] [--json out.json]

sparsify's `Trainer` (sparsify/trainer.py) only trains on a language model's activations through forward
hooks; this script feeds it the vectors of a .npy file (or a directory of .npy shards) instead and runs,
per batch, exactly what `Trainer.fit` and its hook do with loss_fn="fvu", optimizer="adam", one
hookpoint, no gradient accumulation (references are to eai-sparsify 1.3.3):
  1. first step only: b_dec = the mean of the first batch (trainer.py 411-421; the encoder bias stays 0);
  2. W_dec rows renormalised to unit length, row / (norm + float32 eps) (trainer.py 424-425,
     sparse_coder.py 282-288);
  3. dead latents = num_tokens_since_fired > dead_feature_threshold, only when auxk_alpha > 0
     (trainer.py 426-432);
  4. SparseCoder.forward (the package's own code): FVU = sum (x - x_hat)^2 / sum (x - batch mean)^2 of
     THIS batch, AuxK = min(dead / k_aux, 1) * sum (e_hat - e)^2 / the same batch variance with
     k_aux = d_in // 2 (not configurable: sparse_coder.py 232-258);
     loss = fvu + auxk_alpha * auxk (trainer.py 480-485);
  5. backward, then the component of W_dec's gradient along each row is removed (trainer.py 551-553,
     sparse_coder.py 290-304); torch.optim.Adam step (betas 0.9/0.999, eps 1e-8, torch defaults);
     LR scheduler step; no gradient clipping;
  6. num_tokens_since_fired += batch size, reset to 0 for every latent that fired in the batch
     (trainer.py 567-576).
Settings that differ from sparsify's TrainConfig defaults (all are options here; config.py 44-117):
  - optimizer: sparsify defaults to "signum" (schedule-free SignSGD); this runs its "adam" branch.
  - lr schedule: sparsify wraps Adam in get_linear_schedule_with_warmup(lr_warmup_steps=1000, total =
    one pass); with a few hundred steps that would leave the lr near 0, so the default here is a
    constant lr (--schedule constant, as sae trains); --schedule sparsify gives its warmup + linear
    decay to 0 over all --epochs.
  - auxk_alpha: sparsify's default is 0 (AuxK off); default here 1/32 (Gao et al., and sae's default).
  - dead_feature_threshold: sparsify's default is 10,000,000 tokens; default here one epoch's worth of
    training vectors (sae's default), so AuxK can start in the second epoch.
  - epochs and shuffling: sparsify makes one pass over a pre-shuffled dataset (DataLoader
    shuffle=False); here every epoch draws a fresh permutation (--no-shuffle: file order). The last
    partial batch is kept (DataLoader's drop_last=False).
  - lr default: 2e-4 / sqrt(latents / 2^14), sparsify's formula for Adam (4e-4 at 4,096 latents).
Note that FusedEncoder.backward (fused_encoder.py 52-87) ignores the gradient reaching pre_acts, so
AuxK (computed from pre_acts) trains only the dead latents' decoder rows, never the encoder.
`--verify-trainer` checks the claim above: it trains a small SAE with sparsify's own Trainer.fit (through
a stand-in language model whose layer returns the vectors) and with this loop, with AuxK active, and
prints the largest difference in every parameter (0.0 with eai-sparsify 1.3.3 / torch 2.15).
After every epoch the model (as the step left it; sparsify saves it so too) is validated on --val:
FVU = sum of squared errors / sum of squared deviations from the val set's mean, over the whole val set.
Training time excludes validation. Prints progress and one JSON line; peak RSS is the caller's to measure.
"""
import argparse, glob, json, math, os, sys, time

os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")  # before sparsify is imported: no GPU, no Triton

import numpy as np


def load_vectors(path):
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.npy")))
        if not files:
            sys.exit(f"error: no .npy files in {path}")
        return np.concatenate([np.load(f) for f in files]).astype(np.float32, copy=False)
    return np.load(path).astype(np.float32, copy=False)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", help=".npy file (N, d) or a directory of .npy shards")
    p.add_argument("--val", help=".npy file (N, d)")
    p.add_argument("--latents", type=int, default=4096)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=None, help="default: sparsify's 2e-4 / sqrt(latents / 2^14)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--auxk-alpha", type=float, default=1 / 32, help="AuxK weight (sparsify's default: 0, off)")
    p.add_argument("--dead-threshold", type=int, default=None,
                   help="dead = not fired for more than this many vectors (default: one epoch; sparsify's: 10M)")
    p.add_argument("--schedule", choices=["constant", "sparsify"], default="constant")
    p.add_argument("--warmup-steps", type=int, default=1000, help="with --schedule sparsify")
    p.add_argument("--no-shuffle", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed before the SAE is built (sparsify: init_seeds [0])")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--json", help="also write the result JSON here")
    p.add_argument("--save", help="torch.save the final state dict (encoder.weight, encoder.bias, W_dec, b_dec) here")
    p.add_argument("--verify-trainer", action="store_true", help="compare this loop with sparsify's Trainer.fit and exit")
    args = p.parse_args()
    if args.verify_trainer:
        return verify_trainer()
    if not args.train or not args.val:
        p.error("--train and --val are required")

    import torch
    import sparsify
    from sparsify import SparseCoder, SparseCoderConfig
    from transformers import get_linear_schedule_with_warmup

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision("high")  # as Trainer.fit does (no effect on CPU)

    x_train = torch.from_numpy(load_vectors(args.train))
    x_val = torch.from_numpy(load_vectors(args.val))
    n, d = x_train.shape
    if x_val.shape[1] != d:
        sys.exit(f"error: train has {d} features, val {x_val.shape[1]}")
    bs = args.batch_size
    steps_per_epoch = math.ceil(n / bs)
    threshold = n if args.dead_threshold is None else args.dead_threshold

    torch.manual_seed(args.seed)  # trainer.py 95
    cfg = SparseCoderConfig(num_latents=args.latents, k=args.k)  # activation topk, normalize_decoder True
    sae = SparseCoder(d, cfg, "cpu", dtype=torch.float32)
    lr = args.lr or 2e-4 / (sae.num_latents / 2**14) ** 0.5  # trainer.py 123
    opt = torch.optim.Adam([dict(params=sae.parameters(), lr=lr)])  # trainer.py 113-130 (no bitsandbytes on CPU)
    if args.schedule == "sparsify":
        sched = get_linear_schedule_with_warmup(opt, args.warmup_steps, (n // bs) * args.epochs)
    else:
        sched = None
    since_fired = torch.zeros(sae.num_latents, dtype=torch.long)
    did_fire = torch.zeros(sae.num_latents, dtype=torch.bool)
    gen = torch.Generator().manual_seed(args.seed + 1)

    val_mean = x_val.double().mean(0)
    val_var = float((x_val.double() - val_mean).pow(2).sum())

    @torch.no_grad()
    def validate():
        sse = 0.0
        for i in range(0, len(x_val), bs):
            x = x_val[i:i + bs]
            sse += float((x - sae(x).sae_out).double().pow(2).sum())
        return sse / val_var

    print(f"sparsify {sparsify.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{n} x {d} train, {len(x_val)} val; {sae.num_latents} latents, k {args.k}, k_aux {d // 2}, "
          f"batch {bs}, lr {lr:.3g} ({args.schedule}), auxk_alpha {args.auxk_alpha}, dead after > {threshold}",
          flush=True)
    step = 0
    epoch_seconds, val_seconds, val_fvu, train_fvu, dead_counts = [], [], [], [], []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.arange(n) if args.no_shuffle else torch.randperm(n, generator=gen)
        fvu_sum = 0.0
        for i in range(0, n, bs):
            x = x_train[order[i:i + bs]]
            if step == 0:
                sae.b_dec.data = x.mean(0).to(sae.dtype)
            sae.set_decoder_norm_to_unit_norm()
            dead_mask = since_fired > threshold if args.auxk_alpha > 0 else None
            total_variance = (x - x.mean(0)).pow(2).sum()
            out = sae(x=x, y=x, dead_mask=dead_mask, total_variance=total_variance)
            did_fire[out.latent_indices.flatten()] = True
            loss = out.fvu + args.auxk_alpha * out.auxk_loss + out.multi_topk_fvu / 8
            loss.backward()
            sae.remove_gradient_parallel_to_decoder_directions()
            opt.step()
            opt.zero_grad()
            if sched is not None:
                sched.step()
            with torch.no_grad():
                since_fired += len(x)
                since_fired[did_fire] = 0
                did_fire.zero_()
            fvu_sum += float(out.fvu.detach()) * len(x)
            step += 1
        epoch_seconds.append(time.perf_counter() - start)
        train_fvu.append(fvu_sum / n)
        start = time.perf_counter()
        val_fvu.append(validate())
        val_seconds.append(time.perf_counter() - start)
        dead_counts.append(int((since_fired > threshold).sum()))
        print(f"epoch {epoch + 1}/{args.epochs}: {epoch_seconds[-1]:.2f} s ({n / epoch_seconds[-1]:.0f} vectors/s), "
              f"train FVU {train_fvu[-1]:.4f}, val FVU {val_fvu[-1]:.4f} ({val_seconds[-1]:.2f} s), "
              f"dead {dead_counts[-1]}", flush=True)

    result = {
        "seconds_per_epoch": epoch_seconds,
        "vectors_per_second": [n / s for s in epoch_seconds],
        "validation_seconds": val_seconds,
        "train_fvu": train_fvu,
        "val_fvu": val_fvu,
        "dead_latents": dead_counts,
        "train_vectors": n, "val_vectors": len(x_val), "dim": d,
        "latents": sae.num_latents, "k": args.k, "k_aux": d // 2, "auxk_alpha": args.auxk_alpha,
        "dead_threshold": threshold, "batch_size": bs, "lr": lr, "schedule": args.schedule, "steps": step,
        "sparsify": sparsify.__version__, "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))
    if args.save:
        torch.save(sae.state_dict(), args.save)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


def verify_trainer():
    """Trains the same small SAE with sparsify's Trainer.fit and with this script; prints the differences."""
    import subprocess, tempfile
    import torch
    from torch import nn
    from transformers import PretrainedConfig, PreTrainedModel
    from sparsify import SparseCoderConfig, TrainConfig, Trainer

    d, n, bs, latents, k, lr, threshold = 64, 4096, 256, 2048, 4, 1e-3, 256
    rng = np.random.default_rng(0)
    dic = rng.standard_normal((512, d)).astype(np.float32)
    x = ((rng.exponential(1, (n, 512)) * (rng.random((n, 512)) < 0.02)).astype(np.float32) @ dic + 0.3).astype(np.float32)
    table = torch.from_numpy(x)

    class Config(PretrainedConfig):
        model_type = "vectors"

        def __init__(self, **kw):
            super().__init__(**kw)
            self.num_hidden_layers = 1

    class Layer(nn.Module):  # the "activations" of token i are row i
        def forward(self, ids):
            return table[ids]

    class Model(PreTrainedModel):
        config_class = Config

        def __init__(self, cfg):
            super().__init__(cfg)
            self.layers = nn.ModuleList([Layer()])
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, **kw):
            return self.layers[0](input_ids)

    class Tokens(torch.utils.data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return {"input_ids": torch.tensor([i])}

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(SparseCoderConfig(num_latents=latents, k=k), batch_size=bs, optimizer="adam", lr=lr,
                          lr_warmup_steps=0, auxk_alpha=1 / 32, dead_feature_threshold=threshold, log_to_wandb=False,
                          save_dir=os.path.join(tmp, "ckpt"), save_every=10**9, run_name="r", layers=[0])
        trainer = Trainer(cfg, Tokens(), Model(Config()))
        trainer.fit()
        theirs = trainer.saes["layers.0"].state_dict()
        np.save(os.path.join(tmp, "x.npy"), x)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--train", os.path.join(tmp, "x.npy"),
                        "--val", os.path.join(tmp, "x.npy"), "--latents", str(latents), "--k", str(k),
                        "--batch-size", str(bs), "--lr", str(lr), "--epochs", "1", "--schedule", "sparsify",
                        "--warmup-steps", "0", "--no-shuffle", "--auxk-alpha", str(1 / 32),
                        "--dead-threshold", str(threshold), "--save", os.path.join(tmp, "mine.pt")], check=True,
                       stdout=subprocess.DEVNULL)
        mine = torch.load(os.path.join(tmp, "mine.pt"))
    dead = int((trainer.num_tokens_since_fired["layers.0"] > threshold).sum())
    print(f"\nTrainer.fit against this loop ({n} vectors, d {d}, {latents} latents, k {k}, {dead} dead at the end):")
    worst = 0.0
    for name, value in theirs.items():
        diff = float((value - mine[name]).abs().max())
        worst = max(worst, diff)
        print(f"  {name:15} max |difference| {diff:.3g} (max |value| {float(value.abs().max()):.3g})")
    sys.exit(0 if worst == 0 else 1)


if __name__ == "__main__":
    main()
