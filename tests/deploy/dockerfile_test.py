#!/usr/bin/python3
"""Checks the Dockerfile without a container engine.

Stages on Debian bookworm (build on debian:bookworm, runtime on
debian:bookworm-slim, a gpu and a default cpu target derived from it), a
non-root USER, HEALTHCHECK on /healthz, STOPSIGNAL SIGTERM, EXPOSE of the
gRPC and HTTP ports and a VOLUME for the data dir, the entrypoint copied from
deploy/; every runtime package exists (apt-cache show), and every shared
library that ldd reports for the given binaries belongs (dpkg -S) to a listed
runtime package.

Usage: dockerfile_test.py ROOT [BINARY...]
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "."
BINARIES = sys.argv[2:]
failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def note(message):
    print("note: " + message)


def parse(text):
    """Dockerfile -> [(INSTRUCTION, arguments)], continuations joined."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    if current:
        fail("Dockerfile ends inside a continued line")
    return out


with open(os.path.join(ROOT, "Dockerfile")) as f:
    instructions = parse(f.read())

# Stages: name -> {"from": image, "ins": [...]}
stages, order, args = {}, [], {}
for word, rest in instructions:
    if word == "ARG" and not order:
        name, _, value = rest.partition("=")
        args[name] = value
    if word == "FROM":
        parts = rest.split()
        parts = [p for p in parts if not p.startswith("--platform")]
        image = parts[0]
        name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else f"#{len(order)}"
        stages[name] = {"from": image, "ins": []}
        order.append(name)
    elif order:
        stages[order[-1]]["ins"].append((word, rest))
if not order:
    fail("Dockerfile has no FROM")
    sys.exit(1)


def chain(name):
    """The stage and the stages it derives from, nearest first."""
    out = []
    while name in stages:
        out.append(name)
        name = stages[name]["from"]
    return out


def base_image(name):
    return stages[chain(name)[-1]]["from"]


for name in order:
    image = base_image(name)
    if not re.fullmatch(r"debian:bookworm(-slim)?(@sha256:[0-9a-f]+)?", image):
        fail(f"stage {name}: based on {image}, not debian:bookworm[-slim]")
if len(order) < 2:
    fail("not a multi-stage build")
if stages.get("build", {}).get("from") != "debian:bookworm":
    fail("no stage 'build' FROM debian:bookworm")
if stages.get("runtime", {}).get("from") != "debian:bookworm-slim":
    fail("no stage 'runtime' FROM debian:bookworm-slim")
final = order[-1]
for target in (final, "gpu"):
    if target not in stages or "runtime" not in chain(target):
        fail(f"target {target} does not derive from the runtime stage")

build_runs = " ".join(r for w, r in stages.get("build", {}).get("ins", []) if w == "RUN")
for target in ("//server:impulsed", "//client:impulse"):
    if not re.search(r"bazel\b.*\bbuild\b.*" + re.escape(target) + r"(?![\w/:.-])",
                     build_runs):
        fail(f"build stage does not bazel build {target}")


def effective(target, word):
    """The instructions `word` seen by `target` (base stages first)."""
    out = []
    for name in reversed(chain(target)):
        out += [r for w, r in stages[name]["ins"] if w == word]
    return out


def env_of(target):
    env = {}
    for rest in effective(target, "ENV"):
        for token in shlex.split(rest):
            if "=" in token:
                k, _, v = token.partition("=")
                env[k] = v
    return env


for target in (final, "gpu"):
    if target not in stages:
        continue
    users = effective(target, "USER")
    if not users:
        fail(f"{target}: no USER (would run as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        fail(f"{target}: USER is {users[-1]}")
    health = effective(target, "HEALTHCHECK")
    if not health or "/healthz" not in health[-1] or "NONE" in health[-1].split():
        fail(f"{target}: no HEALTHCHECK on /healthz")
    stop = effective(target, "STOPSIGNAL")
    if not stop or stop[-1] != "SIGTERM":
        fail(f"{target}: STOPSIGNAL is not SIGTERM")
    env = env_of(target)
    exposed = {p.split("/")[0] for e in effective(target, "EXPOSE") for p in e.split()}
    for var in ("IMPULSE_GRPC_PORT", "IMPULSE_HTTP_PORT"):
        if env.get(var) not in exposed:
            fail(f"{target}: {var}={env.get(var)} is not EXPOSEd ({sorted(exposed)})")
    volumes = " ".join(effective(target, "VOLUME"))
    if not env.get("IMPULSE_DATA_DIR") or env["IMPULSE_DATA_DIR"] not in volumes:
        fail(f"{target}: IMPULSE_DATA_DIR {env.get('IMPULSE_DATA_DIR')} is not a VOLUME")
    entry = effective(target, "ENTRYPOINT")
    if not entry or "impulse-entrypoint" not in entry[-1]:
        fail(f"{target}: ENTRYPOINT is not the impulse entrypoint")
    if not entry or not entry[-1].startswith("["):
        fail(f"{target}: ENTRYPOINT in shell form (signals would not reach impulsed)")
if final == "gpu" or "NVIDIA_VISIBLE_DEVICES" in env_of(final):
    fail(f"the default target ({final}) is the GPU variant; want the CPU image")
gpu_env = env_of("gpu") if "gpu" in stages else {}
if gpu_env.get("IMPULSE_USE_GPU") != "true" or "NVIDIA_VISIBLE_DEVICES" not in gpu_env:
    fail("gpu target does not set IMPULSE_USE_GPU=true and NVIDIA_VISIBLE_DEVICES")

# Every COPY source outside --from exists in the repository.
copies = {}
for name in order:
    for w, rest in stages[name]["ins"]:
        if w != "COPY" or "--from=" in rest:
            continue
        parts = [p for p in rest.split() if not p.startswith("--")]
        for src in parts[:-1]:
            if src != "." and not os.path.exists(os.path.join(ROOT, src)):
                fail(f"COPY {src}: no such file in the repository")
            copies[src] = parts[-1]
if "deploy/entrypoint.sh" not in copies:
    fail("the runtime does not COPY deploy/entrypoint.sh")
if "deploy/healthcheck.sh" not in copies:
    fail("the runtime does not COPY deploy/healthcheck.sh")

# Runtime packages: the apt-get install lines of the runtime chain.
packages = []
for rest in effective(final, "RUN"):
    for command in re.split(r"&&|;", rest):
        words = command.split()
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            packages += [w for w in after if not w.startswith("-")]
if not packages:
    fail("the runtime installs no packages")
print("runtime packages: " + " ".join(packages))

if shutil.which("apt-cache"):
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + packages,
                       capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    for p in packages:
        if p not in known:
            fail(f"runtime package {p} is unknown to apt-cache")
else:
    note("no apt-cache here: package names not checked")


def owners(libs):
    """Library path -> owning Debian package (merged /usr aware), one dpkg -S."""
    candidates = {}
    for lib in libs:
        for p in (lib, os.path.realpath(lib)):
            for c in (p, p[len("/usr"):] if p.startswith("/usr/lib/") else "/usr" + p):
                candidates.setdefault(c, lib)
    r = subprocess.run(["dpkg", "-S"] + sorted(candidates), capture_output=True, text=True)
    found = {}
    for line in r.stdout.splitlines():
        packages, _, file = line.partition(": ")
        if file in candidates:
            found.setdefault(candidates[file], packages.split(",")[0].split(":")[0].strip())
    return found


if not BINARIES:
    note("no binaries given: the ldd coverage check did not run")
elif not (shutil.which("ldd") and shutil.which("dpkg")):
    note("no ldd or dpkg here: the ldd coverage check did not run")
else:
    listed = set(packages)
    for binary in BINARIES:
        if not os.path.exists(binary):
            note(f"{binary} is not in the runfiles: not checked")
            continue
        r = subprocess.run(["ldd", binary], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"ldd {binary}: {r.stderr.strip()}")
            continue
        libs = []
        for line in r.stdout.splitlines():
            line = line.strip()
            if "not found" in line:
                fail(f"{binary}: {line}")
                continue
            m = re.match(r"(\S+) => (\S+)", line) or re.match(r"(/\S+) \(", line)
            if m:  # (not linux-vdso)
                libs.append(m.group(m.lastindex))
        found = owners(libs)
        for lib in libs:
            pkg = found.get(lib)
            if pkg is None:
                fail(f"{binary}: no Debian package owns {lib}")
            elif pkg not in listed:
                fail(f"{binary}: {os.path.basename(lib)} is from {pkg}, "
                     "which the runtime stage does not install")
        libs = len(libs)
        print(f"{os.path.basename(binary)}: {libs} shared libraries, all checked")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("ok")
