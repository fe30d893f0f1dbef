"""The tutorial's two sparse autoencoders in Keras, on the same IDX files sae reads.

    python bench/keras_reference.py --penalty l1 --epochs 30 [--backend jax] [--data DIR] [--json out.json]

Prints Keras's usual per-epoch progress and, at the end, one JSON line with the final loss,
val_loss, test MSE, mean code activation, dead units and seconds per epoch, so its numbers
can be compared with `sae train` on the same machine.

The model uses only backend-agnostic `keras` / `keras.ops` imports, so it runs on any Keras 3 backend:
--backend tensorflow (the default) or jax (or set KERAS_BACKEND yourself; --backend overrides it).
"""
import argparse, json, os, sys, time

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
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                   help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    p.add_argument("--json", help="also write the result JSON here")
    args = p.parse_args()

    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend  # must be set before keras is imported
    import keras
    from keras import layers, ops

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    x_train, x_test = fashion_mnist.images(args.data)
    if args.train_limit:
        x_train = x_train[:args.train_limit]

    class KLDivergenceRegularizer(keras.regularizers.Regularizer):
        def __init__(self, rho=0.05, beta=3.0):
            self.rho, self.beta = rho, beta

        def __call__(self, x):
            rho_hat = ops.clip(ops.mean(x, axis=0), 1e-7, 1 - 1e-7)
            rho = self.rho
            kl = rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat))
            return self.beta * ops.sum(kl)

    if args.penalty == "l1":
        code = layers.Dense(64, activation="relu", activity_regularizer=keras.regularizers.l1(1e-5))
    else:
        code = layers.Dense(64, activation="sigmoid", activity_regularizer=KLDivergenceRegularizer(0.05, 3.0))
    inputs = keras.Input(shape=(784,))
    h = layers.Dense(128, activation="relu")(inputs)
    z = code(h)
    d = layers.Dense(128, activation="relu")(z)
    outputs = layers.Dense(784, activation="sigmoid")(d)
    model = keras.Model(inputs, outputs)
    encoder = keras.Model(inputs, z)
    model.compile(optimizer="adam", loss="binary_crossentropy")

    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = model.fit(x_train, x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                        validation_data=(x_test, x_test), callbacks=[Timer()], verbose=2)
    codes = encoder.predict(x_test, batch_size=256, verbose=0)
    recon = model.predict(x_test, batch_size=256, verbose=0)
    unit_means = codes.mean(axis=0)
    result = {
        "penalty": args.penalty,
        "epochs": args.epochs,
        "final_loss": float(history.history["loss"][-1]),
        "final_val_loss": float(history.history["val_loss"][-1]),
        "test_mse": float(np.mean((recon - x_test) ** 2)),
        "mean_activation": float(codes.mean()),
        "dead_units": int((unit_means < 1e-3).sum()),
        "seconds_per_epoch": times,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
    }
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
