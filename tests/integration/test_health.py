"""The health checker end to end: real ringlb (tcp listener) in front of three
python backends under a bounded loop of client connections. A backend that
dies (or, with check = "http", hangs) is marked down within
interval x fall + timeout (+ one interval for jitter), judged from the
timestamp of ringlb's log line; from then on it gets no new connection.
Restarted on the same port it is marked up again after `rise` successes and
gets traffic again."""

import datetime
import re
import socket
import threading
import time

from harness import Ringlb, free_port, parse_args, run_tests, wait_until

ARGS = parse_args()

INTERVAL = 0.2
TIMEOUT = 0.15
RISE = 2
FALL = 2
DOWN_BOUND = INTERVAL * FALL + TIMEOUT + INTERVAL
UP_BOUND = INTERVAL * RISE + TIMEOUT + INTERVAL
MEASURED = []  # (what, seconds) printed at the end


class Backend:
    """A backend on a fixed port. A connection whose first bytes are an HTTP
    GET is a health check (answered 200 unless hanging); any other is data
    (echoed, and counted with its arrival time)."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.data_arrivals = []
        self.hanging = False
        self.conns = []
        self.sock = None
        self.port = port
        self.start()

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, args=(self.sock,), daemon=True).start()

    def kill(self):
        """Like a SIGKILL: the port refuses connections, open ones are reset."""
        self.sock.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
            except OSError:
                pass

    def data_since(self, t):
        with self.lock:
            return sum(1 for a in self.data_arrivals if a >= t)

    def _accept_loop(self, sock):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            first = conn.recv(4096)
            if not first:
                return  # a tcp check: connect and close
            if first.startswith(b"GET "):
                if not self.hanging:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                else:
                    conn.recv(4096)  # never answers; returns when the prober gives up
                return
            with self.lock:
                self.data_arrivals.append(time.time())
            if self.hanging:
                conn.recv(4096)
                return
            data = first
            while data:
                conn.sendall(data)
                data = conn.recv(4096)
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                if conn in self.conns:
                    self.conns.remove(conn)


class Load:
    """Client connections in a bounded loop: each sends a line, expects it
    back, closes. Records (time, ok) per connection."""

    def __init__(self, port, clients=3):
        self.port = port
        self.stop_flag = False
        self.results = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _one(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"ping\n")
                return s.recv(64) == b"ping\n"
        except OSError:
            return False

    def _run(self):
        deadline = time.monotonic() + 30
        for _ in range(20000):  # bounded in count and time
            if self.stop_flag or time.monotonic() > deadline:
                return
            started = time.time()
            ok = self._one()
            with self.lock:
                self.results.append((started, ok))
            time.sleep(0.005)  # a steady, modest rate

    def failures_since(self, t):
        with self.lock:
            return sum(1 for started, ok in self.results if started >= t and not ok)

    def count_since(self, t):
        with self.lock:
            return sum(1 for started, _ in self.results if started >= t)

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(5)


def config(listen_port, backends, check, extra_health=""):
    backend_list = ", ".join(f'"127.0.0.1:{b.port}"' for b in backends)
    return f"""
[global]
workers = 2
drain_timeout = "2s"

[pools.app]
backends = [{backend_list}]
connect_timeout = "1s"
retries = 0
passive_failures = 0

[pools.app.health]
check = "{check}"
interval = "{int(INTERVAL * 1000)}ms"
timeout = "{int(TIMEOUT * 1000)}ms"
rise = {RISE}
fall = {FALL}
{extra_health}

[listeners.front]
bind = "127.0.0.1:{listen_port}"
mode = "tcp"
pool = "app"
"""


LINE = re.compile(r"^(\S+Z) +\w+ +health: pool (\S+) backend (\S+): (\w+) -> (\w+): (.*)$")


def transitions(lb):
    """(wall time, backend, from, to, reason) for every logged state change."""
    out = []
    for line in lb.stderr().splitlines():
        m = LINE.match(line.strip())
        if m:
            stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
            when = stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
            out.append((when, m.group(3), m.group(4), m.group(5), m.group(6)))
    return out


def wait_transition(lb, backend, to, after, timeout):
    address = f"127.0.0.1:{backend.port}"
    found = []

    def seen():
        found[:] = [t for t in transitions(lb) if t[1] == address and t[3] == to and t[0] >= after - 0.01]
        return bool(found)

    wait_until(seen, timeout=timeout, what=f"{address} -> {to}\n{lb.stderr()}")
    return found[0]


def start(backends, check):
    port = free_port()
    lb = Ringlb(ARGS.ringlb, config(port, backends, check), [port])
    for b in backends:
        wait_transition(lb, b, "up", 0, timeout=5)  # first checks: unknown -> up
    return lb, port


def test_a_killed_backend_is_marked_down_in_bound_and_back_up_after_a_restart():
    backends = [Backend() for _ in range(3)]
    lb, port = start(backends, "tcp")
    load = Load(port)
    try:
        victim = backends[1]
        wait_until(lambda: victim.data_since(0) > 0, timeout=5, what="traffic on every backend")
        killed = time.time()
        victim.kill()
        when, _, old, _, reason = wait_transition(lb, victim, "down", killed, timeout=5)
        detection = when - killed
        MEASURED.append(("tcp check, killed backend marked down", detection))
        assert old == "up", old
        assert detection <= DOWN_BOUND, f"{detection:.3f}s > {DOWN_BOUND:.3f}s ({reason})"
        assert "connect: Connection refused" in reason, reason

        # From the log line on, no client connection fails (retries = 0, so a
        # connection sent to the dead backend would fail).
        settled = time.time()
        wait_until(lambda: load.count_since(settled) >= 100, timeout=10, what="100 connections")
        assert load.failures_since(when + 0.02) == 0, load.failures_since(when + 0.02)

        restarted = time.time()
        victim.start()
        when_up, _, old, _, reason = wait_transition(lb, victim, "up", restarted, timeout=5)
        recovery = when_up - restarted
        MEASURED.append(("tcp check, restarted backend marked up", recovery))
        assert old == "down", old
        assert recovery <= UP_BOUND, f"{recovery:.3f}s > {UP_BOUND:.3f}s ({reason})"
        assert f"{RISE} consecutive successful tcp checks" in reason, reason
        wait_until(lambda: victim.data_since(when_up) >= 5, timeout=5, what="traffic again")
        assert lb.stop() == 0
    finally:
        load.stop()
        lb.close()
        for b in backends:
            b.kill()


def test_an_http_check_marks_a_backend_that_never_answers_down_in_bound():
    backends = [Backend() for _ in range(3)]
    lb, port = start(backends, "http")
    load = Load(port)
    try:
        victim = backends[0]
        wait_until(lambda: victim.data_since(0) > 0, timeout=5, what="traffic on every backend")
        hung = time.time()
        victim.hanging = True
        when, _, old, _, reason = wait_transition(lb, victim, "down", hung, timeout=5)
        detection = when - hung
        MEASURED.append(("http check, hanging backend marked down", detection))
        assert old == "up", old
        assert detection <= DOWN_BOUND, f"{detection:.3f}s > {DOWN_BOUND:.3f}s ({reason})"
        assert "waiting for the status line" in reason, reason
        settled = time.time()
        wait_until(lambda: load.count_since(settled) >= 100, timeout=10, what="100 connections")
        assert victim.data_since(when + 0.02) == 0, "the hanging backend still got connections"

        victim.hanging = False
        answered = time.time()
        when_up, _, _, _, reason = wait_transition(lb, victim, "up", answered, timeout=5)
        MEASURED.append(("http check, answering again marked up", when_up - answered))
        assert when_up - answered <= UP_BOUND, reason
        assert lb.stop() == 0
    finally:
        load.stop()
        lb.close()
        for b in backends:
            b.kill()


def test_a_reload_keeps_a_down_backend_out_of_service():
    backends = [Backend() for _ in range(3)]
    lb, port = start(backends, "tcp")
    load = None
    try:
        victim = backends[2]
        killed = time.time()
        victim.kill()
        when, *_ = wait_transition(lb, victim, "down", killed, timeout=5)
        load = Load(port)  # under load: a reload must not let one connection reach it
        wait_until(lambda: load.count_since(when) >= 30, timeout=10, what="30 connections")
        # The same pool with another rise: a changed pool, rebuilt on reload.
        lb.write_config(config(port, backends, "tcp").replace("rise = 2", "rise = 3"))
        lb.reload()
        wait_until(lambda: "reload done" in lb.stderr(), timeout=5, what="reload done")
        reloaded = time.time()
        wait_until(lambda: load.count_since(reloaded) >= 100, timeout=10, what="100 connections")
        with load.lock:
            failed = [round(t - reloaded, 3) for t, ok in load.results if t >= when + 0.02 and not ok]
        assert not failed, f"failures at {failed} s from the reload"
        later = [t for t in transitions(lb) if t[0] > when and t[1].endswith(f":{victim.port}")]
        assert not later, later
        assert lb.stop() == 0
    finally:
        if load:
            load.stop()
        lb.close()
        for b in backends:
            b.kill()


def test_without_a_health_table_passive_failures_eject_a_dead_backend():
    backends = [Backend() for _ in range(3)]
    port = free_port()
    pool = f"""
[global]
workers = 2
drain_timeout = "2s"

[pools.app]
backends = [{", ".join(f'"127.0.0.1:{b.port}"' for b in backends)}]
retries = 0
passive_failures = 3
ejection_time = "1s"

[listeners.front]
bind = "127.0.0.1:{port}"
mode = "tcp"
pool = "app"
"""
    lb = Ringlb(ARGS.ringlb, pool, [port])
    load = Load(port)
    try:
        victim = backends[0]
        killed = time.time()
        victim.kill()
        when, _, old, _, reason = wait_transition(lb, victim, "ejected", killed, timeout=5)
        assert old == "unknown", old
        assert "3 consecutive passive failures" in reason and "ejected for 1s" in reason, reason
        # The ejection ends after 1 s; still dead, it is ejected again, for twice as long.
        again, _, _, _, reason = wait_transition(lb, victim, "ejected", when + 0.5, timeout=5)
        assert again - when >= 1.0, again - when
        assert "ejected for 2s" in reason, reason
        # While it was out, no client connection failed (retries = 0).
        with load.lock:
            during = [ok for t, ok in load.results if when + 0.05 <= t <= when + 0.95]
        assert len(during) >= 30 and all(during), (len(during), during.count(False))
        assert lb.stop() == 0
    finally:
        load.stop()
        lb.close()
        for b in backends:
            b.kill()


if __name__ == "__main__":
    tests = [
        ("killed backend down in bound, restarted back up",
         test_a_killed_backend_is_marked_down_in_bound_and_back_up_after_a_restart),
        ("http check: hanging backend down in bound",
         test_an_http_check_marks_a_backend_that_never_answers_down_in_bound),
        ("reload keeps a down backend out of service", test_a_reload_keeps_a_down_backend_out_of_service),
        ("no health table: passive failures eject",
         test_without_a_health_table_passive_failures_eject_a_dead_backend),
    ]
    try:
        run_tests(tests)
    finally:
        for what, seconds in MEASURED:
            print(f"measured: {what}: {seconds * 1000:.0f} ms", flush=True)
