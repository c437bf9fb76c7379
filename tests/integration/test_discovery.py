"""DNS discovery (`discover`, `refresh`) with the real binary against a DNS
responder on a loopback port (dns_responder.py): backends are added and
removed by changing records, SRV records give ports, weights and backups, a
failed lookup keeps the last good set, backends that stay keep their health,
a request in flight to a removed backend completes, a SIGHUP keeps the
discovered set, and `check` explains bad keys.

Backends are HTTP servers on 127.0.0.2..127.0.0.6 (all loopback), each
answering its own name."""

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from dns_responder import DnsResponder
from harness import (FixedBodyServer, free_port, is_sanitized, parse_args, run_module,
                     start_ringlb, wait_until)

ARGS = parse_args()
SLOW = 3 if is_sanitized(ARGS.ringlb) else 1
HOSTS = [f"127.0.0.{i}" for i in range(2, 7)]


def common_port():
    """A port free on every backend address."""
    for _ in range(50):
        port = free_port(HOSTS[0])
        ok = True
        for host in HOSTS[1:]:
            s = socket.socket()
            try:
                s.bind((host, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise AssertionError("no port free on every backend address")


class SlowFirstServer:
    """An HTTP backend whose answers to /slow come after `delay` seconds."""

    def __init__(self, host, port, name, delay):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.name, self.delay = name.encode(), delay
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                if b" /slow " in head.split(b"\r\n")[0]:
                    time.sleep(self.delay)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(self.name), self.name))

    def stop(self):
        self.sock.close()


class Setup:
    def __init__(self):
        self.dns = DnsResponder()
        self.port = common_port()
        self.backends = {h: FixedBodyServer(h, host=h, port=self.port) for h in HOSTS[:4]}
        self.slow_host = HOSTS[4]
        self.slow = SlowFirstServer(self.slow_host, self.port, self.slow_host, 2.0 * SLOW)
        # SRV targets: one port each, on 127.0.0.2..4
        self.srv_ports = {h: free_port(h) for h in HOSTS[:3]}
        self.srv_backends = {h: FixedBodyServer("srv-" + h, host=h, port=p)
                             for h, p in self.srv_ports.items()}
        self.admin = free_port()
        self.web = free_port()
        self.srv_web = free_port()
        self.dns.add("api.test", [HOSTS[0]], ttl=300)
        for h in HOSTS[:3]:
            self.dns.add(f"{h.replace('.', '-')}.svc.test", [h], ttl=300)
        self.set_srv([(10, 30, HOSTS[0]), (10, 10, HOSTS[1]), (20, 5, HOSTS[2])])
        # The admin endpoint too: it comes up after the listeners accept into their backlog.
        self.lb = start_ringlb(ARGS.ringlb, self.config(),
                               ports=[self.web, self.srv_web, self.admin])

    def set_srv(self, records):
        self.dns.add_srv("_http._tcp.svc.test",
                         [(prio, weight, self.srv_ports[h], f"{h.replace('.', '-')}.svc.test")
                          for prio, weight, h in records], ttl=300)

    def config(self, extra=""):
        return f"""
[global]
workers = 2
drain_timeout = "10s"
resolvers = ["127.0.0.1:{self.dns.port}"]

[admin]
bind = "127.0.0.1:{self.admin}"

[pools.api]
discover = "dns:api.test:{self.port}"
refresh = "1s"
[pools.api.health]
interval = "200ms"
timeout = "150ms"
rise = 1
fall = 1

[pools.svc]
discover = "srv:_http._tcp.svc.test"
refresh = "1s"

[listeners.web]
bind = "127.0.0.1:{self.web}"
mode = "http"
pool = "api"

[listeners.srv]
bind = "127.0.0.1:{self.srv_web}"
mode = "http"
pool = "svc"
{extra}"""

    def get(self, port, path="/", timeout=10):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.read().decode()

    def status_pool(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/status", timeout=5) as r:
            status = json.load(r)
        return next(p for p in status["pools"] if p["name"] == name)

    def addresses(self, name):
        return sorted(b["address"] for b in self.status_pool(name)["backends"])

    def answers(self, port, n=30):
        return {self.get(port) for _ in range(n)}

    def close(self):
        self.lb.close()
        self.dns.stop()
        for b in list(self.backends.values()) + list(self.srv_backends.values()):
            b.stop()
        self.slow.stop()


SETUP = None


def setup():
    global SETUP
    if SETUP is None:
        SETUP = Setup()
    return SETUP


def test_started_with_the_discovered_backend():
    s = setup()
    assert s.addresses("api") == [f"{HOSTS[0]}:{s.port}"], s.lb.stderr()
    assert s.answers(s.web, 10) == {HOSTS[0]}
    assert "discovery: pool api: dns:api.test" in s.lb.stderr()


def test_added_record_adds_a_backend():
    s = setup()
    s.dns.add("api.test", HOSTS[:3], ttl=300)
    want = sorted(f"{h}:{s.port}" for h in HOSTS[:3])
    wait_until(lambda: s.addresses("api") == want, timeout=5 * SLOW, what="three backends")
    wait_until(lambda: s.answers(s.web) == set(HOSTS[:3]), timeout=5 * SLOW,
               what="traffic to all three")
    assert "now gives 3 backends" in s.lb.stderr()


def test_removed_record_removes_a_backend_and_health_stays():
    s = setup()
    # A backend that stays keeps its health: stop one so the checker marks it down.
    s.backends[HOSTS[2]].stop()
    down = f"{HOSTS[2]}:{s.port}"

    def state(address):
        return next(b["state"] for b in s.status_pool("api")["backends"]
                    if b["address"] == address)
    wait_until(lambda: state(down) == "down", timeout=5 * SLOW, what="stopped backend down")
    s.dns.add("api.test", [HOSTS[1], HOSTS[2]], ttl=300)  # HOSTS[0] leaves
    want = sorted(f"{h}:{s.port}" for h in HOSTS[1:3])
    wait_until(lambda: s.addresses("api") == want, timeout=5 * SLOW, what="HOSTS[0] removed")
    assert state(down) == "down", "a backend that stayed lost its health state"
    assert s.answers(s.web) == {HOSTS[1]}
    s.backends[HOSTS[2]] = FixedBodyServer(HOSTS[2], host=HOSTS[2], port=s.port)
    wait_until(lambda: state(down) == "up", timeout=5 * SLOW, what="restarted backend up")


def test_failed_lookup_keeps_the_last_set():
    s = setup()
    before = s.addresses("api")
    s.dns.fail("api.test")
    wait_until(lambda: "looking up dns:api.test" in s.lb.stderr(), timeout=5 * SLOW,
               what="the failure logged")
    assert "keeping the last" in s.lb.stderr()
    assert s.addresses("api") == before
    assert s.get(s.web) in {h for h in HOSTS}
    s.dns.remove("api.test")  # NXDOMAIN: also a failure, the set stays
    time.sleep(1.5)  # a refresh period passes: nothing to wait for, the set must not change
    assert s.addresses("api") == before
    s.dns.fail("api.test", False)
    s.dns.add("api.test", [HOSTS[1], HOSTS[2]], ttl=300)
    wait_until(lambda: "answers again" in s.lb.stderr(), timeout=5 * SLOW, what="recovery")


def test_request_in_flight_to_a_removed_backend_completes():
    s = setup()
    s.dns.add("api.test", [s.slow_host], ttl=300)
    wait_until(lambda: s.addresses("api") == [f"{s.slow_host}:{s.port}"], timeout=5 * SLOW,
               what="only the slow backend")
    result = {}

    def slow_request():
        try:
            result["body"] = s.get(s.web, "/slow", timeout=20)
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = repr(e)
    t = threading.Thread(target=slow_request)
    t.start()
    wait_until(lambda: any(b["active_connections"] > 0 for b in s.status_pool("api")["backends"]),
               timeout=5 * SLOW, what="the slow request reaching its backend")
    s.dns.add("api.test", [HOSTS[1]], ttl=300)
    wait_until(lambda: s.addresses("api") == [f"{HOSTS[1]}:{s.port}"], timeout=5 * SLOW,
               what="slow backend removed")
    assert s.get(s.web) == HOSTS[1]
    t.join(timeout=20 * SLOW)
    assert result.get("body") == s.slow_host, result


def test_srv_records_give_ports_weights_and_backups():
    s = setup()
    pool = s.status_pool("svc")
    got = {b["address"]: (b["weight"], b["backup"]) for b in pool["backends"]}
    want = {f"{HOSTS[0]}:{s.srv_ports[HOSTS[0]]}": (30, False),
            f"{HOSTS[1]}:{s.srv_ports[HOSTS[1]]}": (10, False),
            f"{HOSTS[2]}:{s.srv_ports[HOSTS[2]]}": (5, True)}
    assert got == want, (got, s.lb.stderr())
    counts = {}
    for _ in range(80):
        body = s.get(s.srv_web)
        counts[body] = counts.get(body, 0) + 1
    assert set(counts) == {"srv-" + HOSTS[0], "srv-" + HOSTS[1]}, counts  # the backup idles
    assert counts["srv-" + HOSTS[0]] > counts["srv-" + HOSTS[1]], counts  # weight 30 vs 10


def test_srv_change_removes_a_target():
    s = setup()
    s.set_srv([(10, 30, HOSTS[0]), (20, 5, HOSTS[2])])
    want = sorted([f"{HOSTS[0]}:{s.srv_ports[HOSTS[0]]}", f"{HOSTS[2]}:{s.srv_ports[HOSTS[2]]}"])
    wait_until(lambda: s.addresses("svc") == want, timeout=5 * SLOW, what="SRV target removed")
    assert s.answers(s.srv_web, 20) == {"srv-" + HOSTS[0]}


def test_reload_keeps_the_discovered_set():
    s = setup()
    before = s.addresses("api")
    s.lb.write_config(s.config("# a comment: the file changed\n"))
    s.lb.reload()
    wait_until(lambda: s.lb.stderr().count("reload done") >= 1, timeout=5 * SLOW, what="reload")
    assert s.addresses("api") == before, "a reload emptied the discovered pool"
    assert s.get(s.web) in {h for h in HOSTS}


def test_metrics_and_status_show_discovery():
    s = setup()
    with urllib.request.urlopen(f"http://127.0.0.1:{s.admin}/metrics", timeout=5) as r:
        text = r.read().decode()
    lines = [line for line in text.splitlines() if "discovery" in line]
    assert 'ringlb_discovery_backends{pool="svc"} 2' in lines, lines
    assert 'ringlb_discovery_lookups_total{pool="api",result="failed"}' in text
    with urllib.request.urlopen(f"http://127.0.0.1:{s.admin}/status", timeout=5) as r:
        status = json.load(r)
    d = {p["pool"]: p for p in status["discovery"]}
    assert d["svc"]["target"] == "srv:_http._tcp.svc.test", d
    assert d["api"]["lookups_ok"] > 0 and d["api"]["lookups_failed"] > 0, d


def run_check(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "c.toml")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([ARGS.ringlb, "check", "-c", path], capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stdout + r.stderr


def test_check_explains_bad_discovery_keys():
    listener = '[listeners.w]\nbind = "127.0.0.1:1"\nmode = "http"\npool = "p"\n'
    cases = [
        ('[pools.p]\ndiscover = "dns:a.test:80"\nbackends = ["127.0.0.1:1"]\n',
         "discover and backends exclude each other"),
        ('[pools.p]\nbackends = ["127.0.0.1:1"]\nrefresh = "5s"\n',
         "refresh is only used with discover"),
        ('[pools.p]\ndiscover = "dns:a.test"\n', "needs a port"),
        ('[pools.p]\ndiscover = "a.test:80"\n', "discover must be"),
        ('[pools.p]\ndiscover = "srv:a.test"\n', "needs an SRV name"),
        ('[pools.p]\ndiscover = "dns:a..test:80"\n', "invalid DNS name"),
        ('[pools.p]\ndiscover = "dns:a.test:80"\nrefresh = "100ms"\n', "at least 1s"),
    ]
    for pool, message in cases:
        code, out = run_check(pool + listener)
        assert code != 0 and message in out, (pool, out)
    code, out = run_check('[pools.p]\ndiscover = "srv:_http._tcp.a.test"\nrefresh = "30s"\n'
                          + listener)
    assert code == 0, out


if __name__ == "__main__":
    run_module(globals(), lambda: SETUP and SETUP.close())
