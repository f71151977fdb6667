#!/usr/bin/python3
"""Runs deploy/entrypoint.sh outside a container against the real impulsed.

1. With a stub binary: every IMPULSE_* variable becomes its flag exactly
   once, a flag given as an argument wins over its variable, unset variables
   (IMPULSE_CLUSTER_REDIS among them) add no flag, IMPULSE_HTTP_PORT=off
   turns HTTP off, and the stub is exec'd (same PID).
2. Without tokens and without IMPULSE_INSECURE on 0.0.0.0: exit 64 with an
   explanation, impulsed never started.
3. The real impulsed on 0.0.0.0 with a tokens file, free ports and a data dir
   in a temp dir: /healthz and /readyz answer 200, /v1/jobs needs the token,
   the entrypoint's PID is impulsed itself, deploy/healthcheck.sh passes (and
   fails on a wrong port), and SIGTERM ends it with exit status 0 after the
   drain of the timeout given as an argument.

4. TLS and mutual TLS from IMPULSE_TLS_* with certificates made by
   MAKE_CERTS: deploy/healthcheck.sh passes over HTTPS (with the client
   certificate it is given under mutual TLS) and fails without, and SIGTERM
   still gives exit status 0.

Usage: entrypoint_test.py ENTRYPOINT IMPULSED HEALTHCHECK [MAKE_CERTS]
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ENTRYPOINT, IMPULSED, HEALTHCHECK = (os.path.abspath(a) for a in sys.argv[1:4])
TMP = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, flush=True)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("IMPULSE") and not k.startswith("NVIDIA_")}
    env.update(extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


# --- 1. variable -> flag mapping, with a stub impulsed ----------------------
stub = os.path.join(TMP, "stub-impulsed")
args_file = os.path.join(TMP, "stub-args")
with open(stub, "w") as f:
    f.write('#!/usr/bin/env bash\necho "$$" > "%s.pid"\n'
            'printf "%%s\\n" "$@" > "%s"\n' % (args_file, args_file))
os.chmod(stub, 0o755)
tokens = os.path.join(TMP, "tokens")
with open(tokens, "w") as f:
    f.write("# test tenant\nalice 0123456789abcdef0123456789abcdef\n")
os.chmod(tokens, 0o600)

mapping = {
    "IMPULSE_DATA_DIR": ("data_dir", "/x/data"),
    "IMPULSE_AUTH_TOKENS": ("auth_tokens", tokens),
    "IMPULSE_TLS_CERT": ("tls_cert", "/x/tls.crt"),
    "IMPULSE_TLS_KEY": ("tls_key", "/x/tls.key"),
    "IMPULSE_TLS_CLIENT_CA": ("tls_client_ca", "/x/ca.pem"),
    "IMPULSE_CLUSTER_REDIS": ("cluster_redis", "redis://redis:6379"),
    "IMPULSE_CLUSTER_ADVERTISE": ("cluster_advertise", "10.0.0.7:50051"),
    "IMPULSE_CLUSTER_PEER_CA": ("cluster_peer_ca", "/x/peer-ca.pem"),
    "IMPULSE_DRAIN_TIMEOUT_MS": ("drain_timeout_ms", "25000"),
    "IMPULSE_LOG_LEVEL": ("log_level", "debug"),
    "IMPULSE_CPU_THREADS": ("cpu_threads", "3"),
    "IMPULSE_IO_THREADS": ("io_threads", "2"),
    "IMPULSE_MAX_RUNNING": ("max_running", "4"),
    "IMPULSE_MAX_QUEUED": ("max_queued", "99"),
    "IMPULSE_TENANT_MAX_QUEUED": ("tenant_max_queued", "5"),
    "IMPULSE_TENANT_MAX_RUNNING": ("tenant_max_running", "2"),
    "IMPULSE_USE_GPU": ("use_gpu", "false"),
    "IMPULSE_JOURNAL": ("journal", "true"),
    "IMPULSE_JOURNAL_SYNC": ("journal_sync", "full"),
    "IMPULSE_RETENTION": ("retention", "7d"),
    "IMPULSE_RETENTION_MAX_JOBS": ("retention_max_jobs", "1000"),
    "IMPULSE_MAX_DATASET_BYTES": ("max_dataset_bytes", "1000000"),
    "IMPULSE_HTTP_MAX_BODY_BYTES": ("http_max_body_bytes", "2000000"),
    "IMPULSE_RESULT_CACHE_BYTES": ("result_cache_bytes", "3000000"),
}
env = clean_env(IMPULSED_BIN=stub, IMPULSE_GRPC_PORT="6000",
                IMPULSE_HTTP_PORT="6001",
                **{k: v for k, (_, v) in mapping.items()})
p = subprocess.Popen([ENTRYPOINT, "--max_queued=7", "--extra_flag"], env=env,
                     stderr=subprocess.PIPE, text=True)
_, err = p.communicate(timeout=30)
if p.returncode != 0:
    fail(f"stub run: exit {p.returncode}: {err}")
else:
    with open(args_file) as f:
        got = f.read().splitlines()
    with open(args_file + ".pid") as f:
        if int(f.read()) != p.pid:
            fail("the entrypoint did not exec impulsed (another PID ran it)")
    want = {"--grpc_listen=0.0.0.0:6000", "--http_listen=0.0.0.0:6001",
            "--max_queued=7", "--extra_flag"}
    for var, (flag, value) in mapping.items():
        if flag != "max_queued":
            want.add(f"--{flag}={value}")
    for w in sorted(want):
        if got.count(w) != 1:
            fail(f"stub run: {w} appears {got.count(w)} times in {got}")
    for extra in sorted(set(got) - want):
        fail(f"stub run: unexpected argument {extra}")
    if got.count("--max_queued=7") != 1 or "--max_queued=99" in got:
        fail("an argument did not win over IMPULSE_MAX_QUEUED")
    if got[-2:] != ["--max_queued=7", "--extra_flag"]:
        fail(f"arguments not passed through last: {got[-2:]}")

env = clean_env(IMPULSED_BIN=stub, IMPULSE_HTTP_PORT="off",
                IMPULSE_LISTEN_HOST="127.0.0.1")
r = subprocess.run([ENTRYPOINT], env=env, capture_output=True, text=True, timeout=30)
with open(args_file) as f:
    got = f.read().splitlines()
if r.returncode != 0 or got != ["--grpc_listen=127.0.0.1:50051", "--http_listen",
                                "", "--data_dir=/var/lib/impulse"]:
    fail(f"defaults with HTTP off on loopback: exit {r.returncode}, args {got}, {r.stderr}")

r = subprocess.run([ENTRYPOINT], env=clean_env(IMPULSED_BIN=stub, IMPULSE_INSECURE="1"),
                   capture_output=True, text=True, timeout=30)
with open(args_file) as f:
    got = f.read().splitlines()
if r.returncode != 0 or "--insecure" not in got or "WARNING" not in r.stderr:
    fail(f"IMPULSE_INSECURE=1: exit {r.returncode}, args {got}, no loud warning? {r.stderr}")

print(f"mapping checks done ({len(failures)} failures)", flush=True)

# --- 2. no tokens, no --insecure, 0.0.0.0: refused with an explanation ------
os.remove(args_file)
r = subprocess.run([ENTRYPOINT], env=clean_env(IMPULSED_BIN=stub),
                   capture_output=True, text=True, timeout=30)
if r.returncode != 64 or "IMPULSE_AUTH_TOKENS" not in r.stderr \
        or "IMPULSE_INSECURE" not in r.stderr:
    fail(f"no tokens on 0.0.0.0: exit {r.returncode} (want 64 with an explanation): {r.stderr}")
if os.path.exists(args_file):
    fail("no tokens on 0.0.0.0: impulsed was started anyway")
r = subprocess.run([ENTRYPOINT], env=clean_env(IMPULSED_BIN=stub, IMPULSE_GRPC_PORT="x"),
                   capture_output=True, text=True, timeout=30)
if r.returncode != 64:
    fail(f"IMPULSE_GRPC_PORT=x: exit {r.returncode}, want 64")

# --- 3. the real impulsed ----------------------------------------------------
grpc_port, http_port = free_port(), free_port()
data_dir = os.path.join(TMP, "data")
log_path = os.path.join(TMP, "impulsed.log")
env = clean_env(
    IMPULSED_BIN=IMPULSED, IMPULSE_GRPC_PORT=str(grpc_port),
    IMPULSE_HTTP_PORT=str(http_port), IMPULSE_DATA_DIR=data_dir,
    IMPULSE_AUTH_TOKENS=tokens, IMPULSE_DRAIN_TIMEOUT_MS="20000",
    IMPULSE_CPU_THREADS="1", IMPULSE_IO_THREADS="1", IMPULSE_USE_GPU="false")
log = open(log_path, "w")
# Its own process group, so that nothing it started outlives the test even
# when the entrypoint fails to exec.
server = subprocess.Popen([ENTRYPOINT, "--drain_timeout_ms=1500"], env=env,
                          stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)


# Straight to the server, whatever http_proxy says.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(path, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}{path}")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with opener.open(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def show_log():
    log.flush()
    with open(log_path) as f:
        print(f.read())


try:
    deadline = time.monotonic() + 30
    health = ready = None
    while time.monotonic() < deadline and server.poll() is None:
        health, ready = get("/healthz"), get("/readyz")
        if health == 200 and ready == 200:
            break
        time.sleep(0.1)
    if health != 200 or ready != 200:
        show_log()
        fail(f"impulsed via the entrypoint: /healthz {health}, /readyz {ready}, "
             f"exit {server.poll()}")
        raise SystemExit
    print(f"impulsed up via the entrypoint: grpc {grpc_port}, http {http_port}, "
          f"/healthz {health}, /readyz {ready}", flush=True)
    exe = os.path.realpath(f"/proc/{server.pid}/exe")
    if exe != os.path.realpath(IMPULSED):
        fail(f"the entrypoint's PID runs {exe}, not impulsed: signals would not reach it")
    if get("/v1/jobs") != 401:
        fail(f"/v1/jobs without a token: {get('/v1/jobs')}, want 401 (tokens not applied)")
    if get("/v1/jobs", "0123456789abcdef0123456789abcdef") != 200:
        fail("/v1/jobs with the token is not 200")
    if not os.path.exists(os.path.join(data_dir, "journal.sqlite")):
        fail("no journal in IMPULSE_DATA_DIR")
    if shutil.which("curl"):
        hc_env = clean_env(IMPULSE_HTTP_PORT=str(http_port))
        for path in ("/healthz", "/readyz"):
            r = subprocess.run([HEALTHCHECK, path], env=hc_env, capture_output=True,
                               text=True, timeout=30)
            if r.returncode != 0:
                fail(f"healthcheck.sh {path}: exit {r.returncode}: {r.stderr}")
        r = subprocess.run([HEALTHCHECK], env=clean_env(IMPULSE_HTTP_PORT=str(free_port())),
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 1:
            fail(f"healthcheck.sh on a closed port: exit {r.returncode}, want 1")
    else:
        print("note: no curl here: deploy/healthcheck.sh not run")

    server.send_signal(signal.SIGTERM)
    try:
        status = server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        status = server.wait()
        fail("impulsed did not exit within 15 s of SIGTERM")
    if status != 0:
        fail(f"impulsed exited {status} after SIGTERM, want 0")
    log.flush()
    with open(log_path) as f:
        text = f.read()
    print(f"SIGTERM: exit status {status}", flush=True)
    if "drain 1500 ms" not in text:
        fail("the --drain_timeout_ms argument did not win over IMPULSE_DRAIN_TIMEOUT_MS")
    if "impulsed stopped" not in text:
        fail("no 'impulsed stopped' in the log")
    if failures:
        print(text)
except SystemExit:
    pass
finally:
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if server.poll() is None:
        server.wait()


# --- 4. TLS and mutual TLS through the variables; the HTTPS health check -----
def healthcheck(port, **env):
    return subprocess.run([HEALTHCHECK, "/readyz"],
                          env=clean_env(IMPULSE_HTTP_PORT=str(port), **env),
                          capture_output=True, text=True, timeout=30).returncode


def run_tls(name, certs, mutual):
    http = free_port()
    env = clean_env(
        IMPULSED_BIN=IMPULSED, IMPULSE_GRPC_PORT=str(free_port()),
        IMPULSE_HTTP_PORT=str(http), IMPULSE_DATA_DIR=os.path.join(TMP, name),
        IMPULSE_AUTH_TOKENS=tokens, IMPULSE_LISTEN_HOST="127.0.0.1",
        IMPULSE_TLS_CERT=os.path.join(certs, "server.pem"),
        IMPULSE_TLS_KEY=os.path.join(certs, "server.key"),
        IMPULSE_DRAIN_TIMEOUT_MS="500", IMPULSE_CPU_THREADS="1",
        IMPULSE_IO_THREADS="1", IMPULSE_USE_GPU="false")
    client = {}
    if mutual:
        env["IMPULSE_TLS_CLIENT_CA"] = os.path.join(certs, "ca.pem")
        client = dict(IMPULSE_HEALTHCHECK_CERT=os.path.join(certs, "client.pem"),
                      IMPULSE_HEALTHCHECK_KEY=os.path.join(certs, "client.key"))
    tls_env = {"IMPULSE_TLS_CERT": env["IMPULSE_TLS_CERT"], **client}
    out = open(os.path.join(TMP, name + ".log"), "w")
    proc = subprocess.Popen([ENTRYPOINT], env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, rc = time.monotonic() + 30, None
        while time.monotonic() < deadline and proc.poll() is None:
            rc = healthcheck(http, **tls_env)
            if rc == 0:
                break
            time.sleep(0.2)
        if rc != 0:
            fail(f"{name}: healthcheck.sh over HTTPS: exit {rc}, server exit {proc.poll()}")
        elif healthcheck(http) == 0:
            fail(f"{name}: plain-HTTP health check passed on a TLS server")
        elif mutual and healthcheck(http, IMPULSE_TLS_CERT=env["IMPULSE_TLS_CERT"]) == 0:
            fail(f"{name}: health check without a client certificate passed under mTLS")
        else:
            print(f"{name}: HTTPS health check passes, plain HTTP"
                  f"{' and no client certificate' if mutual else ''} refused", flush=True)
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=15)
        if status != 0:
            fail(f"{name}: exit {status} after SIGTERM, want 0")
    except subprocess.TimeoutExpired:
        fail(f"{name}: no exit within 15 s of SIGTERM")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        out.close()
        if failures:
            with open(os.path.join(TMP, name + ".log")) as f:
                print(f.read())


if len(sys.argv) > 4 and shutil.which("curl") and shutil.which("openssl"):
    certs = os.path.join(TMP, "certs")
    subprocess.run([os.path.abspath(sys.argv[4]), certs], check=True,
                   capture_output=True, timeout=120)
    run_tls("tls", certs, mutual=False)
    run_tls("mtls", certs, mutual=True)
else:
    print("note: no make_test_certs.sh, curl or openssl: TLS part not run")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("ok")
