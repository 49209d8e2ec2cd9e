#!/usr/bin/env bash
# Installs what is missing (Debian packages), then configures and builds prunelab in build/.
# Safe to re-run: installed packages are skipped and the build is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake git ccache pkg-config
  libtorch-dev libopenblas0-pthread          # LibTorch (CPU) and a fast BLAS for it (else ~100x slower)
  libyaml-cpp-dev libsqlitecpp-dev libsqlite3-dev sqlite3 libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libssl-dev libstb-dev
  dataset-fashion-mnist                      # the real images everything is trained and evaluated on
  gnuplot-nox                                # draws `prunelab plot` figures (SVG, PNG)
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_type=${PRUNELAB_BUILD_TYPE:-Release}
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" ${PRUNELAB_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/prunelab ($build_type)"
