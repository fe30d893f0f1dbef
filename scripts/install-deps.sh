#!/usr/bin/env bash
# Installs what building and running sae needs, if it is missing: OpenBLAS (every matrix
# product), zlib (gzip'd IDX files), pkg-config (finds OpenBLAS), Debian's Fashion-MNIST
# package, and numpy (tests check that numpy reads our .npy and safetensors files, and that
# `sae export` output loads in Python and reproduces our encodings: Tests/Interop).
# --test adds what only the tests need; --static what only the static-runtime build `make install`
# installs needs (libcurl's development symlink: see below).
set -euo pipefail

need=()
pkg-config --exists openblas 2>/dev/null || need+=(libopenblas-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
# The tests train over MPI ranks (MPITests: mpirun, and libmpi, which sae opens only under mpirun).
if [ "${1:-}" = "--test" ]; then command -v mpirun >/dev/null || need+=(openmpi-bin); fi
# The static-runtime build (make build-static, make install) links Foundation's networking (the
# Fashion-MNIST download) from the toolchain's static archives, which link -lcurl: the linker
# needs libcurl.so, a development symlink (sae then needs only libcurl4 at run time, as the
# toolchain's shared Foundation does). Not for make build, demo or test.
if [ "${1:-}" = "--static" ] && ! compgen -G '/usr/lib/*/libcurl.so' >/dev/null && [ ! -e /usr/lib/libcurl.so ]; then
  need+=(libcurl4-openssl-dev)
fi

# The tests also render the installed man page with `man -l` (InstallTests): man-db, without
# its recommended packages.
test_need=()
if [ "${1:-}" = "--test" ]; then command -v man >/dev/null || test_need+=(man-db); fi

if [ ${#need[@]} -gt 0 ] || [ ${#test_need[@]} -gt 0 ]; then
  all=("${need[@]}" "${test_need[@]}")
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root (or sudo) to apt-get install ${all[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "Installing ${all[*]} with apt-get"
  $sudo apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; fi
  if [ ${#test_need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${test_need[@]}" >/dev/null
  fi
fi

if [ "${1:-}" = "--test" ] && ! python3 -c 'import numpy' 2>/dev/null; then
  echo "Installing numpy with pip (for the interoperability test)"
  python3 -m pip install -q numpy
fi
