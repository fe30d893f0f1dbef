"""sae against its peers, on this machine, in one run (`make bench`).

    python3 bench/side_by_side.py [--parts tutorial,dictionary,architectures] [--rounds 2] [--epochs 4]
        [--models l1,kl] [--impls keras-tf,keras-jax,torch,sae] [--dict-epochs 2]
        [--archs batchtopk,jumprelu,topk] [--shapes d512] [--quick] [--json F]

Part "tutorial": the tutorial's L1 and KL models trained by Keras on TensorFlow and on JAX
(bench/keras_reference.py, backend-agnostic keras imports, KERAS_BACKEND chosen per run), by a plain
PyTorch loop with Keras's numerics (bench/torch_reference.py) and by the release build of sae,
interleaved (keras-tf, keras-jax, torch, sae, keras-tf, ...). One table per model: median seconds per
epoch over epochs 2..E of every run (the first epoch includes graph tracing / warm-up), each
implementation's time as a multiple of sae's, final loss and val_loss after the same number of epochs,
and each process's peak RSS (os.wait4). Then `sae bench` prints where sae's time goes and the sgemm floor.

Part "dictionary": a TopK dictionary SAE (AuxK, unit-norm decoder, batch 1,024) trained by EleutherAI
sparsify (bench/sparsify_reference.py: its SparseCoder and its trainer's exact step on the vectors) and by
`sae train --data-npy`, interleaved, on synthetic sparse-structure vectors from bench/make_vectors.py
(generated once into runs/bench-data/, git-ignored):
    d 512, 4,096 latents, k 32, k_aux 256, lr 4e-4, 65,536 train / 8,192 val vectors
    d 768, 16,384 latents, k 64, k_aux 384, lr 2e-4, 32,768 train / 4,096 val vectors
(k_aux = d / 2 and lr = 2e-4 / sqrt(latents / 2^14) are sparsify's own rules; AuxK weight 1/32 and
"dead = not fired for one epoch's worth of vectors" for both.) Reported: training vectors per second
(median over epochs 2..E, or all epochs if there is one), validation FVU (sum of squared errors / total
variance of the val set) after the last epoch, peak RSS, and sae's speed as a multiple. sparsify's epoch
time excludes validation; sae's history.json `seconds` includes its validation pass unless history.json
has a separate validation time (the table says which). Then `sae bench --architecture dictionary`
on the first shape.

Part "architectures" (not run by default: --parts architectures): BatchTopK, JumpReLU and TopK
dictionaries trained by dictionary_learning 0.1.0 (bench/dictionary_learning_reference.py: its
BatchTopKTrainer, JumpReluTrainer and TopKTrainer, their own `update(step, x)` on the vectors, torch
threads 2) and by `sae train --architecture batchtopk | jumprelu (--target-l0 k) | dictionary --k`
(SAE_THREADS=2), interleaved (peer, sae, peer, sae), on the dictionary part's shapes and vectors: the same
lr (constant: the peer's warm-up, decay and sparsity warm-up are off), batch, steps, Adam betas and eps
(JumpReLU: the peer's (0, 0.999)), k_aux = d/2 and AuxK weight 1/32, dead = not fired for one epoch. The
differences that remain (initialisation, b_dec, the peer's gradient clipping, AuxK's normalisation,
JumpReLU's L0 window, BatchTopK's threshold start) are listed in that script's docstring. One table per
shape: training vectors/s (as above; validation excluded on both sides), val FVU and L0 (mean active
latents per val vector) with each side encoding as at inference (BatchTopK: the peer with its threshold;
sae, whose threshold starts at step 1,001, with the batch top-k of each val batch while it has fewer
steps, and a note gives the peer's batch top-k for a matched L0), dead latents, peak RSS.

The Python side lives in a git-ignored .venv (tensorflow-cpu, jax, torch, eai-sparsify, dictionary-learning)
that this script creates and fills on first use, with what the chosen parts need (several GB: torch comes
with its CUDA wheels from PyPI). BENCH_PYTHON=/path/to/python uses an existing environment instead
(nothing is installed into it; the script stops if a module is missing); SAE_BIN=/path/to/sae runs a copy
of the binary, so that a rebuild during a long run does not change it under the run.
Medians and ratios, never one absolute time: the machine is shared and noisy; don't run this while
something else (a compiler) is busy. --quick runs everything at small sizes, to check that it works.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
VENV = os.path.join(ROOT, ".venv")
# SAE_BIN: a copy of the binary, so that a rebuild during a long run does not change it under the run
SAE = os.environ.get("SAE_BIN") or os.path.join(ROOT, ".build", "release", "sae")
DATA_DIR = os.path.join(ROOT, "runs", "bench-data")

# module to import -> PyPI package that provides it
PACKAGES = {"numpy": "numpy", "tensorflow": "tensorflow-cpu", "keras": "keras", "jax": "jax", "torch": "torch", "sparsify": "eai-sparsify",
            "dictionary_learning": "dictionary-learning"}
IMPL_MODULES = {"keras-tf": ["tensorflow", "keras"], "keras-jax": ["jax", "keras"], "torch": ["torch"], "sae": []}

# The dictionary shapes: (name, make_vectors settings, SAE settings)
SHAPES = {
    "full": [
        ("d512", dict(dim=512, directions=8192, train=65536, val=8192), dict(latents=4096, k=32, lr=4e-4)),
        ("d768", dict(dim=768, directions=16384, train=32768, val=4096), dict(latents=16384, k=64, lr=2e-4)),
    ],
    "quick": [
        ("d128q", dict(dim=128, directions=1024, train=4096, val=1024), dict(latents=512, k=16, lr=4e-4)),
        ("d192q", dict(dim=192, directions=2048, train=2048, val=512), dict(latents=1024, k=32, lr=4e-4)),
    ],
}
FAILURES = []  # runs that failed; the script exits with status 1 after its tables if there are any
DICT_BATCH = 1024
AUXK_ALPHA = 1 / 32  # sae's --auxk-coefficient default; passed to sparsify (whose own default is 0: off)


def ensure_venv(modules):
    """Creates .venv if missing and installs whatever of `modules` it cannot import; returns its python.
    With BENCH_PYTHON set, uses that interpreter as it is (an existing venv: nothing is installed)."""
    if python := os.environ.get("BENCH_PYTHON"):
        check = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
        missing = subprocess.run([python, "-c", check, *modules], capture_output=True, text=True, check=True).stdout.split()
        if missing:
            sys.exit(f"error: BENCH_PYTHON={python} cannot import {', '.join(missing)} "
                     f"(pip install {' '.join(sorted({PACKAGES[m] for m in missing}))})")
        return python
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        print("Creating .venv for the reference implementations (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    check = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
    missing = subprocess.run([python, "-c", check, *modules], capture_output=True, text=True, check=True).stdout.split()
    if missing:
        packages = sorted({PACKAGES[m] for m in missing})
        print(f"Installing {' '.join(packages)} into .venv (once; torch is several GB, this takes a while)", flush=True)
        subprocess.run([python, "-m", "pip", "install", "-q", *packages], check=True)
    return python


def run_measured(cmd, log, env=None):
    """Runs cmd, output to log; returns (exit status, wall seconds, peak RSS in MB)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss / 1024


def failed(what, log):
    """A failed run: reported in the table (with the last line of its output), the benchmark goes on."""
    lines = [l.strip() for l in open(log)] if os.path.exists(log) else []
    message = next((l for l in reversed(lines) if l), "no output")
    print(f"  {what} failed: {message}", flush=True)
    FAILURES.append(f"{what}: {message}")
    return {"failed": message}


# ---------------------------------------------------------------- tutorial part

def run_tutorial(impl, python, model, args, workdir, tag):
    base = os.path.join(workdir, f"{impl}_{model}_{tag}")
    log = base + ".log"
    env = dict(os.environ)
    if impl == "sae":
        cmd = [SAE, "train", "--penalty", model, "--epochs", str(args.epochs), "--data", args.data,
               "--out", base, "--force"]
        if args.train_limit:
            cmd += ["--train-limit", str(args.train_limit)]
    else:
        script = "torch_reference.py" if impl == "torch" else "keras_reference.py"
        cmd = [python, os.path.join(BENCH, script), "--penalty", model, "--epochs", str(args.epochs),
               "--data", args.data, "--json", base + ".json"]
        if impl.startswith("keras"):
            env["KERAS_BACKEND"] = {"keras-tf": "tensorflow", "keras-jax": "jax"}[impl]
        if args.train_limit:
            cmd += ["--train-limit", str(args.train_limit)]
    code, _, rss = run_measured(cmd, log, env)
    if code != 0:
        return failed(f"{impl} {model}", log)
    if impl == "sae":
        history = json.load(open(os.path.join(base, "history.json")))
        return {"epoch_seconds": [e["seconds"] for e in history], "loss": history[-1]["loss"],
                "val_loss": history[-1]["val_loss"], "rss": rss}
    r = json.load(open(base + ".json"))
    return {"epoch_seconds": r["seconds_per_epoch"], "loss": r["final_loss"], "val_loss": r["final_val_loss"], "rss": rss}


def tutorial(args, python, workdir, summary):
    models, impls = args.models.split(","), args.impls.split(",")
    results = {(m, i): [] for m in models for i in impls}
    for r in range(args.rounds):
        for m in models:
            for i in impls:
                print(f"round {r + 1}/{args.rounds}: {i} {m}, {args.epochs} epochs", flush=True)
                results[(m, i)].append(run_tutorial(i, python, m, args, workdir, r))

    limit = f" on the first {args.train_limit} images" if args.train_limit else ""
    print(f"\nTutorial models{limit}: {args.rounds} interleaved runs of {args.epochs} epochs per model and "
          f"implementation; medians over epochs 2..{args.epochs} of every run; 'x sae' = s/epoch / sae's; 'best run': "
          f"the fastest run's median (a shared host has slow spells, whole runs 2-4x slower in memory-bound work)")
    print(f"{'model':6} {'impl':10} {'s/epoch':>8} {'x sae':>7} {'best run':>9} {'x sae':>7} {'loss':>8} {'val_loss':>9} {'peak RSS MB':>12}")
    for m in models:
        ok = {i: [run for run in results[(m, i)] if "failed" not in run] for i in impls}
        medians = {i: statistics.median(s for run in ok[i] for s in (run["epoch_seconds"][1:] or run["epoch_seconds"])) for i in impls if ok[i]}
        best = {i: min(statistics.median(run["epoch_seconds"][1:] or run["epoch_seconds"]) for run in ok[i]) for i in impls if ok[i]}
        for i in impls:
            runs = ok[i]
            if not runs:
                print(f"{m:6} {i:10} failed: {results[(m, i)][0]['failed']}")
                summary["tutorial"].append({"model": m, "impl": i, "runs": results[(m, i)]})
                continue
            loss = statistics.median(run["loss"] for run in runs)
            val = statistics.median(run["val_loss"] for run in runs)
            rss = max(run["rss"] for run in runs)
            ratio = f"{medians[i] / medians['sae']:.2f}" if "sae" in medians else ""
            best_ratio = f"{best[i] / best['sae']:.2f}" if "sae" in best else ""
            print(f"{m:6} {i:10} {medians[i]:8.3f} {ratio:>7} {best[i]:9.3f} {best_ratio:>7} {loss:8.4f} {val:9.4f} {rss:12.0f}")
            summary["tutorial"].append({"model": m, "impl": i, "seconds_per_epoch": medians[i], "best_run_seconds_per_epoch": best[i], "loss": loss,
                                        "val_loss": val, "peak_rss_mb": rss, "runs": results[(m, i)]})
    if "sae" in impls:
        print("\nsae alone (sae bench --epochs 3):", flush=True)
        cmd = [SAE, "bench", "--epochs", "3", "--data", args.data]
        if args.train_limit:
            cmd += ["--train-limit", str(args.train_limit)]
        if subprocess.run(cmd).returncode != 0:
            FAILURES.append("sae bench (tutorial)")


# ---------------------------------------------------------------- dictionary part

def ensure_vectors(python, name, spec):
    """Generates the vectors once into runs/bench-data/NAME (reused while meta.json matches)."""
    out = os.path.join(DATA_DIR, name)
    want = dict(spec, active=20, fixed_count=False, noise=0.01, seed=0, shards=0)
    meta_path = os.path.join(out, "meta.json")
    if os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if all(meta.get(k) == v for k, v in want.items()):
            return os.path.join(out, "train.npy"), os.path.join(out, "val.npy")
    print(f"Generating {name} vectors into {out} (once)", flush=True)
    subprocess.run([python, os.path.join(BENCH, "make_vectors.py"), "--out", out, "--dim", str(spec["dim"]),
                    "--directions", str(spec["directions"]), "--train", str(spec["train"]), "--val", str(spec["val"]),
                    "--seed", "0"], check=True)
    return os.path.join(out, "train.npy"), os.path.join(out, "val.npy")


def val_variance_per_element(python, val):
    """Mean per-element variance of the val set (for FVU from an MSE), computed in numpy."""
    code = "import numpy as np, sys; v = np.load(sys.argv[1]).astype(np.float64); print(((v - v.mean(0)) ** 2).mean())"
    return float(subprocess.run([python, "-c", code, val], capture_output=True, text=True, check=True).stdout)


def sae_epoch_seconds(history):
    """Training-only seconds per epoch if history.json separates them, else the epoch's seconds (with
    validation); and whether they include validation."""
    train_key = next((k for k in ("train_seconds", "training_seconds") if k in history[0]), None)
    val_key = next((k for k in ("validation_seconds", "val_seconds") if k in history[0]), None)
    if train_key:
        return [e[train_key] for e in history], False
    if val_key:
        return [e["seconds"] - e[val_key] for e in history], False
    return [e["seconds"] for e in history], True


def run_dictionary(impl, python, shape, train, val, args, workdir, tag):
    name, data, sae_cfg = shape
    k_aux = data["dim"] // 2
    base = os.path.join(workdir, f"{impl}_{name}_{tag}")
    log = base + ".log"
    if impl == "sae":
        cmd = [SAE, "train", "--data-npy", train, "--val-npy", val, "--code", str(sae_cfg["latents"]),
               "--k", str(sae_cfg["k"]), "--auxk", str(k_aux), "--auxk-coefficient", repr(AUXK_ALPHA),
               "--batch-size", str(DICT_BATCH), "--learning-rate", repr(sae_cfg["lr"]),
               "--epochs", str(args.dict_epochs), "--out", base, "--force"]
        code, _, rss = run_measured(cmd, log)
        if code != 0:
            return failed(f"sae {name}", log)
        history = json.load(open(os.path.join(base, "history.json")))
        seconds, includes_validation = sae_epoch_seconds(history)
        metrics = json.load(open(os.path.join(base, "metrics.json")))
        if "test_fvu" in metrics:
            fvu, source = metrics["test_fvu"], "metrics.json test_fvu"
        else:
            fvu, source = history[-1]["val_loss"] / val_variance_per_element(python, val), "val_loss / variance"
        return {"epoch_seconds": seconds, "includes_validation": includes_validation, "val_fvu": fvu,
                "fvu_source": source, "rss": rss, "dead": history[-1].get("dead_latents")}
    cmd = [python, os.path.join(BENCH, "sparsify_reference.py"), "--train", train, "--val", val,
           "--latents", str(sae_cfg["latents"]), "--k", str(sae_cfg["k"]), "--batch-size", str(DICT_BATCH),
           "--lr", repr(sae_cfg["lr"]), "--auxk-alpha", repr(AUXK_ALPHA), "--epochs", str(args.dict_epochs),
           "--json", base + ".json"]
    env = dict(os.environ, SPARSIFY_DISABLE_TRITON="1")
    code, _, rss = run_measured(cmd, log, env)
    if code != 0:
        return failed(f"sparsify {name}", log)
    r = json.load(open(base + ".json"))
    return {"epoch_seconds": r["seconds_per_epoch"], "includes_validation": False, "val_fvu": r["val_fvu"][-1],
            "val_fvu_per_epoch": r["val_fvu"], "fvu_source": "sparsify_reference.py", "rss": rss,
            "dead": r["dead_latents"][-1], "threads": r["threads"]}


def dictionary(args, python, workdir, summary):
    shapes = SHAPES["quick" if args.quick else "full"]
    files = {s[0]: ensure_vectors(python, s[0], s[1]) for s in shapes}
    impls = ["sparsify", "sae"]
    results = {(s[0], i): [] for s in shapes for i in impls}
    for r in range(args.rounds):
        for s in shapes:
            for i in impls:
                print(f"round {r + 1}/{args.rounds}: {i} {s[0]}, {args.dict_epochs} epochs", flush=True)
                results[(s[0], i)].append(run_dictionary(i, python, s, *files[s[0]], args, workdir, r))

    timed = "epochs 2..%d" % args.dict_epochs if args.dict_epochs > 1 else "epoch 1"
    print(f"\nTopK dictionary SAE, batch {DICT_BATCH}, AuxK weight {AUXK_ALPHA:g}, k_aux = d/2: {args.rounds} "
          f"interleaved runs of {args.dict_epochs} epochs; vectors/s = training vectors / median epoch seconds "
          f"({timed}); val FVU after epoch {args.dict_epochs}; 'sae x' = sae's vectors/s / this one's")
    print(f"{'shape':26} {'impl':9} {'vectors/s':>10} {'s/epoch':>8} {'sae x':>6} {'val FVU':>8} {'dead':>5} {'peak RSS MB':>12}")
    notes = set()
    for name, data, cfg in shapes:
        label = f"d{data['dim']} {cfg['latents']}x k{cfg['k']} n{data['train']}"
        ok = {i: [run for run in results[(name, i)] if "failed" not in run] for i in impls}
        speed = {i: data["train"] / statistics.median(s for run in ok[i] for s in (run["epoch_seconds"][1:] or run["epoch_seconds"]))
                 for i in impls if ok[i]}
        for i in impls:
            runs = ok[i]
            if not runs:
                print(f"{label:26} {i:9} failed: {results[(name, i)][0]['failed']}")
                summary["dictionary"].append({"shape": name, "impl": i, **data, **cfg, "runs": results[(name, i)]})
                continue
            secs = data["train"] / speed[i]
            fvu = statistics.median(run["val_fvu"] for run in runs)
            rss = max(run["rss"] for run in runs)
            dead = runs[-1]["dead"]
            ratio = f"{speed['sae'] / speed[i]:.2f}" if "sae" in speed else ""
            mark = "*" if runs[0]["includes_validation"] else ""
            if mark:
                notes.add("* sae's epoch seconds include its validation pass (history.json has no separate "
                          "validation time), so its training vectors/s is understated")
            print(f"{label:26} {i + mark:9} {speed[i]:10.0f} {secs:8.2f} {ratio:>6} {fvu:8.4f} "
                  f"{'' if dead is None else dead:>5} {rss:12.0f}")
            summary["dictionary"].append({"shape": name, "impl": i, **data, **cfg, "vectors_per_second": speed[i],
                                          "seconds_per_epoch": secs, "val_fvu": fvu, "peak_rss_mb": rss,
                                          "runs": results[(name, i)]})
    for n in sorted(notes):
        print(n)
    sp = [run for s in shapes for run in results[(s[0], "sparsify")] if "failed" not in run]
    sa = [run for s in shapes for run in results[(s[0], "sae")] if "failed" not in run]
    print(f"(sparsify: torch threads {sp[0]['threads'] if sp else '?'}; "
          f"sae's val FVU from {sa[0]['fvu_source'] if sa else '?'})")

    name, data, cfg = shapes[0]
    train, val = files[name]
    cmd = [SAE, "bench", "--architecture", "dictionary", "--data-npy", train, "--val-npy", val,
           "--code", str(cfg["latents"]), "--k", str(cfg["k"]), "--auxk", str(data["dim"] // 2),
           "--batch-size", str(DICT_BATCH), "--epochs", "1" if args.quick else "2"]
    print(f"\nsae alone on {name} ({' '.join(cmd[1:])}):", flush=True)
    if subprocess.run(cmd).returncode != 0:
        FAILURES.append("sae bench --architecture dictionary")


# ---------------------------------------------------------------- architectures part

ARCHS = ["batchtopk", "jumprelu", "topk", "matryoshka", "gated"]
MATRYOSHKA_GROUPS = "0.0625,0.1875,0.75"  # fractions of the latents, first to last
GATED_L1 = 0.1  # dictionary_learning's default l1_penalty (sae's --gate-l1 means the same, see the reference's notes)
PEER_THREADS = 2  # torch threads for dictionary_learning, and SAE_THREADS for sae: the machine's 2 cores


def peer_threshold_start(steps):
    """dictionary_learning's threshold_start_step for a run of `steps`: its 1,000, or half the run if shorter
    (never starting leaves the threshold at -1, and then its encode keeps every positive value)."""
    return min(1000, steps // 2)


def run_architecture(impl, arch, python, shape, train, val, args, workdir, tag):
    name, data, cfg = shape
    k_aux = data["dim"] // 2  # dictionary_learning's top_k_aux
    base = os.path.join(workdir, f"{impl}_{arch}_{name}_{tag}")
    log = base + ".log"
    steps = -(-data["train"] // DICT_BATCH) * args.dict_epochs
    if impl == "sae":
        cmd = [SAE, "train", "--data-npy", train, "--val-npy", val, "--code", str(cfg["latents"]),
               "--batch-size", str(DICT_BATCH), "--learning-rate", repr(cfg["lr"]), "--epochs", str(args.dict_epochs),
               "--adam-beta2", "0.999", "--adam-epsilon", "1e-8", "--out", base, "--force"]
        if arch == "jumprelu":  # the peer's Adam: betas (0, 0.999)
            cmd += ["--architecture", "jumprelu", "--target-l0", str(cfg["k"]), "--adam-beta1", "0"]
        elif arch == "gated":  # the peer's Adam: betas (0, 0.999)
            cmd += ["--architecture", "gated", "--gate-l1", repr(GATED_L1), "--adam-beta1", "0"]
        elif arch == "matryoshka":
            cmd += ["--architecture", "matryoshka", "--k", str(cfg["k"]), "--groups", MATRYOSHKA_GROUPS,
                    "--auxk", str(k_aux), "--auxk-coefficient", repr(AUXK_ALPHA), "--adam-beta1", "0.9"]
        else:
            cmd += ["--architecture", "batchtopk" if arch == "batchtopk" else "dictionary", "--k", str(cfg["k"]),
                    "--auxk", str(k_aux), "--auxk-coefficient", repr(AUXK_ALPHA), "--adam-beta1", "0.9"]
        code, _, rss = run_measured(cmd, log, dict(os.environ, SAE_THREADS=str(PEER_THREADS)))
        if code != 0:
            return failed(f"sae {arch} {name}", log)
        history = json.load(open(os.path.join(base, "history.json")))
        metrics = json.load(open(os.path.join(base, "metrics.json")))
        seconds, includes_validation = sae_epoch_seconds(history)
        return {"epoch_seconds": seconds, "includes_validation": includes_validation, "val_fvu": metrics["test_fvu"],
                "l0": metrics["l0"], "dead": history[-1].get("dead_latents"), "rss": rss, "steps": steps}
    cmd = [python, os.path.join(BENCH, "dictionary_learning_reference.py"), "--arch", arch, "--train", train,
           "--val", val, "--latents", str(cfg["latents"]), "--k", str(cfg["k"]), "--k-aux", str(k_aux),
           "--auxk-alpha", repr(AUXK_ALPHA), "--batch-size", str(DICT_BATCH), "--lr", repr(cfg["lr"]),
           "--epochs", str(args.dict_epochs), "--threads", str(PEER_THREADS),
           "--threshold-start-step", str(peer_threshold_start(steps)), "--json", base + ".json",
           "--group-fractions", MATRYOSHKA_GROUPS, "--l1-penalty", repr(GATED_L1)]
    code, _, rss = run_measured(cmd, log)
    if code != 0:
        return failed(f"dictionary_learning {arch} {name}", log)
    r = json.load(open(base + ".json"))
    return {"epoch_seconds": r["seconds_per_epoch"], "includes_validation": False, "val_fvu": r["val_fvu"][-1],
            "l0": r["l0"][-1], "dead": r["dead_latents"][-1], "rss": rss, "extra": r["extra"][-1],
            "threshold": r["threshold"], "steps": r["steps"], "threads": r["threads"]}


def architectures(args, python, workdir, summary):
    shapes = SHAPES["quick" if args.quick else "full"]
    if args.shapes:
        shapes = [s for s in shapes if s[0] in args.shapes.split(",")]
    archs = args.archs.split(",")
    files = {s[0]: ensure_vectors(python, s[0], s[1]) for s in shapes}
    impls = ["dict_learning", "sae"]
    results = {(s[0], a, i): [] for s in shapes for a in archs for i in impls}
    for r in range(args.rounds):
        for s in shapes:
            for a in archs:
                for i in impls:
                    print(f"round {r + 1}/{args.rounds}: {i} {a} {s[0]}, {args.dict_epochs} epochs", flush=True)
                    results[(s[0], a, i)].append(run_architecture(i, a, python, s, *files[s[0]], args, workdir, r))

    timed = "epochs 2..%d" % args.dict_epochs if args.dict_epochs > 1 else "epoch 1"
    for name, data, cfg in shapes:
        steps = -(-data["train"] // DICT_BATCH) * args.dict_epochs
        print(f"\nd{data['dim']}, {cfg['latents']} latents, k {cfg['k']} (JumpReLU: target L0 {cfg['k']}), "
              f"n{data['train']}, batch {DICT_BATCH}, lr {cfg['lr']:g} constant, {steps} steps: {args.rounds} "
              f"interleaved runs of {args.dict_epochs} epochs; vectors/s = training vectors / median epoch seconds "
              f"({timed}, validation excluded); val FVU and L0 after epoch {args.dict_epochs}, each encoding as "
              f"at inference; 'sae x' = sae's vectors/s / this one's")
        print(f"{'arch':10} {'impl':14} {'vectors/s':>10} {'s/epoch':>8} {'sae x':>6} {'val FVU':>8} {'L0':>7} "
              f"{'dead':>5} {'peak RSS MB':>12}")
        notes = []
        for a in archs:
            ok = {i: [run for run in results[(name, a, i)] if "failed" not in run] for i in impls}
            speed = {i: data["train"] / statistics.median(s for run in ok[i] for s in (run["epoch_seconds"][1:] or run["epoch_seconds"]))
                     for i in impls if ok[i]}
            for i in impls:
                runs = ok[i]
                if not runs:
                    print(f"{a:10} {i:14} failed: {results[(name, a, i)][0]['failed']}")
                    summary["architectures"].append({"shape": name, "arch": a, "impl": i, **data, **cfg,
                                                     "runs": results[(name, a, i)]})
                    continue
                fvu = statistics.median(run["val_fvu"] for run in runs)
                l0 = statistics.median(run["l0"] for run in runs)
                rss = max(run["rss"] for run in runs)
                dead = runs[-1]["dead"]
                ratio = f"{speed['sae'] / speed[i]:.2f}" if "sae" in speed else ""
                mark = "*" if runs[0]["includes_validation"] else ""
                print(f"{a:10} {i + mark:14} {speed[i]:10.0f} {data['train'] / speed[i]:8.2f} {ratio:>6} {fvu:8.4f} "
                      f"{l0:7.1f} {'' if dead is None else dead:>5} {rss:12.0f}")
                summary["architectures"].append({"shape": name, "arch": a, "impl": i, **data, **cfg,
                                                 "vectors_per_second": speed[i], "val_fvu": fvu, "l0": l0,
                                                 "peak_rss_mb": rss, "runs": results[(name, a, i)]})
            if a == "batchtopk":
                notes += batchtopk_notes(ok, steps)
        for n in notes:
            print(n)
    peers = [run for runs in results.values() for run in runs if "threads" in run]
    print(f"(dictionary_learning: torch threads {peers[0]['threads'] if peers else '?'}; sae: SAE_THREADS={PEER_THREADS}; "
          f"* = sae's epoch seconds include validation)")


def batchtopk_notes(ok, steps):
    """What BatchTopK's inference encodes with on each side, and the peer's batch top-k for a matched L0."""
    notes = []
    peer = ok["dict_learning"]
    if peer:
        batch_fvu = statistics.median(run["extra"]["val_fvu_batch_topk"] for run in peer)
        batch_l0 = statistics.median(run["extra"]["l0_batch_topk"] for run in peer)
        threshold = statistics.median(run["threshold"] for run in peer)
        notes.append(f"  batchtopk dict_learning: threshold {threshold:.4g} (its running average from step "
                     f"{peer_threshold_start(steps) + 1}); with batch top-k instead (use_threshold=False): "
                     f"val FVU {batch_fvu:.4f}, L0 {batch_l0:.1f}")
    if steps <= 1000:
        notes.append(f"  batchtopk sae: {steps} steps never reach its threshold's start (step 1,001, fixed), so it "
                     f"validates with the batch top-k of each val batch of {DICT_BATCH}")
    return notes


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="tutorial,dictionary", help="comma-separated: tutorial, dictionary, architectures")
    p.add_argument("--epochs", type=int, default=4, help="tutorial: epochs per run (the first is not timed)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved runs per model/shape and implementation")
    p.add_argument("--models", default="l1,kl", help="tutorial models")
    p.add_argument("--impls", default="keras-tf,keras-jax,torch,sae", help="tutorial implementations")
    p.add_argument("--dict-epochs", type=int, default=2, help="dictionary, architectures: epochs per run")
    p.add_argument("--archs", default=",".join(ARCHS), help="architectures: comma-separated, of " + ", ".join(ARCHS))
    p.add_argument("--shapes", default="", help="architectures: only these shapes (e.g. d512; default all)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--train-limit", type=int, default=0, help="tutorial: train on the first N images only")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 round, 2 epochs, 6,000 tutorial images, small dictionary shapes")
    p.add_argument("--json", help="also write all results here")
    args = p.parse_args()
    parts = args.parts.split(",")
    if unknown := set(parts) - {"tutorial", "dictionary", "architectures"}:
        sys.exit(f"error: unknown part(s) {', '.join(sorted(unknown))}")
    if unknown := set(args.impls.split(",")) - set(IMPL_MODULES):
        sys.exit(f"error: unknown implementation(s) {', '.join(sorted(unknown))}")
    if unknown := set(args.archs.split(",")) - set(ARCHS):
        sys.exit(f"error: unknown architecture(s) {', '.join(sorted(unknown))}")
    if args.quick:
        args.rounds, args.epochs, args.dict_epochs = 1, 2, 2
        args.train_limit = args.train_limit or 6000
    if args.epochs < 2:
        sys.exit("error: --epochs must be at least 2 (the first epoch is not timed)")
    if not os.path.exists(SAE):
        sys.exit("error: build sae first: swift build -c release --product sae (make bench does)")

    modules = {"numpy"}  # make_vectors.py and the FVU fallback run in the venv too
    if "tutorial" in parts:
        modules |= {m for i in args.impls.split(",") for m in IMPL_MODULES[i]}
    if "dictionary" in parts:
        modules |= {"torch", "sparsify"}
    if "architectures" in parts:
        modules |= {"torch", "dictionary_learning"}
    python = ensure_venv(sorted(modules))
    summary = {"tutorial": [], "dictionary": [], "architectures": []}
    with tempfile.TemporaryDirectory(prefix="sae-bench-") as workdir:
        if "tutorial" in parts:
            tutorial(args, python, workdir, summary)
        if "dictionary" in parts:
            if "tutorial" in parts:
                print()
            dictionary(args, python, workdir, summary)
        if "architectures" in parts:
            if parts.index("architectures") > 0:
                print()
            architectures(args, python, workdir, summary)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if FAILURES:
        sys.exit("\nfailed: " + "; ".join(FAILURES))


if __name__ == "__main__":
    main()
