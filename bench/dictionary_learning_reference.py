"""dictionary_learning's BatchTopK, JumpReLU, TopK, Matryoshka and Gated trainers on .npy vectors, driven step by step.

    python bench/dictionary_learning_reference.py --arch batchtopk|jumprelu|topk|matryoshka|gated --train TRAIN.npy \
        --val VAL.npy [--latents 4096] [--k 32] [--target-l0 32] [--batch-size 1024] [--lr 4e-4] \
        [--epochs 2] [--threads 2] [--threshold-start-step S] [--json out.json]

dictionary_learning (PyPI dictionary-learning 0.1.0, references are to its files) trains on a language
model's activations through its ActivationBuffer and `trainSAE`; this script skips both and calls the
trainer's own `update(step, x)` on batches of the .npy vectors (torch tensors, CPU), as `trainSAE` does
(training.py), so every step is the package's code:
  --arch batchtopk  BatchTopKTrainer / BatchTopKSAE (trainers/batch_top_k.py)
  --arch jumprelu   JumpReluTrainer / JumpReluAutoEncoder (trainers/jumprelu.py, dictionary.py)
  --arch topk       TopKTrainer / AutoEncoderTopK (trainers/top_k.py)
  --arch matryoshka MatryoshkaBatchTopKTrainer / MatryoshkaBatchTopKSAE (trainers/matryoshka_batch_top_k.py),
                    --group-fractions (its group_weights default: 1/G each)
  --arch gated      GatedSAETrainer / GatedAutoEncoder (trainers/gdm.py), --l1-penalty, sparsity_warmup_steps=None
Constructor settings: lr as given (all three), warmup_steps=0 and decay_start=None (a constant lr, as
sae trains), JumpReLU's sparsity_warmup_steps=None (the full penalty from step 0); layer=0 and
lm_name="none" are the dummies the constructors require; device "cpu"; seed --seed (torch.manual_seed
before the trainer is built too, as JumpReluTrainer only stores its seed). Two attributes the
constructors do not take are set after construction:
  - dead_feature_threshold (TopK, BatchTopK; hard-coded 10,000,000 tokens): one epoch's worth of
    training vectors, sae's --dead-after default, so that AuxK can start in the second epoch;
  - top_k_aux (k_aux, hard-coded d // 2): --k-aux if given.
BatchTopK's threshold_start_step (default 1,000) is --threshold-start-step: a run of a few hundred
steps never reaches 1,000, which leaves the threshold at -1, and then `encode(use_threshold=True)` keeps
every positive pre-activation (an L0 of thousands). The threshold is a running average (beta 0.999) of
the smallest value each batch kept, updated at 0-based steps > the start step.

What side_by_side.py aligns with `sae train`: the vectors, batch size, number of steps, a constant lr,
Adam's betas and eps (TopK, BatchTopK: (0.9, 0.999), 1e-8; JumpReLU: (0, 0.999), 1e-8), k, k_aux = d // 2 and AuxK weight 1/32 (AuxK over min(k_aux, dead) latents on
both), dead = not fired for one epoch (>=), JumpReLU's target L0, penalty weight 1 and bandwidth 0.001,
its thresholds starting at 0.001 and its L0 penalty lambda (L0 / target - 1)^2. What differs and cannot
be aligned from the command lines (sae's fixed choices, or the package's hard-coded ones):
  - gradient clipping: all three trainers clip the global gradient norm to 1.0 every step
    (clip_grad_norm_, after the decoder gradient's projection; JumpReluTrainer too); sae does not clip.
  - loss scale: the package's reconstruction term is a sum over the d features, averaged over the batch;
    sae's a mean over B * d elements (its JumpReLU penalty divided by d too), so sae's objective is the
    package's / d: Adam's step is the same except that eps (1e-8) weighs d times more against sae's
    smaller gradients, and the clipping above applies to the package's larger norm.
  - Adam's eps placement: PyTorch adds eps to sqrt(v_hat), the bias-corrected v; sae (Keras's form,
    Adam.swift) to sqrt(v), with the correction folded into the step size: on PyTorch's scale sae's eps
    is eps / sqrt(1 - beta2^t), 32x at step 1, 2.9x at step 128.
  - AuxK's normalisation (TopK, BatchTopK): the package divides AuxK's squared error by the batch
    residual's variance summed over features (OpenAI's normalisation, V); sae uses the plain squared
    error, so relative to the reconstruction sae's AuxK weighs V times the package's.
  - initialisation: the package's decoder rows are PyTorch's default Linear init (TopK, BatchTopK) or
    kaiming_uniform (JumpReLU), normalised, and the encoder is their exact transpose (norm 1); sae's
    decoder is glorot-uniform, normalised, and its encoder the transpose / sqrt(3); different RNGs and
    shuffles (the same data, in a different order).
  - b_dec: TopK, BatchTopK start it at the geometric median of the first batch (at step 0); sae at the
    mean of the whole training set. JumpReluAutoEncoder starts it at 0 and does not subtract it from the
    input (apply_b_dec_to_input=False: z = JumpReLU(x W_enc + b_enc)); sae's JumpReLU encodes x - b_dec.
  - JumpReLU's L0 gradient: the package takes the straight-through window on the code f (0 below the
    threshold, so only latents just above it feel the penalty, dictionary_learning issue #55); sae takes
    it on the pre-activation. The package's code is x H(x - theta) without a relu (the same while
    theta > 0); sae's is relu'd.
  - BatchTopK's threshold: sae starts its running average at step 1,001 (fixed); here the package's
    starts after --threshold-start-step (side_by_side.py: half the run when it has fewer than 2,000
    steps). A shorter sae run has no threshold, and sae then encodes the val set with each val batch's
    top k * B, as in training: its L0 is k exactly, the package's whatever its threshold gives.
  - TopK's inference threshold (AutoEncoderTopK.threshold) is tracked but unused by its encode.

After every epoch the model is validated on --val as the package encodes at inference: `ae(x)`, i.e.
BatchTopK with its threshold (use_threshold=True), AutoEncoderTopK with its per-sample top k,
JumpReLU with its thresholds. FVU = sum of squared errors / sum of squared deviations from the val
set's mean; L0 = mean nonzero latents per val vector. For BatchTopK the batch top-k encoding
(use_threshold=False, val batches of --batch-size) is measured too. Dead latents: the trainer's own
num_tokens_since_fired >= one epoch of vectors (JumpReLU keeps it for logging only). Training time
excludes validation. Prints progress and one JSON line; peak RSS is the caller's to measure.
"""
import argparse, json, math, os, sys, time

import numpy as np


def build_trainer(args, d, steps, n):
    """The package's trainer with a constant lr; the attributes its constructor does not take, set."""
    import torch
    common = dict(steps=steps, activation_dim=d, dict_size=args.latents, layer=0, lm_name="none",
                  lr=args.lr, warmup_steps=0, decay_start=None, seed=args.seed, device="cpu")
    torch.manual_seed(args.seed)
    if args.arch == "jumprelu":
        from dictionary_learning.trainers.jumprelu import JumpReluTrainer
        trainer = JumpReluTrainer(**common, sparsity_warmup_steps=None, target_l0=float(args.target_l0 or args.k),
                                  bandwidth=args.bandwidth, sparsity_penalty=args.l0_coefficient)
    elif args.arch == "gated":
        from dictionary_learning.trainers.gdm import GatedSAETrainer
        trainer = GatedSAETrainer(**common, l1_penalty=args.l1_penalty, sparsity_warmup_steps=None)
    elif args.arch == "matryoshka":
        from dictionary_learning.trainers.matryoshka_batch_top_k import MatryoshkaBatchTopKTrainer
        start = args.threshold_start_step if args.threshold_start_step is not None else 1000
        fractions = [float(f) for f in args.group_fractions.split(",")]
        trainer = MatryoshkaBatchTopKTrainer(**common, k=args.k, auxk_alpha=args.auxk_alpha, threshold_start_step=start,
                                             group_fractions=fractions)
    elif args.arch == "batchtopk":
        from dictionary_learning.trainers.batch_top_k import BatchTopKTrainer
        start = args.threshold_start_step if args.threshold_start_step is not None else 1000
        trainer = BatchTopKTrainer(**common, k=args.k, auxk_alpha=args.auxk_alpha, threshold_start_step=start)
    else:
        from dictionary_learning.trainers.top_k import TopKTrainer
        start = args.threshold_start_step if args.threshold_start_step is not None else 1000
        trainer = TopKTrainer(**common, k=args.k, auxk_alpha=args.auxk_alpha, threshold_start_step=start)
    trainer.dead_feature_threshold = n  # sae's --dead-after default (the package's: 10M tokens)
    if args.k_aux and args.arch not in ("jumprelu", "gated"):
        trainer.top_k_aux = args.k_aux
    return trainer


def validate(ae, arch, x_val, bs, val_var):
    """(FVU, L0, latents that fired) with the package's inference encoding; BatchTopK also its batch top-k."""
    import torch
    sse, active, fired = 0.0, 0, torch.zeros(ae.dict_size, dtype=torch.bool)
    sse_batch, active_batch = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x_val), bs):
            x = x_val[i:i + bs]
            x_hat, f = ae(x, output_features=True)
            sse += float((x - x_hat).double().pow(2).sum())
            active += int((f != 0).sum())
            fired |= (f != 0).any(0)
            if arch in ("batchtopk", "matryoshka"):
                f = ae.encode(x, use_threshold=False)
                sse_batch += float((x - ae.decode(f)).double().pow(2).sum())
                active_batch += int((f != 0).sum())
    n = len(x_val)
    extra = {"val_fvu_batch_topk": sse_batch / val_var, "l0_batch_topk": active_batch / n} if arch in ("batchtopk", "matryoshka") else {}
    return sse / val_var, active / n, int(fired.sum()), extra


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=["batchtopk", "jumprelu", "topk", "matryoshka", "gated"], required=True)
    p.add_argument("--group-fractions", default="0.0625,0.1875,0.75", help="Matryoshka's groups")
    p.add_argument("--l1-penalty", type=float, default=0.1, help="Gated's l1_penalty (its default 0.1)")
    p.add_argument("--train", required=True, help=".npy file (N, d)")
    p.add_argument("--val", required=True, help=".npy file (N, d)")
    p.add_argument("--latents", type=int, default=4096)
    p.add_argument("--k", type=int, default=32, help="TopK / BatchTopK's k; JumpReLU's target L0 if --target-l0 is not given")
    p.add_argument("--k-aux", type=int, default=0, help="AuxK's k (default: the package's d // 2)")
    p.add_argument("--auxk-alpha", type=float, default=1 / 32, help="AuxK weight (the package's default)")
    p.add_argument("--target-l0", type=float, default=None, help="JumpReLU")
    p.add_argument("--l0-coefficient", type=float, default=1.0, help="JumpReLU's sparsity_penalty (its default 1)")
    p.add_argument("--bandwidth", type=float, default=0.001, help="JumpReLU (its default)")
    p.add_argument("--threshold-start-step", type=int, default=None,
                   help="BatchTopK / TopK: update the inference threshold after this 0-based step (default: the package's 1,000)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--json", help="also write the result JSON here")
    p.add_argument("--no-clip", action="store_true",
                   help="skip the trainers' clip_grad_norm_(..., 1.0) (to see what the clipping does; sae does not clip)")
    args = p.parse_args()

    import torch
    import dictionary_learning
    if args.no_clip:
        torch.nn.utils.clip_grad_norm_ = lambda parameters, *a, **k: torch.tensor(0.0)

    if args.threads:
        torch.set_num_threads(args.threads)
    x_train = torch.from_numpy(np.load(args.train).astype(np.float32, copy=False))
    x_val = torch.from_numpy(np.load(args.val).astype(np.float32, copy=False))
    n, d = x_train.shape
    if x_val.shape[1] != d:
        sys.exit(f"error: train has {d} features, val {x_val.shape[1]}")
    bs = args.batch_size
    steps_per_epoch = math.ceil(n / bs)
    trainer = build_trainer(args, d, steps_per_epoch * args.epochs, n)
    ae = trainer.ae
    gen = torch.Generator().manual_seed(args.seed + 1)
    val_var = float((x_val.double() - x_val.double().mean(0)).pow(2).sum())

    print(f"dictionary_learning {dictionary_learning.__version__} {type(trainer).__name__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {n} x {d} train, {len(x_val)} val; {args.latents} latents, "
          f"batch {bs}, lr {args.lr:g} (constant), {steps_per_epoch * args.epochs} steps", flush=True)
    step = 0
    epoch_seconds, val_seconds, val_fvu, l0s, losses, dead_counts, extras = [], [], [], [], [], [], []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum = 0.0
        for i in range(0, n, bs):
            loss = trainer.update(step, x_train[order[i:i + bs]])  # (GatedSAETrainer's returns None)
            loss_sum += (loss or 0.0) * min(bs, n - i)
            step += 1
        epoch_seconds.append(time.perf_counter() - start)
        losses.append(loss_sum / n)
        start = time.perf_counter()
        fvu, l0, fired, extra = validate(ae, args.arch, x_val, bs, val_var)
        val_seconds.append(time.perf_counter() - start)
        val_fvu.append(fvu)
        l0s.append(l0)
        extras.append(extra)
        since = getattr(trainer, "num_tokens_since_fired", None)  # (GatedSAETrainer keeps none)
        dead_counts.append(None if since is None else int((since >= n).sum()))
        more = "".join(f", {k} {v:.4f}" for k, v in extra.items())
        print(f"epoch {epoch + 1}/{args.epochs}: {epoch_seconds[-1]:.2f} s ({n / epoch_seconds[-1]:.0f} vectors/s), "
              f"loss {losses[-1]:.4f}, val FVU {fvu:.4f}, L0 {l0:.1f} ({val_seconds[-1]:.2f} s){more}, "
              f"dead {dead_counts[-1]}, fired on val {fired}", flush=True)

    threshold = getattr(ae, "threshold", None)
    result = {
        "seconds_per_epoch": epoch_seconds, "validation_seconds": val_seconds, "loss": losses,
        "val_fvu": val_fvu, "l0": l0s, "dead_latents": dead_counts, "extra": extras,
        "threshold": None if threshold is None or threshold.numel() != 1 else float(threshold),
        "train_vectors": n, "val_vectors": len(x_val), "dim": d, "latents": args.latents, "arch": args.arch,
        "trainer": type(trainer).__name__, "batch_size": bs, "lr": args.lr, "steps": step,
        "dictionary_learning": dictionary_learning.__version__, "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
