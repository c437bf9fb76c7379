"""Failover end to end, behind an `http` listener under keep-alive load.

1. A backend process is SIGKILLed while client threads send keep-alive GETs.
   It is marked down (seen on the admin /status) within
   interval x fall + timeout + one interval, gets no new request from then
   on, is marked up again after `rise` successes once restarted on the same
   port, and gets traffic again. No client request fails at any point: an
   idempotent request that failed before any response byte is retried on
   another backend (the L7 retry rule).
2. A black-holed backend (its SYNs dropped by an nftables rule inside a
   network namespace this test creates) is marked down within the same bound,
   and requests fail only until then. Exits 77 with the reason when network
   namespaces or nftables are not available here.

Everything runs on 127.0.0.1; every loop is bounded in count and time."""

import datetime
import json
import os
import subprocess
import sys
import threading
import time
import http.client
import urllib.request

from harness import Ringlb, free_port, parse_args, run_tests, wait_until

ARGS = parse_args()
NETNS_ENV = "RINGLB_FAILOVER_IN_NETNS"
SKIP = 77

INTERVAL = 0.2
TIMEOUT = 0.15
RISE = 2
FALL = 2
DOWN_BOUND = INTERVAL * FALL + TIMEOUT + INTERVAL
UP_BOUND = INTERVAL * RISE + TIMEOUT + INTERVAL
MEASURED = []  # (what, value) printed at the end

# A backend in its own process, so that SIGKILL is a real crash: HTTP/1.1
# keep-alive; prints one line per data request ("REQ <time>") so the test can
# see arrivals; /healthz is the check path and is not printed. With "close"
# it answers every request with Connection: close (a new upstream connect per
# request, which the black-hole test needs).
BACKEND_CODE = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, CLOSE = int(sys.argv[1]), sys.argv[2] == "close"

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path != "/healthz":
            sys.stdout.write(f"REQ {time.time():.6f}\n")
            sys.stdout.flush()
        body = f"backend {PORT}\n"
        extra = "Connection: close\r\n" if CLOSE else ""
        self.close_connection = CLOSE
        # One write: a SIGKILL lands before or after the whole response, never
        # between head and body (a cut after the head is not retryable).
        self.wfile.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
                         f"{body}".encode())
    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    def handle_error(self, request, client_address):
        pass  # a health check or a proxy that hung up: not news

server = Server(("127.0.0.1", PORT), Handler)
sys.stdout.write("READY\n")
sys.stdout.flush()
server.serve_forever()
"""


class Backend:
    """One backend process on a fixed port; records the arrival time of each
    data request it printed."""

    def __init__(self, port=None, close=False):
        self.port = port or free_port()
        self.close = close
        self.lock = threading.Lock()
        self.arrivals = []
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-c", BACKEND_CODE, str(self.port),
             "close" if self.close else "keep"], stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "READY":
            raise AssertionError(f"backend on {self.port} did not start")
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            if line.startswith("REQ "):
                with self.lock:
                    self.arrivals.append(float(line.split()[1]))

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def arrivals_between(self, start, end=float("inf")):
        with self.lock:
            return [a for a in self.arrivals if start <= a < end]

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


class Load:
    """Client threads, each with its own keep-alive connection, sending GETs
    in a bounded loop. Records (start, end, ok, detail) per request."""

    def __init__(self, port, clients=4, pause=0.0, limit_s=40, timeout=5):
        self.port, self.pause, self.limit_s, self.timeout = port, pause, limit_s, timeout
        self.stop_flag = False
        self.lock = threading.Lock()
        self.results = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _run(self):
        deadline = time.monotonic() + self.limit_s
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        for _ in range(50000):  # bounded in count and time
            if self.stop_flag or time.monotonic() > deadline:
                break
            start = time.time()
            try:
                conn.request("GET", "/item")
                resp = conn.getresponse()
                body = resp.read()
                ok = resp.status == 200 and body.startswith(b"backend ")
                detail = f"{resp.status} {body[:40]!r}"
            except (OSError, http.client.HTTPException) as e:
                ok, detail = False, f"{type(e).__name__}: {e}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            with self.lock:
                self.results.append((start, time.time(), ok, detail))
            time.sleep(self.pause)
        conn.close()

    def count_since(self, t):
        with self.lock:
            return sum(1 for r in self.results if r[0] >= t)

    def failures(self):
        with self.lock:
            return [r for r in self.results if not r[2]]

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(10)


def config(listen_port, admin_port, backends, check="http", retries=2, connect_timeout="1s"):
    backend_list = ", ".join(f'"{b.address}"' for b in backends)
    return f"""
[global]
workers = 2
drain_timeout = "2s"
log_level = "{os.environ.get('RINGLB_TEST_LOG_LEVEL', 'info')}"  # debug shows each retry

[admin]
bind = "127.0.0.1:{admin_port}"

[pools.app]
backends = [{backend_list}]
connect_timeout = "{connect_timeout}"
retries = {retries}
passive_failures = 0

[pools.app.health]
check = "{check}"
interval = "{int(INTERVAL * 1000)}ms"
timeout = "{int(TIMEOUT * 1000)}ms"
rise = {RISE}
fall = {FALL}
{'path = "/healthz"' if check == "http" else ""}

[listeners.web]
bind = "127.0.0.1:{listen_port}"
mode = "http"
pool = "app"
"""


def status(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/status", timeout=2) as r:
        return json.load(r)


def backend_status(admin_port, backend):
    for pool in status(admin_port)["pools"]:
        for b in pool["backends"]:
            if b["address"] == backend.address:
                return b
    raise AssertionError(f"{backend.address} not in /status")


def iso_time(text):
    stamp = datetime.datetime.strptime(text.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def wait_state(admin_port, backend, state, timeout):
    """Polls /status until the backend is in `state`; returns its entry and the
    time the change was logged (last_change)."""
    found = {}

    def seen():
        b = backend_status(admin_port, backend)
        if b["state"] == state and b["last_change"]:
            found.update(b)
            return True
        return False

    wait_until(seen, timeout=timeout, what=f"{backend.address} {state}")
    return found, iso_time(found["last_change"])


def cleanup(lb, load, backends):
    if load:
        load.stop()
    if lb:
        lb.close()
    for b in backends:
        b.kill()


def start_lb(backends, **kw):
    port, admin = free_port(), free_port()
    lb = Ringlb(ARGS.ringlb, config(port, admin, backends, **kw), [port, admin])
    for b in backends:
        wait_state(admin, b, "up", timeout=5)
    return lb, port, admin


def test_a_killed_backend_fails_over_without_a_failed_request():
    backends = [Backend() for _ in range(3)]
    lb = load = None
    try:
        lb, port, admin = start_lb(backends)
        load = Load(port)
        victim = backends[1]
        wait_until(lambda: len(victim.arrivals_between(0)) >= 20, timeout=5,
                   what="traffic on the victim")
        at_kill = backend_status(admin, victim)
        killed = time.time()
        victim.kill()
        entry, down_at = wait_state(admin, victim, "down", timeout=5)
        detection = down_at - killed
        MEASURED.append(("killed backend marked down (s)", detection))
        assert detection <= DOWN_BOUND, f"{detection:.3f}s > {DOWN_BOUND:.3f}s ({entry})"

        # From the down state on, the victim gets no request: ringlb neither
        # counts one for it nor tries to connect to it. The workers apply the
        # new state from their mailboxes: requests that picked the victim
        # just before (a few, under the sanitizers) settle within the next
        # 20 requests.
        MEASURED.append(("requests sent to the dead backend before it was down (then retried)",
                         entry["requests"] - at_kill["requests"]))
        down_seen = time.time()
        wait_until(lambda: load.count_since(down_seen) >= 20, timeout=10, what="20 requests")
        entry = backend_status(admin, victim)
        before = (entry["requests"], entry["connect_failures"])
        settled = time.time()
        wait_until(lambda: load.count_since(settled) >= 200, timeout=10, what="200 requests")
        after = backend_status(admin, victim)
        assert (after["requests"], after["connect_failures"]) == before, (before, after)

        starting = time.time()
        victim.start()
        restarted = time.time()  # listening again (start() waits for it)
        entry, up_at = wait_state(admin, victim, "up", timeout=5)
        recovery = up_at - restarted
        MEASURED.append(("restarted backend marked up (s)", recovery))
        assert recovery <= UP_BOUND, f"{recovery:.3f}s > {UP_BOUND:.3f}s ({entry})"
        assert f"{RISE} consecutive successful http checks" in entry["last_reason"], entry
        early = victim.arrivals_between(starting, up_at - 0.01)
        assert not early, f"{len(early)} requests reached it before it was marked up"
        wait_until(lambda: len(victim.arrivals_between(up_at)) >= 20, timeout=5,
                   what="traffic on the restarted backend")
        load.stop()
        failed = load.failures()
        MEASURED.append(("requests during kill and restart", len(load.results)))
        MEASURED.append(("failed requests", len(failed)))
        detail = [(round(s - killed, 3), d) for s, _, _, d in failed[:10]]
        log = [line for line in lb.stderr().splitlines() if victim.address in line][-20:]
        assert not failed, (f"{len(failed)} of {len(load.results)} failed (s from kill): {detail}\n"
                            "ringlb's lines about the victim:\n" + "\n".join(log))
        assert lb.stop() == 0
    finally:
        cleanup(lb, load, backends)


def black_hole(port):
    """Drops SYNs to 127.0.0.1:port (nftables, this network namespace only)."""
    rules = f"""
table inet ringlb_failover {{
  chain out {{
    type filter hook output priority 0; policy accept;
    ip daddr 127.0.0.1 tcp dport {port} tcp flags & (syn | ack) == syn drop
  }}
}}
"""
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)


def test_a_black_holed_backend_is_marked_down_and_requests_fail_only_until_then():
    # Backends close after each answer, so every request needs a new connect,
    # and retries = 0, so a request sent to the black hole fails (504/502)
    # instead of being retried: failures are visible and countable.
    backends = [Backend(close=True) for _ in range(3)]
    lb = load = None
    try:
        lb, port, admin = start_lb(backends, retries=0, connect_timeout="300ms")
        load = Load(port, timeout=3)
        victim = backends[2]
        wait_until(lambda: len(victim.arrivals_between(0)) >= 20, timeout=5,
                   what="traffic on the victim")
        before = time.time()
        black_hole(victim.port)
        holed = time.time()  # detection counts from the rule being in place
        entry, down_at = wait_state(admin, victim, "down", timeout=5)
        detection = down_at - holed
        MEASURED.append(("black-holed backend marked down (s)", detection))
        assert detection <= DOWN_BOUND, f"{detection:.3f}s > {DOWN_BOUND:.3f}s ({entry})"
        settled = time.time()
        wait_until(lambda: load.count_since(settled) >= 200, timeout=10, what="200 requests")
        load.stop()
        failed = load.failures()
        during = [r for r in failed if before <= r[0] < down_at]
        late = [(round(r[0] - down_at, 3), r[3]) for r in failed if r[0] >= down_at]
        early = [r for r in failed if r[0] < before]
        MEASURED.append(("requests failed between black hole and down", len(during)))
        MEASURED.append(("requests started after down", load.count_since(down_at)))
        assert not early, f"{len(early)} failed before the black hole"
        assert not late, f"{len(late)} started after the down state and failed: {late[:10]}"
        assert lb.stop() == 0
    finally:
        cleanup(lb, load, backends)


def run_black_hole_in_netns():
    """Runs this file again inside a new network namespace (only the black-hole
    test), so the nftables rule and every socket stay private to it.
    Returns its exit code (77 = cannot run here)."""
    prefix = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    try:
        probe = subprocess.run(prefix + ["sh", "-c", "ip link set lo up && nft list ruleset"],
                               capture_output=True, text=True, timeout=30)
        reason = probe.stderr.strip() if probe.returncode != 0 else ""
    except OSError as e:
        reason = str(e)
    if reason:
        print(f"SKIP black hole: no network namespace with lo and nftables here "
              f"({' '.join(prefix)}: {reason})", flush=True)
        return SKIP
    env = dict(os.environ, **{NETNS_ENV: "1"})
    cmd = prefix + [sys.executable, os.path.abspath(__file__), "--ringlb", ARGS.ringlb]
    return subprocess.run(cmd, env=env, timeout=120).returncode


def print_measured():
    for what, value in MEASURED:
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"measured: {what}: {shown}", flush=True)


def main_in_netns():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    try:
        run_tests([("black-holed backend down in bound, failures only until then",
                    test_a_black_holed_backend_is_marked_down_and_requests_fail_only_until_then)])
    finally:
        print_measured()


def main():
    passed = False
    try:
        run_tests([("killed backend: down in bound, no failed request, back up",
                    test_a_killed_backend_fails_over_without_a_failed_request)])
    except SystemExit as e:
        passed = e.code == 0
    finally:
        print_measured()
    netns = run_black_hole_in_netns()
    sys.exit(1 if not passed or netns not in (0, SKIP) else netns)


if __name__ == "__main__":
    if os.environ.get(NETNS_ENV):
        main_in_netns()
    else:
        main()
