# The two commands a new user needs:
#   make demo   train the tutorial's L1 and KL models (30 epochs each) and print them side by side
#   make test   run the test suite
# Both install what is missing (OpenBLAS, zlib, Fashion-MNIST from Debian's packages) first.
# Then, to run `sae` by name: make install PREFIX=$HOME/.local (see "Installing" below).

SAE := .build/release/sae
# What `make install` installs: the release binary with Swift's runtime and Foundation linked in
# (--static-swift-stdlib), so it runs without the Swift toolchain; built in a scratch directory of
# its own so that it and `make build`'s binary do not rebuild each other.
STATIC_BUILD := .build-static
SAE_STATIC := $(STATIC_BUILD)/release/sae

.PHONY: demo test bench fuzz build build-static deps docs clean install uninstall

demo: deps build
	$(SAE) demo --out runs/demo

# The suite in its two tiers (scripts/test-tiers.sh: the unit tests, then the end-to-end ones that
# launch sae, mpirun or scripts; each in parallel processes, each timed), then its numerical tests
# again under other CPU kinds' kernels (scripts/test-kinds.sh --quick; without --quick it runs the
# whole suite under every kind this CPU can run). `swift test --disable-swift-testing` runs it in
# one process, with its summary.
test:
	bash scripts/install-deps.sh --test
	swift build --build-tests
	swift build -c release --product sae
	SAE_TEST_BINARY=$(CURDIR)/$(SAE) bash scripts/test-tiers.sh
	bash scripts/test-kinds.sh --quick

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

# The binary `make install` installs (see above; about 2 minutes on 2 cores, from scratch or after
# any change). It links the system's C libraries dynamically (libc, libm, libstdc++, libgcc_s, zlib,
# libcurl) and no library of the toolchain's; the build needs libcurl's development files.
build-static:
	bash scripts/install-deps.sh --static
	swift build -c release --product sae --static-swift-stdlib --scratch-path $(STATIC_BUILD)

# The library's documentation (the DocC catalogue Sources/SparseAutoencoder/SparseAutoencoder.docc, with
# the getting-started article) as a static site in .build/docs, by swift-docc-plugin; offline, about
# 30 s. Serve it and open /documentation/sparseautoencoder/:
#   python3 -m http.server -d .build/docs 8000
# Not part of CI or `make test` (ExampleTests keeps the article's code the example's, which CI runs).
docs: deps
	swift package --disable-sandbox generate-documentation --target SparseAutoencoder \
	  --transform-for-static-hosting --output-path .build/docs
	@echo "documentation in .build/docs: python3 -m http.server -d .build/docs 8000, then http://localhost:8000/documentation/sparseautoencoder/"

deps:
	bash scripts/install-deps.sh

# Installing. `make install` puts sae in $(PREFIX)/bin, its man page (rendered from sae's own
# help by `sae generate-manual`) in $(PREFIX)/share/man/man1 and its bash, zsh and fish
# completions (`sae --generate-completion-script`) where those shells look, building that binary
# first if it is missing or older than the sources. PREFIX defaults to /usr/local (root);
# a PREFIX you own needs no root: make install PREFIX=$HOME/.local. DESTDIR stages the files
# for a package. SAE_BIN=path installs that binary instead (nothing is built).
# `make uninstall`, with the same PREFIX and DESTDIR, removes exactly those five files (the
# directories stay, as they may be shared).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
INSTALL ?= install
SAE_BIN ?= $(SAE_STATIC)
INSTALLED = "$(DESTDIR)$(BINDIR)/sae" "$(DESTDIR)$(MANDIR)/man1/sae.1" "$(DESTDIR)$(BASHCOMPDIR)/sae" \
  "$(DESTDIR)$(ZSHCOMPDIR)/_sae" "$(DESTDIR)$(FISHCOMPDIR)/sae.fish"

# The binaries, rebuilt only when a source is newer (so `sudo make install` after `make
# build-static` does not build as root).
SOURCES := Package.swift $(shell find Sources Plugins scripts/build-info.sh -type f 2>/dev/null)
$(SAE): $(SOURCES)
	bash scripts/install-deps.sh
	swift build -c release --product sae
$(SAE_STATIC): $(SOURCES)
	bash scripts/install-deps.sh --static
	swift build -c release --product sae --static-swift-stdlib --scratch-path $(STATIC_BUILD)

install: $(SAE_BIN)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	"$(SAE_BIN)" generate-manual > "$$tmp/sae.1"; \
	for shell in bash zsh fish; do "$(SAE_BIN)" --generate-completion-script $$shell > "$$tmp/$$shell"; done; \
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(BASHCOMPDIR)" \
	  "$(DESTDIR)$(ZSHCOMPDIR)" "$(DESTDIR)$(FISHCOMPDIR)"; \
	$(INSTALL) -m 755 "$(SAE_BIN)" "$(DESTDIR)$(BINDIR)/sae"; \
	$(INSTALL) -m 644 "$$tmp/sae.1" "$(DESTDIR)$(MANDIR)/man1/sae.1"; \
	$(INSTALL) -m 644 "$$tmp/bash" "$(DESTDIR)$(BASHCOMPDIR)/sae"; \
	$(INSTALL) -m 644 "$$tmp/zsh" "$(DESTDIR)$(ZSHCOMPDIR)/_sae"; \
	$(INSTALL) -m 644 "$$tmp/fish" "$(DESTDIR)$(FISHCOMPDIR)/sae.fish"; \
	for f in $(INSTALLED); do echo "installed $$f"; done; \
	if [ -z "$(DESTDIR)" ]; then \
	  case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo "note: $(BINDIR) is not on your PATH";; esac; \
	fi

# A directory where a file was installed is not sae's: left alone, and the target fails.
uninstall:
	@status=0; for f in $(INSTALLED); do \
	  if [ -d "$$f" ] && [ ! -L "$$f" ]; then echo "not removed: $$f is a directory, not a file make install wrote" >&2; status=1; \
	  elif [ -e "$$f" ] || [ -L "$$f" ]; then rm -f "$$f" && echo "removed $$f" || status=1; fi; \
	done; exit $$status

clean:
	rm -rf .build $(STATIC_BUILD) runs
