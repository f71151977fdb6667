#!/usr/bin/env bash
# Installs every Debian package Impulse needs to build, run and test.
# CUDA is expected at /usr/local/cuda (optional for running; nvcc is needed to build).
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java
  g++ clang-format
  libboost1.81-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libtbb-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libsqlite3-dev nlohmann-json3-dev libssl-dev
  libhiredis-dev redis-server haproxy  # cluster mode and its test
  python3-yaml curl  # tests/deploy: YAML checks, deploy/healthcheck.sh
  openssl  # the TLS tests make their certificates with its CLI
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
