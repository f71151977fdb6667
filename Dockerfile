# syntax=docker/dockerfile:1.6
# Impulse container image: impulsed (and the impulse CLI) on Debian bookworm.
#
#   docker build -t impulse:latest .                 # CPU image (the default target)
#   docker build --target gpu -t impulse:gpu .       # GPU image, see below
#   docker run -d --name impulse -p 50051:50051 -p 8080:8080 \
#     -v impulse-data:/var/lib/impulse -v "$PWD/tokens:/etc/impulse/tokens:ro" \
#     -e IMPULSE_AUTH_TOKENS=/etc/impulse/tokens --stop-timeout 30 impulse:latest
#
# Configuration is by IMPULSE_* variables (deploy/entrypoint.sh maps them to
# impulsed flags; README "Deployment"); arguments after the image name go to
# impulsed as flags. The image listens on 0.0.0.0, so it needs tokens
# (IMPULSE_AUTH_TOKENS) or an explicit IMPULSE_INSECURE=1.
#
# Checked without a container engine by //tests/deploy:dockerfile_test
# (stages, user, health check, that every runtime package exists and covers
# every library ldd lists for the built binaries). The image itself has not
# been built on the project's machines (no container engine there).

############################ build ############################
FROM debian:bookworm AS build
ARG CUDA_REPO=debian12
ARG CUDA_VERSION=13-0
ENV DEBIAN_FRONTEND=noninteractive

# nvcc and the static CUDA runtime: the build always compiles the GPU kernels
# (compute/gpu) and links cudart statically, so no CUDA library is needed at
# run time, only the driver's libcuda.so.1 on a GPU host.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates wget \
 && wget -qO /tmp/cuda-keyring.deb \
      "https://developer.download.nvidia.com/compute/cuda/repos/${CUDA_REPO}/x86_64/cuda-keyring_1.1-1_all.deb" \
 && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      "cuda-nvcc-${CUDA_VERSION}" "cuda-cudart-dev-${CUDA_VERSION}" "cuda-cccl-${CUDA_VERSION}" \
 && { [ -e /usr/local/cuda ] || ln -s "$(ls -d /usr/local/cuda-*/ | head -n 1)" /usr/local/cuda; } \
 && /usr/local/cuda/bin/nvcc --version \
 && rm -rf /var/lib/apt/lists/*

# Bazel and every library from Debian: the same script as a developer machine.
COPY tools/install_deps.sh /src/tools/install_deps.sh
RUN /src/tools/install_deps.sh && rm -rf /var/lib/apt/lists/*

COPY . /src
WORKDIR /src
RUN --mount=type=cache,target=/root/.cache \
    bazel --batch build -c opt //server:impulsed //client:impulse \
 && mkdir -p /out \
 && install -m 0755 bazel-bin/server/impulsed bazel-bin/client/impulse /out/

############################ runtime ############################
FROM debian:bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# Exactly the shared libraries impulsed and impulse load (ldd, mapped to
# packages with dpkg -S; //tests/deploy:dockerfile_test keeps this list and
# the binaries in step), libtbbmalloc2 (oneTBB loads it when present),
# libhiredis0.14 (cluster mode, --cluster_redis) and curl for HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 \
      libc-ares2 \
      libc6 \
      libfmt9 \
      libgcc-s1 \
      libgrpc++1.51 \
      libgrpc29 \
      libhiredis0.14 \
      libprotobuf32 \
      libre2-9 \
      libspdlog1.10 \
      libsqlite3-0 \
      libssl3 \
      libstdc++6 \
      libtbb12 \
      libtbbmalloc2 \
      zlib1g \
      curl \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 impulse \
 && useradd --system --uid 10001 --gid impulse --home-dir /var/lib/impulse \
      --no-create-home --shell /usr/sbin/nologin impulse \
 && mkdir -p /var/lib/impulse \
 && chown impulse:impulse /var/lib/impulse && chmod 0750 /var/lib/impulse

COPY --from=build /out/impulsed /out/impulse /usr/local/bin/
COPY deploy/entrypoint.sh /usr/local/bin/impulse-entrypoint
COPY deploy/healthcheck.sh /usr/local/bin/impulse-healthcheck

ENV IMPULSE_GRPC_PORT=50051 \
    IMPULSE_HTTP_PORT=8080 \
    IMPULSE_DATA_DIR=/var/lib/impulse \
    IMPULSE_DRAIN_TIMEOUT_MS=8000
# 8 s of drain fits docker stop's default 10 s; raise both together
# (IMPULSE_DRAIN_TIMEOUT_MS and docker run --stop-timeout).
VOLUME ["/var/lib/impulse"]
EXPOSE 50051/tcp 8080/tcp
USER impulse:impulse
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/impulse-healthcheck", "/healthz"]
ENTRYPOINT ["/usr/local/bin/impulse-entrypoint"]
CMD []

############################ gpu ############################
# docker build --target gpu -t impulse:gpu .
# docker run --gpus all ... impulse:gpu    (NVIDIA Container Toolkit on the host)
# The same bookworm runtime: impulsed links the CUDA runtime statically, so
# the only CUDA piece it needs is the driver's libcuda.so.1, which the NVIDIA
# Container Toolkit mounts from the host when these variables are set. The
# nvidia/cuda runtime images are Ubuntu/UBI-based, with other versions of the
# libraries above than the ones the binary is built against, and their CUDA
# libraries would go unused. Needs a driver for CUDA 13 (R580 or newer) and an
# sm_80 / sm_90 GPU (or newer, through the compute_90 PTX).
FROM runtime AS gpu
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    IMPULSE_USE_GPU=true

############################ cpu (default) ############################
FROM runtime AS cpu
ENV IMPULSE_USE_GPU=false
