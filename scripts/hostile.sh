#!/usr/bin/env bash
# Hostile and careless inputs against the sae binary, end to end. For each scenario: the exit
# status (a refusal is 1..127, never a signal), the one line on standard error, and that nothing
# outside what the scenario may write changed (every other file under the work directory is
# hashed before and after).
#
#   bash scripts/hostile.sh [--quick]      # SAE=path/to/sae (default .build/release/sae)
#
# --quick runs the scenarios that need no Fashion-MNIST and take a second or two each (the test
# suite runs it); without it, also those that load Fashion-MNIST. Prints "N passed, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAE=${SAE:-$ROOT/.build/release/sae}
case "$SAE" in /*) ;; *) SAE="$PWD/$SAE" ;; esac   # the scenarios run in a work directory
QUICK=${1:-}
[ -x "$SAE" ] || { echo "error: no sae binary at $SAE (build it, or set SAE=...)" >&2; exit 2; }
W=$(mktemp -d /tmp/sae-hostile.XXXXXX)
R=$(mktemp -d /tmp/sae-hostile-records.XXXXXX)   # the harness's own files, outside what is hashed
trap 'rm -rf "$W" "$R"' EXIT
cd "$W"
passed=0 failed=0

fail() { echo "FAIL $name: $*"; failed=$((failed + 1)); }
ok() { echo "ok   $name"; passed=$((passed + 1)); }

# The hashes and modes of every file under the work directory except those matching $1 (a grep -E
# pattern), the targets of its links, its pipes. The regular files are hashed by one sha256sum and
# one stat (a few processes per file made the snapshots most of the script's time).
snapshot() {
  local f
  find . \( -type f -o -type l -o -type p \) -print | grep -Ev "${1:-^$}" | sort | while IFS= read -r f; do
    if [ -L "$f" ]; then echo "link $f -> $(readlink "$f")"; elif [ -p "$f" ]; then echo "fifo $f"; else printf '%s\0' "$f" >&3; fi
  done 3> "$R/regular"
  xargs -0 -r sha256sum < "$R/regular"
  xargs -0 -r stat -c '%a %n' < "$R/regular"
}

# expect NAME STATUS TEXT ALLOWED -- command...: STATUS is "fail" (1..127, TEXT on stderr's
# only line) or "ok" (exit 0); ALLOWED is a grep -E pattern of paths the command may change.
expect() {
  name=$1 want=$2 text=$3 allowed=$4; shift 5
  snapshot "$allowed" > "$R/before"
  "$@" > "$R/out" 2> "$R/err"; rc=$?
  snapshot "$allowed" > "$R/after"
  local lines; lines=$(grep -cv '^$' "$R/err")
  if [ "$want" = fail ]; then
    if [ $rc -eq 0 ] || [ $rc -gt 127 ]; then fail "exit status $rc (wanted a refusal 1..127); stderr: $(head -c 300 "$R/err")"; return; fi
    grep -q "Fatal error\|Illegal instruction\|Segmentation" "$R/err" && { fail "a crash: $(head -c 300 "$R/err")"; return; }
    [ "$lines" -eq 1 ] || { fail "$lines lines on stderr: $(head -c 300 "$R/err")"; return; }
    grep -qF -- "$text" "$R/err" || { fail "stderr lacks '$text': $(cat "$R/err")"; return; }
  else
    [ $rc -eq 0 ] || { fail "exit status $rc; stderr: $(head -c 300 "$R/err")"; return; }
  fi
  diff -q "$R/before" "$R/after" > /dev/null || { fail "files changed: $(diff "$R/before" "$R/after" | head -5 | tr '\n' ' ')"; return; }
  ok
}

# Small data: 600 vectors of width 8 (and a validation set), made without Python.
"$SAE" --help > /dev/null || exit 2
python3 - <<'EOF' 2>/dev/null || { echo "error: python3 with numpy is needed to make the test data" >&2; exit 2; }
import numpy as np
r = np.random.default_rng(0)
np.save("v.npy", r.normal(size=(600, 8)).astype(np.float32))
np.save("val.npy", r.normal(size=(100, 8)).astype(np.float32))
np.save("huge.npy", (r.normal(size=(200, 8)) * 1e30).astype(np.float32))
EOF
T=(--data-npy v.npy --val-npy val.npy --code 16 --k 2)
"$SAE" train "${T[@]}" --epochs 1 --out run > /dev/null 2>&1 && "$SAE" analyze run --no-probe > /dev/null 2>&1 || { echo "error: the first training failed" >&2; exit 2; }
echo "user data" > notes.txt; chmod 640 notes.txt

# 1. Paths it does not own.
expect "encode to /dev/stdout writes the codes there, /dev/stdout stays a link" ok "" "^$" -- \
  bash -c "'$SAE' encode run --npy v.npy --out /dev/stdout | wc -c | grep -qx 38528 && [ -L /dev/stdout ]"
expect "encode to /dev/null" ok "" "^$" -- "$SAE" encode run --npy v.npy --out /dev/null
expect "encode onto a user's file" fail "already exists; pass --force" "^$" -- "$SAE" encode run --npy v.npy --out notes.txt
expect "encode onto a run's own file, even with --force" fail "belongs to the run" "^$" -- "$SAE" encode run --npy v.npy --out run/model.safetensors --force
ln -s notes.txt link.npy
expect "--force through a symlink keeps the link and the file's mode" ok "" "notes.txt" -- \
  bash -c "'$SAE' encode run --npy v.npy --out link.npy --force && [ -L link.npy ] && [ \$(stat -c %a notes.txt) = 640 ]"
echo "user data" > notes.txt
ln -s missing dangling.npy
expect "a dangling symlink" fail "symbolic link to nothing" "^$" -- "$SAE" encode run --npy v.npy --out dangling.npy
mkdir adir
expect "a directory as the output file" fail "is a directory" "^$" -- "$SAE" encode run --npy v.npy --out adir
expect "an empty output path" fail "empty" "^$" -- "$SAE" encode run --npy v.npy --out ''
expect "an output in a missing directory" fail "does not exist" "^$" -- "$SAE" encode run --npy v.npy --out nowhere/x.npy
expect "report into a file" fail "is not a directory" "^$" -- "$SAE" report run --out notes.txt --no-probe
expect "train --out FILE/sub" fail "notes.txt" "^$" -- "$SAE" train "${T[@]}" --epochs 1 --out notes.txt/sub

# 3. --force replaces only a valid run, and only sae's files in it.
mkdir fake && echo '{}' > fake/config.json && echo keep > fake/mine.txt
expect "--force on a directory with a bogus config.json" fail "holds no sae run" "^$" -- "$SAE" train "${T[@]}" --epochs 1 --out fake --force
echo keep > run/mine.txt
expect "--force on a run keeps the user's file in it" ok "" "^\./run/[^m]|^\./run/model|^\./run/metrics" -- "$SAE" train "${T[@]}" --epochs 1 --out run --force

# 2. One writer per run directory.
# Another program holding a lock whose file names an ended sae is not blamed on that pid.
if command -v flock > /dev/null; then
  "$SAE" train "${T[@]}" --epochs 1 --out stale > /dev/null 2>&1
  echo 'pid 2147483646, `sae train`, since 2026-01-01T00:00:00Z' > stale/.sae-lock
  exec 9< stale/.sae-lock && flock -n 9   # this shell holds it
  expect "a lock held by another program names no ended pid as its holder" fail "a process other than the one its .sae-lock names (pid 2147483646 has ended" "^$" -- "$SAE" train "${T[@]}" --epochs 1 --out stale --force
  exec 9<&-
fi

"$SAE" train --data-npy v.npy --val-npy val.npy --code 16 --k 2 --epochs 100000 --out busy > /dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do [ -f busy/.sae-lock ] && break; sleep 0.1; done
expect "a second writer is refused, naming the holder" fail "is in use by another sae process (pid $holder" "^\./busy/" -- "$SAE" train "${T[@]}" --epochs 1 --out busy --force
expect "resuming it meanwhile is refused too" fail "is in use by another sae process" "^\./busy/" -- "$SAE" train --resume busy

# 7. SIGTERM checkpoints like Ctrl-C.
kill -TERM $holder; wait $holder; rc=$?
name="SIGTERM: status 143, run interrupted, resumable"
if [ $rc -eq 143 ] && grep -q interrupted busy/status.json; then ok; else fail "exit $rc, status $(cat busy/status.json 2>/dev/null | tr -d '\n ')"; fi
name="a closed stdout does not stop training"
"$SAE" train "${T[@]}" --epochs 3 --out piped | head -c 1 > /dev/null
if grep -q finished piped/status.json; then ok; else fail "status $(tr -d '\n ' < piped/status.json)"; fi

# 4. Non-finite weights.
python3 - <<'EOF'
import json, struct
raw = open("run/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
start = 8 + n + header["layers.1.kernel"]["data_offsets"][0]
bad = bytearray(raw); bad[start:start + 4] = struct.pack("<f", float("nan"))
import os; os.makedirs("nanrun", exist_ok=True)
open("nanrun/model.safetensors", "wb").write(bad)
open("nanrun/config.json", "w").write(open("run/config.json").read())
EOF
for cmd in "analyze nanrun --no-probe" "report nanrun --out rep --no-probe" "encode nanrun --npy v.npy --out nan.npy" "export nanrun --out exp"; do
  expect "NaN weights: sae $cmd" fail 'tensor "layers.1.kernel" holds nan' "^$" -- $SAE $cmd
done

# 5. A model too large for the memory it may use.
expect "out of memory is a refusal with the figures, before anything is written" fail "this model needs about" "^$" -- \
  bash -c "ulimit -v 1500000; exec '$SAE' train --data-npy v.npy --hidden none --code 600000 --out big"
name="... and no run directory was made"; [ -e big ] && fail "big/ exists" || ok

# 9. Divergence names its cause, and JSON never holds nan.
expect "inputs around 1e30 are named as the cause" fail "the input values reach" "^\./huge/" -- "$SAE" train --data-npy huge.npy --code 16 --k 2 --epochs 1 --out huge
expect "--auxk-coefficient 1e38 is named" fail "--auxk-coefficient" "^\./aux/" -- "$SAE" train "${T[@]}" --auxk 4 --auxk-coefficient 1e38 --dead-after 10 --epochs 3 --out aux
expect "resume of a diverged run is refused with a reason" fail "diverged" "^$" -- "$SAE" train --resume huge

# Extending a finished run: never shortened; data that went away leave config.json as it was.
"$SAE" train "${T[@]}" --epochs 2 --out ext > /dev/null 2>&1
expect "--resume --epochs below the run's own count is refused" fail "--epochs can extend a run, not shorten it" "^$" -- "$SAE" train --resume ext --epochs 1
mv val.npy val.npy.away
expect "an extension whose data are gone changes nothing" fail "val.npy" "^$" -- "$SAE" train --resume ext --epochs 3
mv val.npy.away val.npy
expect "an extension to 3 epochs trains on" ok "" "^\./ext/" -- "$SAE" train --resume ext --epochs 3
name="no JSON file holds nan or inf strings"
if grep -rlE '"-?(nan|inf)"' --include='*.json' . > /dev/null; then fail "$(grep -rlE '"-?(nan|inf)"' --include='*.json' .)"; else ok; fi
name="no SVG holds nan"
if grep -rl 'nan' --include='*.svg' . > /dev/null; then fail "$(grep -rl nan --include='*.svg' .)"; else ok; fi

# 13. Numbers and names.
expect "--epochs -1 says what is wrong" fail "must be > 0, got -1" "^$" -- "$SAE" train "${T[@]}" --epochs -1 --out neg
expect "a directory as --data-npy without .npy files" fail "holds no .npy or .safetensors files" "^$" -- "$SAE" train --data-npy adir --val-npy val.npy --out x
mkdir -p shards && cp v.npy shards/a.npy && head -c 200 v.npy > shards/b.npy
expect "a truncated shard is named" fail "shards/b.npy" "^$" -- "$SAE" train --data-npy shards --val-npy val.npy --code 16 --k 2 --out sh
mkdir -p mixed && cp v.npy mixed/a.npy && python3 -c "import numpy as np; np.save('mixed/b.npy', np.load('v.npy').astype(np.float64))"
expect "shards of two dtypes are refused, naming the odd one" fail "mixed/b.npy" "^$" -- "$SAE" train --data-npy mixed --val-npy val.npy --code 16 --k 2 --out mx
python3 - <<'EOF2'
import json, struct, numpy as np
a = np.load('v.npy').astype(np.float16)
blobs = [('resid', 'F16', a), ('ids', 'I64', np.arange(len(a), dtype='<i8'))]
header, offset, data = {}, 0, b''
for name, dtype, x in blobs:
    raw = x.tobytes(); header[name] = {'dtype': dtype, 'shape': list(x.shape), 'data_offsets': [offset, offset + len(raw)]}
    offset += len(raw); data += raw
h = json.dumps(header).encode()
open('two.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + data)
EOF2
expect "a .safetensors file of several tensors without --tensor lists them" fail "holds 2 tensors (ids [600], resid [600, 8]): name the one of vectors with --tensor" "^$" -- "$SAE" train --data-npy two.safetensors --code 16 --k 2 --out st1
expect "--tensor naming an integer tensor is refused" fail "tensor \"ids\" has dtype I64" "^$" -- "$SAE" train --data-npy two.safetensors --tensor ids --code 16 --k 2 --out st2
expect "--tensor for .npy files is refused" fail "is not .safetensors, but a tensor name" "^$" -- "$SAE" train --data-npy v.npy --tensor resid --code 16 --k 2 --out st3
expect "the float16 tensor trains" ok "" "^\./st4/" -- "$SAE" train --data-npy two.safetensors --tensor resid --code 16 --k 2 --epochs 1 --out st4
expect "--shard-latents without mpirun says how" fail "splits the latents over MPI ranks: run under mpirun" "^$" -- "$SAE" train --data-npy v.npy --code 16 --k 2 --shard-latents --out sl
expect "a gradient-norm limit of 0" fail "--max-grad-norm: must be a finite number > 0" "^$" -- "$SAE" train "${T[@]}" --max-grad-norm 0 --out gn
expect "a gradient-norm limit beyond a float" fail "--max-grad-norm: must be a finite number > 0" "^$" -- "$SAE" train "${T[@]}" --max-grad-norm 1e39 --out gn

# 14. The second round's classes (issue 21).
expect "a batch size that would overflow is refused, not a trap" fail "at most 16777216" "^$" -- \
  "$SAE" train "${T[@]}" --batch-size 9223372036854775807 --out big
expect "an empty SAE_FAULT plans nothing" ok "" "^$" -- env SAE_FAULT= "$SAE" summary --code 8
expect "SAE_FAULT=: plans nothing" ok "" "^$" -- env SAE_FAULT=: "$SAE" summary --code 8
mkfifo fifo.npy
expect "a FIFO nothing writes to is refused, not waited on" fail "is a FIFO" "^$" -- env SAE_FIFO_WAIT=0.2 "$SAE" train --data-npy fifo.npy --code 8 --out ff
mkdir -p fshards && cp v.npy fshards/a.npy && mkfifo fshards/b.npy
expect "a FIFO among the shards is refused" fail "fshards/b.npy: is a FIFO" "^$" -- "$SAE" train --data-npy fshards --val-npy val.npy --code 8 --out ffs
expect "a FIFO as encode's input is refused" fail "is a FIFO" "^$" -- env SAE_FIFO_WAIT=0.2 "$SAE" encode run --npy fifo.npy --out ff.npy
"$SAE" train "${T[@]}" --epochs 1 --out linked > /dev/null 2>&1 && rm linked/status.json && ln -s ../notes.txt linked/status.json
expect "--force on a run holding a symlink deletes nothing" fail "nothing was deleted" "linked/\.sae-lock$" -- "$SAE" train "${T[@]}" --epochs 1 --force --out linked
mkdir -p mysweep && echo "my notes" > mysweep/sweep.md
expect "a sweep does not replace a user's sweep.md" fail "was not written by a sweep" "^$" -- \
  "$SAE" sweep --data-npy v.npy --val-npy val.npy --architecture topk --k 2 --code 16 --epochs 1 --out mysweep
python3 -c "import numpy as np; np.save('same.npy', np.ones((5, 8), np.float32))"
expect "validation vectors that do not vary: the FVU is undefined, not 0" ok "" "^\./flat/" -- \
  bash -c "'$SAE' train --data-npy v.npy --val-npy same.npy --code 16 --k 2 --epochs 1 --out flat > /dev/null && grep -q '\"test_fvu\" : null' flat/metrics.json && '$SAE' metrics flat > /dev/null"

# The third round's commands: features, import, transcoders' targets.
mkdir -p mypage && echo "mine" > mypage/index.html
expect "features does not replace a user's directory" fail "which sae features did not write" "^$" -- "$SAE" features run --out mypage
ln -s mypage pagelink
expect "features does not write through a symlink" fail "is a symbolic link" "^$" -- "$SAE" features run --out pagelink
expect "features into a fresh directory" ok "" "^\./page/" -- "$SAE" features run --npy v.npy --out page
printf 'a\nb\n' > two.txt
expect "features with a --labels file of the wrong length" fail "has 2 lines but there are 600 vectors" "^$" -- "$SAE" features run --npy v.npy --labels two.txt --out page2
mkdir -p junk && echo '{"d_in": 8}' > junk/cfg.json && echo "not safetensors" > junk/sae_weights.safetensors
expect "import of a damaged safetensors file" fail "junk/sae_weights.safetensors" "^$" -- "$SAE" import junk --data-npy v.npy --out imp
mkdir -p noweights
expect "import of a directory without weights" fail "holds neither sae_weights.safetensors" "^$" -- "$SAE" import noweights --data-npy v.npy --out imp
expect "import of a path that does not exist" fail "does not exist" "^$" -- "$SAE" import nowhere --data-npy v.npy --out imp
python3 -c "import numpy as np; np.save('t5.npy', np.ones((5, 3), np.float32))"
expect "transcoder targets with other row counts" fail "holds 5 target rows but" "^$" -- "$SAE" train --data-npy v.npy --target-npy t5.npy --code 8 --out tc
expect "validation targets without validation vectors" fail "--val-target-npy needs --target-npy and --val-npy" "^$" -- \
  "$SAE" train --data-npy v.npy --target-npy v.npy --val-target-npy val.npy --code 8 --out tc
ln run/model.safetensors victim.npy
expect "a hard link to a run's weights is not written through, even with --force" fail "is a hard link to a run's weights" "^$" -- \
  "$SAE" encode run --npy v.npy --out victim.npy --force

if [ "$QUICK" != "--quick" ]; then
  # 12. Labels above 9 (needs Fashion-MNIST: Debian's dataset-fashion-mnist).
  F=/usr/share/datasets/fashion-mnist
  mkdir -p fm && cp $F/train-images-idx3-ubyte.gz $F/t10k-images-idx3-ubyte.gz $F/t10k-labels-idx1-ubyte.gz fm/
  python3 -c "
import gzip; b = bytearray(gzip.open('$F/train-labels-idx1-ubyte.gz').read()); b[8 + 5] = 200
gzip.open('fm/train-labels-idx1-ubyte.gz', 'wb').write(bytes(b))"
  expect "a label above 9 is refused naming the file" fail "train-labels-idx1-ubyte.gz: label 200 at index 5" "^$" -- "$SAE" train --data fm --epochs 1 --out lab
  # 8. Sweeps with other settings train beside the old runs.
  "$SAE" sweep --penalty l1 --l1 1e-5 --epochs 1 --train-limit 300 --out sw > /dev/null 2>&1
  expect "a sweep with other --epochs keeps the old runs" ok "" "^\./sw/(l1_1e-05-2|none-2)/|^\./sw/[^/]+$|^\./sw/[^/]+/(metrics.json|figures/)" -- \
    bash -c "'$SAE' sweep --penalty l1 --l1 1e-5 --epochs 2 --train-limit 300 --out sw | grep -q 'trained with other settings (training.epochs: 1 -> 2)'"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
