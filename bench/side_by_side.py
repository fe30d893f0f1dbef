"""sae against Keras on the tutorial's two models, on this machine, in one run.

    python3 bench/side_by_side.py [--epochs 4] [--rounds 2] [--models l1,kl]

Trains each model with Keras (bench/keras_reference.py, TensorFlow from a git-ignored .venv that
this script creates on first use) and with the release build of sae, interleaved
(Keras, sae, Keras, sae, ...), and prints one table: median seconds per epoch (the first epoch of
every run is left out: it includes Keras's graph tracing), the speed ratio, final loss and
val_loss after the same number of epochs, and each process's peak RSS. Then `sae bench` prints
where sae's time goes and the sgemm floor. Medians and ratios, never one absolute time: the
machine is shared and noisy.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")
SAE = os.path.join(ROOT, ".build", "release", "sae")


def ensure_keras():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        print("Creating .venv for the Keras reference (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([python, "-c", "import tensorflow, keras"], capture_output=True).returncode != 0:
        print("Installing tensorflow-cpu into .venv (once; a few minutes)", flush=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "tensorflow-cpu"], check=True)
    return python


def run_measured(cmd, log):
    """Runs cmd, output to log; returns (exit status, wall seconds, peak RSS in MB)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss / 1024


def run_keras(python, model, epochs, workdir, data):
    result = os.path.join(workdir, f"keras_{model}.json")
    log = os.path.join(workdir, f"keras_{model}.log")
    code, _, rss = run_measured([python, os.path.join(ROOT, "bench", "keras_reference.py"), "--penalty", model,
                                 "--epochs", str(epochs), "--data", data, "--json", result], log)
    if code != 0:
        sys.exit(f"error: Keras run failed, see {log}")
    r = json.load(open(result))
    return {"epoch_seconds": r["seconds_per_epoch"], "loss": r["final_loss"], "val_loss": r["final_val_loss"], "rss": rss}


def run_sae(model, epochs, workdir, data):
    out = os.path.join(workdir, f"sae_{model}")
    log = out + ".log"
    code, _, rss = run_measured([SAE, "train", "--penalty", model, "--epochs", str(epochs), "--data", data,
                                 "--out", out, "--force"], log)
    if code != 0:
        sys.exit(f"error: sae run failed, see {log}")
    history = json.load(open(os.path.join(out, "history.json")))
    return {"epoch_seconds": [e["seconds"] for e in history], "loss": history[-1]["loss"],
            "val_loss": history[-1]["val_loss"], "rss": rss}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=4, help="epochs per run (the first is not timed)")
    p.add_argument("--rounds", type=int, default=2, help="Keras/sae pairs per model")
    p.add_argument("--models", default="l1,kl")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = p.parse_args()
    if args.epochs < 2:
        sys.exit("error: --epochs must be at least 2 (the first epoch is not timed)")
    if not os.path.exists(SAE):
        sys.exit("error: build sae first: swift build -c release --product sae (make bench does)")
    python = ensure_keras()
    models = args.models.split(",")
    results = {(m, impl): [] for m in models for impl in ("keras", "sae")}
    with tempfile.TemporaryDirectory(prefix="sae-bench-") as workdir:
        for r in range(args.rounds):
            for m in models:
                for impl in ("keras", "sae"):
                    print(f"round {r + 1}/{args.rounds}: {impl} {m}, {args.epochs} epochs", flush=True)
                    run = run_keras(python, m, args.epochs, workdir, args.data) if impl == "keras" else run_sae(m, args.epochs, workdir, args.data)
                    results[(m, impl)].append(run)

    print(f"\n{args.rounds} interleaved runs of {args.epochs} epochs per model and implementation; "
          f"medians over epochs 2..{args.epochs} of every run")
    print(f"{'model':6} {'impl':6} {'s/epoch':>8} {'speed-up':>9} {'loss':>8} {'val_loss':>9} {'peak RSS MB':>12}")
    for m in models:
        medians = {}
        for impl in ("keras", "sae"):
            runs = results[(m, impl)]
            seconds = [s for run in runs for s in run["epoch_seconds"][1:]]
            medians[impl] = statistics.median(seconds)
            loss = statistics.median(run["loss"] for run in runs)
            val = statistics.median(run["val_loss"] for run in runs)
            rss = max(run["rss"] for run in runs)
            speed = "" if impl == "keras" else f"{medians['keras'] / medians['sae']:.2f}x"
            print(f"{m:6} {impl:6} {medians[impl]:8.3f} {speed:>9} {loss:8.4f} {val:9.4f} {rss:12.0f}")
    print("\nsae alone (sae bench --epochs 3):", flush=True)
    subprocess.run([SAE, "bench", "--epochs", "3", "--data", args.data], check=True)


if __name__ == "__main__":
    main()
