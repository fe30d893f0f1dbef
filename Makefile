# The two commands a new user needs:
#   make demo   train the tutorial's L1 and KL models (30 epochs each) and print them side by side
#   make test   run the test suite
# Both install what is missing (OpenBLAS, zlib, Fashion-MNIST from Debian's packages) first.

SAE := .build/release/sae

.PHONY: demo test bench fuzz build deps clean

demo: deps build
	$(SAE) demo --out runs/demo

test:
	bash scripts/install-deps.sh --test
	swift test --disable-swift-testing

# sae against its peers side by side on this machine: the tutorial models against Keras (TensorFlow and
# JAX) and PyTorch, and a TopK dictionary SAE against EleutherAI sparsify (creates .venv with
# tensorflow-cpu, jax, torch and eai-sparsify once, several GB). Not part of CI or `make test`.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--quick" or BENCH_ARGS="--parts dictionary".
bench: deps build
	python3 bench/side_by_side.py $(BENCH_ARGS)

# Fuzz the parsers (IDX + gzip, safetensors, config.json) with libFuzzer; see scripts/fuzz.sh.
fuzz: deps
	bash scripts/fuzz.sh

build: deps
	swift build -c release --product sae

deps:
	bash scripts/install-deps.sh

clean:
	rm -rf .build runs
