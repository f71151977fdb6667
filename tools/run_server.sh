#!/usr/bin/env bash
# Installs the dependencies, builds impulsed and starts it with the embedded
# defaults: journal and data under ./impulse-data, CPU pool on all cores, the
# GPU when one is present. Extra arguments go to impulsed (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
bazel build -c opt //server:impulsed //client:impulse
exec bazel-bin/server/impulsed --grpc_listen=127.0.0.1:50051 --data_dir=./impulse-data "$@"
