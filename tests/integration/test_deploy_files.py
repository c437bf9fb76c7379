"""The files for running ringlb elsewhere (deploy/) are consistent with ringlb itself.

- deploy/kubernetes: every YAML parses; kustomization.yaml lists them; the Deployment has
  readiness and liveness probes on /healthz at the admin port of the ConfigMap's config, a
  preStop hook, a grace period longer than preStop + drain_timeout + 1 s, the hardening the
  docs promise (non-root, read-only root, no capabilities, the io_uring seccomp profile)
  and a whole-directory ConfigMap mount (a subPath mount never sees updates); the Services
  target the container's ports; the ConfigMap's ringlb.toml passes `ringlb check`; the
  headless Service of backends is the name the ConfigMap's discovered pool asks for.
- deploy/grafana: the dashboard parses and every metric its queries use is one a running
  ringlb exports (read from /metrics of the real binary with http, tcp, udp and forward
  listeners and a cached route; histograms count as _bucket, _sum and _count).
- deploy/docker: both seccomp profiles parse and allow io_uring_setup/enter/register;
  the Kubernetes one uses only OCI runtime-spec fields (containerd ignores Docker's
  includes/excludes, which would turn capability-gated rules into plain allows). The
  Dockerfile has a build and a runtime stage, a non-root USER, the documented ENTRYPOINT,
  and its runtime stage installs the package of every shared library the binary links.
- deploy/systemd/ringlb.service passes `systemd-analyze verify`.

Needs python3-yaml. Reads files and runs `ringlb check` plus one short `ringlb run`."""

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

import yaml

from harness import free_port, metrics_text, parse_args, run_module, start_ringlb

ARGS = parse_args()
REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKER = DEPLOY / "docker"
DASHBOARD = DEPLOY / "grafana" / "ringlb-dashboard.json"
UNIT = DEPLOY / "systemd" / "ringlb.service"
IO_URING = {"io_uring_setup", "io_uring_enter", "io_uring_register"}


def load_k8s():
    """Every object of every YAML file under deploy/kubernetes, as (file name, object)."""
    objects = []
    for path in sorted(K8S.glob("*.yaml")) + sorted(K8S.glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                objects.append((path.name, doc))
    return objects


def k8s_objects(kind):
    return [o for _, o in load_k8s() if o.get("kind") == kind]


def the_deployment():
    deployments = k8s_objects("Deployment")
    assert len(deployments) == 1, f"expected one Deployment, found {len(deployments)}"
    return deployments[0]


def the_container():
    containers = the_deployment()["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return containers[0]


def ringlb_toml():
    """The config text the ConfigMap mounted at /etc/ringlb holds."""
    container = the_container()
    volumes = the_deployment()["spec"]["template"]["spec"]["volumes"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/ringlb")
    volume = next(v for v in volumes if v["name"] == mount["name"])
    name = volume["configMap"]["name"]
    maps = [m for m in k8s_objects("ConfigMap") if m["metadata"]["name"] == name]
    assert maps, f"no ConfigMap named {name}"
    assert "ringlb.toml" in maps[0]["data"], "the ConfigMap has no ringlb.toml key"
    return maps[0]["data"]["ringlb.toml"]


def port_of(address):
    return int(address.rpartition(":")[2])


def container_port(container, port):
    """A probe's or Service's port (a number or a port name) as a number."""
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise AssertionError(f"no container port named {port!r}")


def seconds(duration):
    """A ringlb duration string ("25s", "500ms", "1m") in seconds."""
    m = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", duration)
    assert m, duration
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# ---------------------------------------------------------------- Kubernetes

def test_kubernetes_yaml_parses_and_kustomization_lists_it():
    files = sorted(p.name for p in K8S.glob("*.yaml"))
    assert files, "no YAML under deploy/kubernetes"
    objects = load_k8s()
    for name, obj in objects:
        assert isinstance(obj, dict) and "kind" in obj and "apiVersion" in obj, (name, obj)
    kinds = sorted(o["kind"] for _, o in objects)
    for kind in ("ConfigMap", "Deployment", "Kustomization", "Service"):
        assert kind in kinds, f"no {kind} in deploy/kubernetes: {kinds}"
    kustomization = k8s_objects("Kustomization")[0]
    listed = set(kustomization["resources"])
    assert listed == set(files) - {"kustomization.yaml"}, (listed, files)


def test_deployment_probes_and_stop_sequence():
    deployment = the_deployment()
    assert deployment["spec"]["replicas"] == 2, deployment["spec"]["replicas"]
    container = the_container()
    for probe in ("readinessProbe", "livenessProbe"):
        assert probe in container, f"no {probe}"
        get = container[probe]["httpGet"]
        assert get["path"] == "/healthz", (probe, get)
    pre_stop = container["lifecycle"]["preStop"]
    assert "exec" in pre_stop or "sleep" in pre_stop, pre_stop


def test_probe_port_is_the_admin_port():
    config = tomllib.loads(ringlb_toml())
    bind = config["admin"]["bind"]
    assert not bind.startswith("127."), f"admin.bind {bind} is unreachable to the kubelet"
    container = the_container()
    for probe in ("readinessProbe", "livenessProbe"):
        port = container_port(container, container[probe]["httpGet"]["port"])
        assert port == port_of(bind), (probe, port, bind)
    annotations = the_deployment()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port_of(bind), annotations
    assert annotations["prometheus.io/path"] == "/metrics"
    declared = {p["containerPort"] for p in container["ports"]}
    listeners = {port_of(l["bind"]) for l in config["listeners"].values()}
    assert declared == listeners | {port_of(bind)}, (declared, listeners, bind)


def test_grace_period_covers_prestop_and_drain():
    config = tomllib.loads(ringlb_toml())
    drain = seconds(config["global"]["drain_timeout"])
    pod = the_deployment()["spec"]["template"]["spec"]
    grace = pod["terminationGracePeriodSeconds"]
    pre_stop = the_container()["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        sleep = float(pre_stop["sleep"]["seconds"])
    else:
        command = pre_stop["exec"]["command"]
        assert command[0] in ("sleep", "/bin/sleep", "/usr/bin/sleep"), command
        sleep = float(command[1])
    assert grace > drain, (grace, drain)
    # ringlb exits by drain_timeout + 1 s (docs/errors.md) after the preStop sleep.
    assert grace > sleep + drain + 1, (grace, sleep, drain)


def test_deployment_hardening():
    pod = the_deployment()["spec"]["template"]["spec"]
    container = the_container()
    context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    assert context.get("runAsNonRoot") is True, context
    assert context.get("runAsUser", 10001) != 0, context
    assert context.get("readOnlyRootFilesystem") is True, context
    assert context.get("allowPrivilegeEscalation") is False, context
    assert context["capabilities"]["drop"] == ["ALL"], context
    config = tomllib.loads(ringlb_toml())
    low = [l["bind"] for l in config["listeners"].values() if port_of(l["bind"]) < 1024]
    added = set(context["capabilities"].get("add", []))
    assert added <= {"NET_BIND_SERVICE"}, added
    assert bool(low) == ("NET_BIND_SERVICE" in added), (low, added)
    seccomp = context["seccompProfile"]
    assert seccomp["type"] == "Localhost", seccomp
    assert Path(seccomp["localhostProfile"]).name == "ringlb-io_uring.json", seccomp
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/ringlb")
    assert "subPath" not in mount, "a subPath mount never sees ConfigMap updates"
    assert "resources" in container and "limits" in container["resources"], container
    cpu = str(container["resources"]["limits"]["cpu"])
    if config["global"].get("workers", 0) and not cpu.endswith("m"):
        assert config["global"]["workers"] == int(cpu), (config["global"]["workers"], cpu)


def test_services_target_container_ports():
    container = the_container()
    services = k8s_objects("Service")
    assert services, "no Service"
    labels = the_deployment()["spec"]["template"]["metadata"]["labels"]
    targeted = set()
    for service in services:
        if service["spec"].get("clusterIP") == "None":
            continue  # a headless Service of backends for discovery, not ringlb's own
        selector = service["spec"]["selector"]
        assert all(labels.get(k) == v for k, v in selector.items()), (selector, labels)
        for p in service["spec"]["ports"]:
            targeted.add(container_port(container, p.get("targetPort", p["port"])))
    declared = {p["containerPort"] for p in container["ports"]}
    assert targeted == declared, (targeted, declared)


def test_configmap_config_passes_check():
    text = ringlb_toml()
    config = tomllib.loads(text)
    assert config["global"].get("watch_config") is True, "watch_config = true expected"
    with tempfile.TemporaryDirectory(prefix="ringlb-deploy-") as tmp:
        path = Path(tmp) / "ringlb.toml"
        path.write_text(text)
        r = subprocess.run([ARGS.ringlb, "check", "-c", str(path)], capture_output=True,
                           text=True, timeout=30)
    assert r.returncode == 0 and "config OK" in r.stdout + r.stderr, \
        f"ringlb check of the ConfigMap's ringlb.toml: exit {r.returncode}\n{r.stdout}{r.stderr}"


def test_headless_service_feeds_the_discovered_pool():
    headless = [s for s in k8s_objects("Service") if s["spec"].get("clusterIP") == "None"]
    assert len(headless) == 1, headless
    service = headless[0]
    config = tomllib.loads(ringlb_toml())
    discover = config["pools"]["app"]["discover"]
    kind, name, port = discover.split(":")
    assert kind == "dns" and name.startswith(service["metadata"]["name"] + "."), discover
    assert name.endswith(".svc.cluster.local"), "a fully qualified name: no search domains"
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}, (port, service)
    assert service["spec"]["selector"], "a headless Service selects the backend pods"
    assert "backends" not in config["pools"]["app"], "discover and backends exclude each other"


# ---------------------------------------------------------------- Grafana

def exported_metrics():
    """Every metric name a running ringlb serves: families from # TYPE lines, with a
    histogram's _bucket/_sum/_count series."""
    admin, web, db, dns, egress = (free_port() for _ in range(5))
    config = f"""
[global]
workers = 1
drain_timeout = "1s"
resolvers = ["127.0.0.1:{free_port('127.0.0.1')}"]  # nobody: discovery fails at once

[admin]
bind = "127.0.0.1:{admin}"

[pools.app]
backends = ["127.0.0.1:{free_port()}"]

[pools.discovered]
discover = "dns:nothing.invalid:80"

[listeners.web]
bind = "127.0.0.1:{web}"
mode = "http"
pool = "app"

[[listeners.web.routes]]
path_prefix = "/cached"
pool = "app"
cache = {{ max_size = "1MiB" }}

[listeners.db]
bind = "127.0.0.1:{db}"
mode = "tcp"
pool = "app"

[listeners.dns]
bind = "127.0.0.1:{dns}"
mode = "udp"
pool = "app"

[listeners.egress]
bind = "127.0.0.1:{egress}"
mode = "forward"
"""
    lb = start_ringlb(ARGS.ringlb, config, ports=(admin, web, db, egress))
    try:
        text = metrics_text(admin)
        assert lb.stop() == 0, lb.stderr()
    finally:
        lb.close()
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def dashboard_queries(dashboard):
    """Every PromQL text of the dashboard: panel targets (rows' nested panels too),
    template variable queries and annotation queries."""
    queries = []

    def walk_panels(panels):
        for panel in panels:
            queries.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk_panels(panel.get("panels", []))

    walk_panels(dashboard["panels"])
    for var in dashboard.get("templating", {}).get("list", []):
        q = var.get("query")
        queries.append(q["query"] if isinstance(q, dict) else q or "")
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            queries.append(annotation["expr"])
    return queries


def test_grafana_dashboard_uses_only_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"], dashboard["__inputs"]
    assert 36 <= dashboard["schemaVersion"] <= 41, dashboard["schemaVersion"]
    ids = []

    def walk(panels):
        for panel in panels:
            ids.append(panel["id"])
            if panel.get("type") != "row":
                assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    used = set()
    for query in dashboard_queries(dashboard):
        used.update(re.findall(r"\bringlb_[a-z0-9_]+", query))
    exported = exported_metrics()
    unknown = sorted(used - exported)
    assert not unknown, f"the dashboard queries metrics ringlb does not export: {unknown}"
    # The topics the dashboard promises (docs/deploy.md, Grafana).
    for metric in ("ringlb_requests_total", "ringlb_request_duration_seconds_bucket",
                   "ringlb_connections_active", "ringlb_bytes_total", "ringlb_backend_up",
                   "ringlb_backend_health_changes_total", "ringlb_rejected_total",
                   "ringlb_tls_handshakes_total", "ringlb_cache_requests_total",
                   "ringlb_forward_tunnels_active", "ringlb_worker_wakeups_total"):
        assert metric in used, f"no panel uses {metric}"
    print(f"  the dashboard uses {len(used)} of the {len(exported)} exported series names",
          flush=True)


# ---------------------------------------------------------------- seccomp

def allowed_unconditionally(profile):
    """Names that an ALLOW rule without args, includes or excludes lists."""
    names = set()
    for rule in profile["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args") \
                and not rule.get("includes") and not rule.get("excludes"):
            names.update(rule["names"])
    return names


def check_profile(profile, where):
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO", where
    allowed = allowed_unconditionally(profile)
    assert IO_URING <= allowed, f"{where}: io_uring calls not allowed: {IO_URING - allowed}"
    # A few calls ringlb cannot start without (threads, memory, sockets, signals).
    for name in ("read", "write", "mmap", "munmap", "futex", "bind", "listen", "accept4",
                 "setsockopt", "rt_sigaction", "rt_sigprocmask", "exit_group", "openat"):
        assert name in allowed, f"{where}: {name} is not allowed"
    assert any(r["names"] == ["socket"] and r["action"] == "SCMP_ACT_ALLOW"
               for r in profile["syscalls"]), f"{where}: socket(2) is never allowed"
    for rule in profile["syscalls"]:
        assert rule["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"), (where, rule)
    # Namespaces, mounts and tracing stay behind capabilities (Docker's includes.caps)
    # or are absent, as in the default profile.
    risky = allowed & {"mount", "umount2", "unshare", "setns", "bpf", "clone3", "chroot",
                       "init_module", "reboot", "kcmp", "perf_event_open"}
    assert not risky, f"{where}: allowed without a capability: {sorted(risky)}"


def test_docker_seccomp_profile():
    profile = json.loads((DOCKER / "seccomp-io_uring.json").read_text())
    check_profile(profile, "deploy/docker")
    assert profile.get("archMap"), "the Docker profile maps architectures (archMap)"


def test_kubernetes_seccomp_profile_is_oci_format():
    profile = json.loads((K8S / "seccomp-io_uring.json").read_text())
    check_profile(profile, "deploy/kubernetes")
    assert "SCMP_ARCH_X86_64" in profile["architectures"], profile.get("architectures")
    assert "archMap" not in profile
    for rule in profile["syscalls"]:
        extra = set(rule) - {"names", "action", "errnoRet", "args"}
        assert not extra, f"containerd ignores {sorted(extra)} in a Localhost profile: {rule}"
    # The same allow list as the Docker profile (with its x86 and arm extras) for a
    # container without added capabilities.
    docker = json.loads((DOCKER / "seccomp-io_uring.json").read_text())
    assert allowed_unconditionally(docker) <= allowed_unconditionally(profile)


# ---------------------------------------------------------------- Dockerfile

def dockerfile_instructions():
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        word, _, rest = text.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile():
    instructions = dockerfile_instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert len(froms) == 2, froms
    args = dict(re.match(r"(\w+)=(\S+)", rest).groups()
                for word, rest in instructions if word == "ARG" and "=" in rest)
    for image in froms:
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)),
                      image.split()[0])
        assert base in ("debian:12-slim", "debian:bookworm", "debian:bookworm-slim",
                        "debian:12"), base
    # Instructions of the runtime stage (after the second FROM).
    second = [i for i, (word, _) in enumerate(instructions) if word == "FROM"][1]
    runtime = instructions[second:]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    entry = [rest for word, rest in runtime if word == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["ringlb", "run", "-c",
                                               "/etc/ringlb/ringlb.toml"], entry
    assert any(word == "HEALTHCHECK" for word, _ in runtime), "no HEALTHCHECK"
    assert ("STOPSIGNAL", "SIGTERM") in runtime, "STOPSIGNAL SIGTERM expected"
    exposed = {int(p.split("/")[0]) for word, rest in runtime if word == "EXPOSE"
               for p in rest.split()}
    assert 9900 in exposed, exposed
    assert any(word == "COPY" and "--from=" in rest and "/usr/local/bin/ringlb" in rest
               for word, rest in runtime), "the binary is not copied to /usr/local/bin/ringlb"
    build = instructions[:second]
    assert any("RINGLB_TESTS=OFF" in rest and "RINGLB_BENCH=OFF" in rest
               for word, rest in build if word == "RUN"), "the build stage builds tests"
    # Every shared library of the binary comes from a package the runtime stage installs.
    installed = set()
    for word, rest in runtime:
        if word == "RUN" and "apt-get install" in rest:
            command = rest.split("apt-get install", 1)[1].split("&&")[0]
            installed.update(w for w in shlex.split(command) if not w.startswith("-"))
    assert installed, "the runtime stage installs no packages"
    if shutil.which("dpkg") is None:
        print("  (no dpkg here: the ldd check is skipped)", flush=True)
        return
    # The libraries the binary itself links (its NEEDED entries), where ldd finds them;
    # apt installs what those need in turn.
    ldd = subprocess.run(["ldd", ARGS.ringlb], capture_output=True, text=True, timeout=30)
    found = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd.stdout, flags=re.M))
    readelf = subprocess.run(["readelf", "-d", ARGS.ringlb], capture_output=True, text=True,
                             timeout=30)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", readelf.stdout)
    assert needed, readelf
    libraries = [found[name] for name in needed if name in found]
    assert libraries, ldd
    # The sanitizer build's own runtime libraries are not the release binary's.
    libraries = [lib for lib in libraries if not re.search(r"lib(asan|ubsan|tsan)", lib)]
    paths = sorted(set(libraries) | {os.path.realpath(lib) for lib in libraries})
    r = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True, timeout=60)
    owners = {}  # "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3" -> path: package
    for line in r.stdout.splitlines():
        package, _, path = line.partition(": ")
        owners[path.strip()] = package.split(":")[0]
    packages = {}
    for library in libraries:
        owner = owners.get(library) or owners.get(os.path.realpath(library))
        assert owner, f"no package owns {library}:\n{r.stdout}{r.stderr}"
        packages[library] = owner
    missing = {lib: pkg for lib, pkg in packages.items() if pkg not in installed}
    assert not missing, f"the runtime stage does not install: {missing}"


# ---------------------------------------------------------------- systemd

def test_systemd_unit_verifies():
    assert UNIT.exists(), (f"{UNIT.relative_to(REPO)} does not exist yet (it is written "
                           "beside these files; this check runs once it is there)")
    with tempfile.TemporaryDirectory(prefix="ringlb-unit-") as tmp:
        text = UNIT.read_text()

        def local_binary(m):
            # ExecStart=[prefixes]/path/to/ringlb args -> the binary under test, so that
            # verify finds an executable.
            prefixes, command = m.group(2), m.group(3)
            if Path(command).name != "ringlb":
                return m.group(0)
            return f"{m.group(1)}{prefixes}{os.path.abspath(ARGS.ringlb)}"

        text = re.sub(r"^(Exec\w+=)([-@:+!]*)(\S+)", local_binary, text, flags=re.M)
        unit = Path(tmp) / UNIT.name
        unit.write_text(text)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                           capture_output=True, text=True, timeout=60)
    about_unit = [line for line in (r.stdout + r.stderr).splitlines()
                  if UNIT.name in line or str(unit) in line]
    assert r.returncode == 0 and not about_unit, \
        f"systemd-analyze verify: exit {r.returncode}\n{r.stdout}{r.stderr}"


if __name__ == "__main__":
    run_module(globals())
