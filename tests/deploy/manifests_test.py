#!/usr/bin/python3
"""Checks deploy/compose.yaml and deploy/k8s/*.yaml without a cluster.

Every YAML file must parse, and the manifests must agree with each other and
with deploy/entrypoint.sh: known kinds and apiVersions, probes on /readyz and
/healthz on the HTTP port, ports equal in ConfigMap, Deployments, Services and
Ingresses, termination grace above preStop plus drain timeout, non-root
security contexts, resources, a GPU pool requesting nvidia.com/gpu, and a
compose file whose services, files, health checks and stop grace periods are
consistent.

Usage: manifests_test.py [ROOT]  (ROOT: the repository or the test's runfiles
directory, default the current directory). Runs with Debian's python3-yaml.
"""
import glob
import os
import re
import sys

import yaml

ROOT = sys.argv[1] if len(sys.argv) > 1 else "."
failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def note(message):
    print("note: " + message)


def path(*parts):
    return os.path.join(ROOT, *parts)


def load_all(file):
    try:
        with open(file) as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        fail(f"{file}: does not parse: {e}")
        return []


def duration_seconds(text):
    """Compose/Go durations: 1m30s, 30s, 500ms, 2h."""
    if isinstance(text, (int, float)):
        return float(text)
    total, rest = 0.0, str(text).strip()
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    for number, unit in re.findall(r"([0-9.]+)(ms|us|h|m|s)", rest):
        total += float(number) * units[unit]
    if not re.fullmatch(r"(?:[0-9.]+(?:ms|us|h|m|s))+", rest):
        raise ValueError(f"not a duration: {text!r}")
    return total


# --- The variables deploy/entrypoint.sh understands -------------------------
with open(path("deploy", "entrypoint.sh")) as f:
    entrypoint_text = f.read()
# Variables the script's code reads (not its comments).
ENTRYPOINT_VARS = set(re.findall(
    r"\b(IMPULSE_[A-Z_]+)\b",
    "\n".join(line.split(" #")[0] for line in entrypoint_text.splitlines()
              if not line.lstrip().startswith("#"))))
# Read by the health check script or by the NVIDIA container runtime.
OTHER_VARS = {"IMPULSE_HEALTHCHECK_TIMEOUT", "IMPULSE_HEALTHCHECK_CERT",
              "IMPULSE_HEALTHCHECK_KEY", "NVIDIA_DRIVER_CAPABILITIES",
              "NVIDIA_VISIBLE_DEVICES"}
for required in ("IMPULSE_GRPC_PORT", "IMPULSE_HTTP_PORT", "IMPULSE_DATA_DIR",
                 "IMPULSE_AUTH_TOKENS", "IMPULSE_CLUSTER_REDIS",
                 "IMPULSE_DRAIN_TIMEOUT_MS", "IMPULSE_TLS_CERT",
                 "IMPULSE_TLS_KEY"):
    if required not in ENTRYPOINT_VARS:
        fail(f"deploy/entrypoint.sh does not handle {required}")


def check_env_names(where, names):
    for name in names:
        if name.startswith("IMPULSE_") and name not in ENTRYPOINT_VARS | OTHER_VARS:
            fail(f"{where}: {name} is not a variable deploy/entrypoint.sh maps")


# --- Kubernetes --------------------------------------------------------------
KNOWN_KINDS = {
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"),
    ("v1", "Service"), ("apps/v1", "Deployment"),
    ("networking.k8s.io/v1", "Ingress"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
}
DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

k8s_dir = path("deploy", "k8s")
k8s_files = sorted(glob.glob(os.path.join(k8s_dir, "*.yaml")))
if not k8s_files:
    fail("no deploy/k8s/*.yaml files")
objects = []  # (file, doc)
kustomization = None
for file in k8s_files:
    base = os.path.basename(file)
    for doc in load_all(file):
        if not isinstance(doc, dict):
            fail(f"{base}: a document is not a mapping")
            continue
        if doc.get("kind") == "Kustomization":
            kustomization = (base, doc)
            continue
        key = (doc.get("apiVersion"), doc.get("kind"))
        name = (doc.get("metadata") or {}).get("name", "")
        if key not in KNOWN_KINDS:
            fail(f"{base}: unknown apiVersion/kind {key[0]}/{key[1]}")
        if not DNS1123.fullmatch(str(name)) or len(str(name)) > 63:
            fail(f"{base}: {key[1]} has no valid metadata.name ({name!r})")
        objects.append((base, doc))

if kustomization is None:
    fail("deploy/k8s/kustomization.yaml is missing")
else:
    base, k = kustomization
    if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1":
        fail(f"{base}: apiVersion {k.get('apiVersion')}")
    resources = k.get("resources") or []
    for r in resources:
        if not os.path.exists(os.path.join(k8s_dir, r)):
            fail(f"{base}: resource {r} does not exist")
    for file in k8s_files:
        b = os.path.basename(file)
        if b != base and b not in resources:
            fail(f"{base}: {b} is not listed in resources")


def of_kind(kind):
    return [(f, d) for f, d in objects if d.get("kind") == kind]


def by_name(kind, name):
    for f, d in of_kind(kind):
        if d["metadata"]["name"] == name:
            return d
    return None


config = by_name("ConfigMap", "impulse-config")
if config is None:
    fail("no ConfigMap impulse-config")
    config = {"data": {}}
cdata = config.get("data") or {}
check_env_names("ConfigMap impulse-config", cdata)
try:
    GRPC_PORT = int(cdata["IMPULSE_GRPC_PORT"])
    HTTP_PORT = int(cdata["IMPULSE_HTTP_PORT"])
    DRAIN_S = int(cdata["IMPULSE_DRAIN_TIMEOUT_MS"]) / 1000.0
except (KeyError, ValueError) as e:
    fail(f"ConfigMap impulse-config: port or drain timeout missing or bad: {e}")
    GRPC_PORT, HTTP_PORT, DRAIN_S = 50051, 8080, 5.0
TLS_ON_PODS = bool(cdata.get("IMPULSE_TLS_CERT"))
secret_names = {d["metadata"]["name"] for _, d in of_kind("Secret")}
for f, d in of_kind("Secret"):
    if d.get("type") == "kubernetes.io/tls":
        keys = set((d.get("data") or {}) | (d.get("stringData") or {}))
        if not {"tls.crt", "tls.key"} <= keys:
            fail(f"{f}: TLS Secret {d['metadata']['name']} lacks tls.crt/tls.key")


def container_port(container, ref):
    """A probe's or Service's port (name or number) -> number, or None."""
    for p in container.get("ports") or []:
        if ref == p.get("name") or ref == p.get("containerPort"):
            return p.get("containerPort")
    return None


def is_impulse(container):
    image = str(container.get("image", ""))
    return image.split("/")[-1].split(":")[0] == "impulse"


def nonroot(pod_sc, sc):
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    as_nonroot = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    return as_nonroot is True and user not in (None, 0)


def prestop_seconds(container):
    cmd = (((container.get("lifecycle") or {}).get("preStop") or {})
           .get("exec") or {}).get("command") or []
    if len(cmd) == 2 and cmd[0] in ("sleep", "/bin/sleep"):
        return float(cmd[1])
    return 0.0


deployments = of_kind("Deployment")
gpu_pools, cpu_pools = [], []
for f, dep in deployments:
    name = dep["metadata"]["name"]
    where = f"{f}: Deployment {name}"
    spec = dep.get("spec") or {}
    tmpl = spec.get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    match = (spec.get("selector") or {}).get("matchLabels") or {}
    if not match or any(labels.get(k) != v for k, v in match.items()):
        fail(f"{where}: selector {match} does not match the pod labels {labels}")
    pod = tmpl.get("spec") or {}
    pod_sc = pod.get("securityContext") or {}
    containers = pod.get("containers") or []
    if not containers:
        fail(f"{where}: no containers")
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    for c in containers:
        cw = f"{where} container {c.get('name')}"
        sc = c.get("securityContext") or {}
        if not nonroot(pod_sc, sc):
            fail(f"{cw}: not runAsNonRoot with a non-zero runAsUser")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(f"{cw}: allowPrivilegeEscalation is not false")
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(kind) or {}):
                    fail(f"{cw}: no resources.{kind}.{r}")
        for probe in ("readinessProbe", "livenessProbe"):
            if not c.get(probe):
                fail(f"{cw}: no {probe}")
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in volumes:
                fail(f"{cw}: volumeMount {m.get('name')} has no volume")
        for v in volumes.values():
            if "secret" in v and v["secret"].get("secretName") not in secret_names:
                fail(f"{where}: volume {v['name']} uses an undefined Secret")
        if not is_impulse(c):
            continue
        # impulsed: ports, probes, config, graceful stop, data and tokens.
        if container_port(c, "grpc") != GRPC_PORT:
            fail(f"{cw}: containerPort grpc is not IMPULSE_GRPC_PORT={GRPC_PORT}")
        if container_port(c, "http") != HTTP_PORT:
            fail(f"{cw}: containerPort http is not IMPULSE_HTTP_PORT={HTTP_PORT}")
        env_from = [e.get("configMapRef", {}).get("name")
                    for e in c.get("envFrom") or []]
        if "impulse-config" not in env_from:
            fail(f"{cw}: does not take envFrom ConfigMap impulse-config")
        check_env_names(cw, [e.get("name", "") for e in c.get("env") or []])
        want_scheme = "HTTPS" if TLS_ON_PODS else "HTTP"
        for probe, want in (("readinessProbe", "/readyz"),
                            ("livenessProbe", "/healthz"),
                            ("startupProbe", "/healthz")):
            p = c.get(probe)
            if p is None and probe == "startupProbe":
                continue
            get = (p or {}).get("httpGet") or {}
            if get.get("path") != want:
                fail(f"{cw}: {probe} is not an httpGet on {want}")
            if container_port(c, get.get("port")) != HTTP_PORT:
                fail(f"{cw}: {probe} port {get.get('port')} is not the HTTP port {HTTP_PORT}")
            if get.get("scheme", "HTTP") != want_scheme:
                fail(f"{cw}: {probe} scheme {get.get('scheme', 'HTTP')}, want "
                     f"{want_scheme} (IMPULSE_TLS_CERT {'set' if TLS_ON_PODS else 'unset'})")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        need = DRAIN_S + prestop_seconds(c)
        if not grace > need:
            fail(f"{cw}: terminationGracePeriodSeconds {grace} is not above "
                 f"preStop + drain timeout ({need:g} s)")
        mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
        if cdata.get("IMPULSE_DATA_DIR") not in mounts:
            fail(f"{cw}: nothing mounted at IMPULSE_DATA_DIR {cdata.get('IMPULSE_DATA_DIR')}")
        tokens = cdata.get("IMPULSE_AUTH_TOKENS")
        if not tokens:
            fail("ConfigMap impulse-config: no IMPULSE_AUTH_TOKENS: pods would "
                 "refuse to listen on the pod IP (or serve openly)")
        else:
            mount = mounts.get(os.path.dirname(tokens))
            vol = volumes.get((mount or {}).get("name"), {})
            if "secret" not in vol:
                fail(f"{cw}: IMPULSE_AUTH_TOKENS {tokens} is not in a mounted Secret")
        if "IMPULSE_INSECURE" in cdata or any(
                e.get("name") == "IMPULSE_INSECURE" for e in c.get("env") or []):
            fail(f"{cw}: IMPULSE_INSECURE set in the cluster manifests")
        gpus = [int((res.get(k) or {}).get("nvidia.com/gpu", 0))
                for k in ("requests", "limits")]
        (gpu_pools if gpus[1] > 0 else cpu_pools).append((name, labels))
        if gpus[1] > 0 and gpus[0] not in (0, gpus[1]):
            fail(f"{cw}: nvidia.com/gpu request differs from its limit")
if not gpu_pools:
    fail("no Deployment of impulse requests nvidia.com/gpu (GPU pool)")
if not cpu_pools:
    fail("no CPU-only Deployment of impulse")


def pods_matching(selector):
    out = []
    for _, dep in deployments:
        tmpl = dep["spec"]["template"]
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            out.append(dep)
    return out


services = {d["metadata"]["name"]: d for _, d in of_kind("Service")}
headless_grpc = False
for name, svc in services.items():
    spec = svc.get("spec") or {}
    pods = pods_matching(spec.get("selector") or {})
    if not pods:
        fail(f"Service {name}: selector matches no Deployment")
        continue
    for p in spec.get("ports") or []:
        target = p.get("targetPort", p.get("port"))
        for dep in pods:
            cs = dep["spec"]["template"]["spec"]["containers"]
            if not any(container_port(c, target) for c in cs):
                fail(f"Service {name} port {p.get('name')}: targetPort {target} "
                     f"is no containerPort of Deployment {dep['metadata']['name']}")
        if p.get("name") == "grpc" and p.get("port") != GRPC_PORT:
            fail(f"Service {name}: grpc port {p.get('port')} != {GRPC_PORT}")
        if p.get("name") == "http" and p.get("port") != HTTP_PORT:
            fail(f"Service {name}: http port {p.get('port')} != {HTTP_PORT}")
    if name.endswith("-headless") and spec.get("clusterIP") != "None":
        fail(f"Service {name}: named headless but has a cluster IP")
    if spec.get("clusterIP") == "None" and any(
            p.get("name") == "grpc" for p in spec.get("ports") or []):
        headless_grpc = True

grpc_ingress = False
for f, ing in of_kind("Ingress"):
    name = ing["metadata"]["name"]
    annotations = (ing.get("metadata") or {}).get("annotations") or {}
    for tls in (ing.get("spec") or {}).get("tls") or []:
        if tls.get("secretName") not in secret_names:
            fail(f"Ingress {name}: TLS secret {tls.get('secretName')} is not defined")
    for rule in (ing.get("spec") or {}).get("rules") or []:
        for p in ((rule.get("http") or {}).get("paths") or []):
            backend = (p.get("backend") or {}).get("service") or {}
            svc = services.get(backend.get("name"))
            port = (backend.get("port") or {})
            ref = port.get("name", port.get("number"))
            if svc is None:
                fail(f"Ingress {name}: backend Service {backend.get('name')} undefined")
                continue
            ports = svc["spec"].get("ports") or []
            match = [q for q in ports if ref in (q.get("name"), q.get("port"))]
            if not match:
                fail(f"Ingress {name}: Service {svc['metadata']['name']} has no port {ref}")
            elif match[0].get("name") == "grpc" or match[0].get("port") == GRPC_PORT:
                grpc_ingress = True
                proto = annotations.get("nginx.ingress.kubernetes.io/backend-protocol")
                if proto not in ("GRPC", "GRPCS"):
                    fail(f"Ingress {name}: gRPC backend without backend-protocol "
                         f"GRPC/GRPCS (HTTP/2) annotation (got {proto})")
if not (headless_grpc or grpc_ingress):
    fail("neither a headless Service nor an Ingress for gRPC")

dep_names = {d["metadata"]["name"] for _, d in deployments}
hpas = of_kind("HorizontalPodAutoscaler")
if not hpas:
    fail("no HorizontalPodAutoscaler")
for f, hpa in hpas:
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    if ref.get("kind") != "Deployment" or ref.get("name") not in dep_names:
        fail(f"HPA {hpa['metadata']['name']}: target {ref} is not a Deployment here")
    if not 1 <= spec.get("minReplicas", 1) <= spec.get("maxReplicas", 0):
        fail(f"HPA {hpa['metadata']['name']}: bad min/maxReplicas")
    if not any(m.get("type") == "Resource" and m["resource"].get("name") == "cpu"
               for m in spec.get("metrics") or []):
        fail(f"HPA {hpa['metadata']['name']}: no CPU metric")
for f, pdb in of_kind("PodDisruptionBudget"):
    if not pods_matching(((pdb.get("spec") or {}).get("selector") or {})
                         .get("matchLabels") or {}):
        fail(f"PDB {pdb['metadata']['name']}: selector matches no Deployment")

redis_url = cdata.get("IMPULSE_CLUSTER_REDIS", "")
m = re.fullmatch(r"redis://([^:/]+):(\d+)/?", redis_url)
if not m:
    fail(f"ConfigMap: IMPULSE_CLUSTER_REDIS {redis_url!r} is not redis://HOST:PORT")
else:
    host, port = m.group(1).split(".")[0], int(m.group(2))
    svc = services.get(host)
    if svc is None:
        note(f"IMPULSE_CLUSTER_REDIS host {host} is not a Service here (external Redis)")
    elif not any(q.get("port") == port for q in svc["spec"].get("ports") or []):
        fail(f"Service {host} has no port {port} for IMPULSE_CLUSTER_REDIS")

# --- compose -----------------------------------------------------------------
compose_file = path("deploy", "compose.yaml")
docs = load_all(compose_file)
compose = docs[0] if docs else {}
services_c = compose.get("services") or {}
declared_volumes = set((compose.get("volumes") or {}).keys())
declared_secrets = compose.get("secrets") or {}
with open(path(".gitignore")) as f:
    gitignored = {line.strip().lstrip("/") for line in f if line.strip()}


def compose_path(rel):
    """A path in compose.yaml (relative to deploy/) -> repository path."""
    return os.path.normpath(os.path.join("deploy", rel))


def check_file_ref(where, rel):
    repo_rel = compose_path(rel)
    if repo_rel == "deploy/haproxy.cfg" and not os.path.exists(path(repo_rel)):
        note(f"{where}: {repo_rel} is absent in this checkout (owned by the load "
             "balancer work); not checked")
        return
    if not os.path.exists(path(repo_rel)):
        fail(f"{where}: {repo_rel} does not exist")


replicas = []
for name, svc in services_c.items():
    where = f"compose service {name}"
    for dep in (svc.get("depends_on") or {}):
        if dep not in services_c:
            fail(f"{where}: depends_on unknown service {dep}")
    build = svc.get("build")
    if build:
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        if not os.path.exists(path(compose_path(os.path.join(context, dockerfile)))):
            fail(f"{where}: build {context}/{dockerfile} does not exist")
    for v in svc.get("volumes") or []:
        source = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
        if source.startswith((".", "/")):
            check_file_ref(where, source)
        elif source not in declared_volumes:
            fail(f"{where}: volume {source} is not declared")
    for s in svc.get("secrets") or []:
        s = s if isinstance(s, str) else s.get("source")
        if s not in declared_secrets:
            fail(f"{where}: secret {s} is not declared")
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    image = str(svc.get("image", ""))
    if "IMPULSE_CLUSTER_REDIS" in env or image.split(":")[0] == "impulse":
        replicas.append(name)
        check_env_names(where, env)
        if env.get("IMPULSE_INSECURE"):
            fail(f"{where}: IMPULSE_INSECURE set (replicas are published through haproxy)")
        if not env.get("IMPULSE_AUTH_TOKENS"):
            fail(f"{where}: no IMPULSE_AUTH_TOKENS: it would refuse to bind 0.0.0.0")
        m = re.fullmatch(r"redis://([^:/]+):(\d+)/?", str(env.get("IMPULSE_CLUSTER_REDIS", "")))
        if not m or m.group(1) not in services_c:
            fail(f"{where}: IMPULSE_CLUSTER_REDIS does not name a compose service")
        drain = int(env.get("IMPULSE_DRAIN_TIMEOUT_MS", 5000)) / 1000.0
        try:
            grace = duration_seconds(svc.get("stop_grace_period", "10s"))
        except ValueError as e:
            fail(f"{where}: {e}")
            grace = 0
        if not grace > drain:
            fail(f"{where}: stop_grace_period {grace:g} s is not above the drain "
                 f"timeout {drain:g} s")
        if svc.get("stop_signal", "SIGTERM") != "SIGTERM":
            fail(f"{where}: stop_signal is not SIGTERM")
        test = (svc.get("healthcheck") or {}).get("test") or []
        text = " ".join(test) if isinstance(test, list) else str(test)
        if not re.search(r"/(healthz|readyz)\b", text) or "impulse-healthcheck" not in text:
            fail(f"{where}: healthcheck does not run impulse-healthcheck on /healthz or /readyz")
        ports = {str(p) for p in (svc.get("expose") or [])}
        for want in (env.get("IMPULSE_GRPC_PORT"), env.get("IMPULSE_HTTP_PORT")):
            if want not in ports:
                fail(f"{where}: port {want} not in expose {sorted(ports)}")
        if "/var/lib/impulse" != env.get("IMPULSE_DATA_DIR") or not any(
                str(v).endswith(":" + env.get("IMPULSE_DATA_DIR", "?"))
                for v in svc.get("volumes") or []):
            fail(f"{where}: IMPULSE_DATA_DIR is not on a volume")
if len(replicas) < 3:
    fail(f"compose: {len(replicas)} impulsed replicas, want 3")
if not any("redis" in str(s.get("image", "")) for s in services_c.values()):
    fail("compose: no Redis service")
lb = [n for n, s in services_c.items() if "haproxy" in str(s.get("image", ""))]
if not lb:
    fail("compose: no haproxy service")
else:
    svc = services_c[lb[0]]
    published = {str(p).split(":")[-1] for p in svc.get("ports") or []}
    for want in ("8080", "50051"):
        if want not in published:
            fail(f"compose: haproxy does not publish {want}")
    if not any(str(v).startswith("./haproxy.cfg:") for v in svc.get("volumes") or []):
        fail("compose: haproxy does not mount ./haproxy.cfg")
    for r in replicas:
        if r not in (svc.get("depends_on") or {}):
            fail(f"compose: haproxy does not depend on {r}")
for name, s in declared_secrets.items():
    rel = compose_path(s.get("file", ""))
    if not os.path.exists(path(rel)):
        if rel in gitignored:
            note(f"compose secret {name}: {rel} is made by the operator (git-ignored)")
        else:
            fail(f"compose secret {name}: {rel} neither exists nor is git-ignored")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print(f"ok: {len(k8s_files)} Kubernetes files ({len(objects)} objects), "
      f"compose with {len(services_c)} services")
