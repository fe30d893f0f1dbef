"""The tutorial's sparse autoencoder as a plain PyTorch loop, with Keras's numerics (see SPEC.md).

    python bench/torch_reference.py --penalty l1 --epochs 30 [--data DIR] [--threads N] [--json out.json]

784 -> 128 relu -> 64 (relu + L1 1e-5, or sigmoid + KL rho 0.05 beta 3) -> 128 relu -> 784, trained like
keras_reference.py trains it, so the two (and sae) can be timed against each other:
  - weights glorot-uniform (U(-a, a), a = sqrt(6 / (fan_in + fan_out))), biases zero;
  - loss: binary cross-entropy computed from the logits (BCE-with-logits, mean over B x 784) plus the
    activity penalty on the 64-unit code divided by the batch size B (L1: lambda * sum|h| / B);
  - Adam lr 1e-3, betas (0.9, 0.999), eps 1e-7 in Keras's place: Keras updates
    theta -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps), PyTorch
    theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps'); they agree exactly when
    eps' = eps * sqrt(1 - b2^t), which this loop sets before every step;
  - batches of 256 from a fresh permutation every epoch, the last partial batch kept; validation on the
    test set in batches of 256, penalty per batch; reported loss / val_loss are batch-size-weighted means
    over the epoch, as Keras reports them. Epoch seconds include validation (as Keras's callback does).
Prints one JSON line with the same fields as keras_reference.py (plus torch's version and threads).
"""
import argparse, json, math, os, sys, time

import numpy as np

import fashion_mnist


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--penalty", choices=["l1", "kl"], default="l1")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--train-limit", type=int, default=0, help="train on the first N training images only (quick runs)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--json", help="also write the result JSON here")
    args = p.parse_args()

    import torch
    import torch.nn.functional as F

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    x_train, x_test = map(torch.from_numpy, fashion_mnist.images(args.data))
    if args.train_limit:
        x_train = x_train[:args.train_limit]

    sizes = [784, 128, 64, 128, 784]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(fan_in, fan_out)
        torch.nn.init.xavier_uniform_(lin.weight)  # U(-a, a), a = sqrt(6 / (fan_in + fan_out)): Keras's glorot_uniform
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
    enc1, code, dec1, out = layers
    params = [q for lin in layers for q in lin.parameters()]
    lam, rho, beta = 1e-5, 0.05, 3.0

    def forward(x):
        h = code(F.relu(enc1(x)))
        h = F.relu(h) if args.penalty == "l1" else torch.sigmoid(h)
        return h, out(F.relu(dec1(h)))  # logits of the sigmoid output

    def loss_fn(x):
        h, z = forward(x)
        bce = F.binary_cross_entropy_with_logits(z, x)
        if args.penalty == "l1":
            pen = lam * h.abs().sum()
        else:
            rho_hat = h.mean(0).clamp(1e-7, 1 - 1e-7)
            pen = beta * (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
        return bce + pen / x.shape[0], h, z

    b1, b2, eps = 0.9, 0.999, 1e-7
    opt = torch.optim.Adam(params, lr=1e-3, betas=(b1, b2), eps=eps)
    n, bs = len(x_train), args.batch_size
    times, step = [], 0
    for epoch in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, bs):
            x = x_train[perm[i:i + bs]]
            loss, _, _ = loss_fn(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            step += 1
            for g in opt.param_groups:
                g["eps"] = eps * math.sqrt(1 - b2 ** step)  # Keras's eps placement, see the docstring
            opt.step()
            total += loss.item() * len(x)
        train_loss = total / n
        with torch.no_grad():
            val = sum(loss_fn(x_test[i:i + bs])[0].item() * len(x_test[i:i + bs]) for i in range(0, len(x_test), bs)) / len(x_test)
        times.append(time.perf_counter() - start)
        print(f"Epoch {epoch + 1}/{args.epochs} - {times[-1]:.2f}s - loss: {train_loss:.4f} - val_loss: {val:.4f}", flush=True)

    with torch.no_grad():
        codes, recon = [], []
        for i in range(0, len(x_test), 256):
            h, z = forward(x_test[i:i + 256])
            codes.append(h)
            recon.append(torch.sigmoid(z))
        codes, recon = torch.cat(codes).numpy(), torch.cat(recon).numpy()
    unit_means = codes.mean(axis=0)
    result = {
        "penalty": args.penalty,
        "epochs": args.epochs,
        "final_loss": float(train_loss),
        "final_val_loss": float(val),
        "test_mse": float(np.mean((recon - x_test.numpy()) ** 2)),
        "mean_activation": float(codes.mean()),
        "dead_units": int((unit_means < 1e-3).sum()),
        "seconds_per_epoch": times,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
