"""Handshake floods on TLS listeners: neither many stalled, half-done
handshakes nor a burst of full ones starve the clients whose handshakes
finish. One ringlb (2 workers) with an http listener and a tcp listener, both
with TLS and handshake_timeout = "2s" (6 s in an ASan build), in front of a
plain HTTP backend and an echo backend. Stalled clients are raw sockets that sent the first bytes of a
ClientHello; the burst is `openssl s_time -new` processes (full handshakes in
a loop, in their own processes so they load ringlb, not this one's GIL).
Every loop is bounded in count and time; everything on 127.0.0.1."""

import http.server
import os
import resource
import socket
import socketserver
import ssl
import statistics
import subprocess
import tempfile
import threading
import time

from harness import (EchoServer, Ringlb, free_port, is_sanitized, metrics_text, parse_args,
                     read_http_response, run_module, wait_until)

ARGS = parse_args()
CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "certs")
CA = os.path.join(CERTS, "demo.pem")
NAME = "app.example.com"
SLOW = 3 if is_sanitized(ARGS.ringlb) else 1  # an ASan build is 2-3x slower
# Long enough that the stalled connections are all open and the good clients
# done before the first one times out, also in an ASan build on a busy machine.
HANDSHAKE_TIMEOUT = 2 * SLOW


def raise_nofile():
    """Lifts this process's soft RLIMIT_NOFILE to the hard limit (ringlb
    raises its own at start) and returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


# 1,000 stalled clients, fewer if the descriptors are not there (with room
# for the backends' threads, the good clients and ringlb's own).
STALLED = max(100, min(1000, (raise_nofile() - 300) // 2 // 2 * 2))
GOOD = 50        # sequential good requests while the stalled clients wait
MEASURED = 40    # sequential measured requests during the burst
FLOODERS = 8     # `openssl s_time -new` processes
FLOOD_SECONDS = 30  # each flooder's own bound; stopped as soon as the measurement is done


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body are two writes

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"backend {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Backend(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128


BACKEND = Backend(("127.0.0.1", 0), Handler)
threading.Thread(target=BACKEND.serve_forever, daemon=True).start()
ECHO = EchoServer()
WEB = free_port()
STREAM = free_port()
ADMIN = free_port()

CONFIG = f"""
[global]
workers = 2
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{ADMIN}"

[pools.web]
backends = ["127.0.0.1:{BACKEND.server_address[1]}"]

[pools.echo]
backends = ["127.0.0.1:{ECHO.port}"]

[listeners.web]
bind = "127.0.0.1:{WEB}"
mode = "http"
pool = "web"
[listeners.web.tls]
handshake_timeout = "{HANDSHAKE_TIMEOUT}s"
certificates = [{{ cert = "{CERTS}/demo.pem", key = "{CERTS}/demo.key" }}]

[listeners.stream]
bind = "127.0.0.1:{STREAM}"
mode = "tcp"
pool = "echo"
[listeners.stream.tls]
handshake_timeout = "{HANDSHAKE_TIMEOUT}s"
certificates = [{{ cert = "{CERTS}/demo.pem", key = "{CERTS}/demo.key" }}]
"""
LB = Ringlb(ARGS.ringlb, CONFIG, ports_to_wait=[WEB, STREAM, ADMIN])


def metrics():
    """{(name, frozenset of label pairs): value} from /metrics."""
    out = {}
    for line in metrics_text(ADMIN).splitlines():
        if not line or line.startswith("#") or "{" not in line:
            continue
        head, value = line.rsplit(" ", 1)
        name, labels = head.split("{", 1)
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p)
        out[(name, frozenset((k, v.strip('"')) for k, v in pairs))] = float(value)
    return out


def metric(name, **labels):
    """The sum of name's samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, got), v in metrics().items() if n == name and want <= got)


def handshakes(listener, result, **labels):
    return metric("ringlb_tls_handshakes_total", listener=listener, result=result, **labels)


def active(listener):
    return metric("ringlb_connections_active", listener=listener)


def client_context():
    return ssl.create_default_context(cafile=CA)


def client_hello():
    """A real ClientHello, made in memory by Python's ssl."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context().wrap_bio(incoming, outgoing, server_hostname=NAME)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def https_get(ctx, path, session=None, timeout=10.0):
    """One GET on a new TLS connection to the http listener (offering
    `session` if given); returns (seconds, resumed, session). Raises on any
    failure, a wrong answer included."""
    start = time.monotonic()
    raw = socket.create_connection(("127.0.0.1", WEB), timeout=timeout)
    # TCP_NODELAY, as browsers do: with Nagle a resumed TLS 1.3 handshake
    # (the client's Finished, then the request: two small writes) waits out
    # the peer's delayed ACK, 40 ms on loopback, in the client alone.
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with ctx.wrap_socket(raw, server_hostname=NAME, session=session) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n".encode())
        resp = read_http_response(s, timeout=timeout)
        assert resp.complete and resp.status == 200, resp
        assert resp.body == f"backend {path}".encode(), resp.body
        return time.monotonic() - start, s.session_reused, s.session


def echo_roundtrip(ctx, path, session=None, timeout=10.0):
    """One round trip on a new TLS connection to the tcp listener: the same
    contract as https_get."""
    start = time.monotonic()
    raw = socket.create_connection(("127.0.0.1", STREAM), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with ctx.wrap_socket(raw, server_hostname=NAME, session=session) as s:
        payload = f"ping {path}".encode()
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(4096)
            assert chunk, f"closed after {got!r}"
            got += chunk
        assert got == payload, got
        return time.monotonic() - start, s.session_reused, s.session


LISTENERS = {"web": (WEB, https_get), "stream": (STREAM, echo_roundtrip)}


def figures(latencies):
    if not latencies:
        return "n=0"
    ms = sorted(x * 1000 for x in latencies)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"n={len(ms)} median={statistics.median(ms):.1f}ms p90={p90:.1f}ms max={ms[-1]:.1f}ms"


def run_clients(request, count, session=None, resume_every_other=False, within=20.0):
    """count sequential requests, each on its own connection (every other
    one offering the last session with resume_every_other); stops issuing
    them after `within` seconds. Returns the latencies of the full and of
    the resumed handshakes that succeeded, the failures as (i, error) (the
    requests never issued included) and how many offers were accepted."""
    ctx = client_context()
    deadline = time.monotonic() + within * SLOW
    full, resumed, failures, reused = [], [], [], 0
    for i in range(count):
        if time.monotonic() > deadline:
            failures.append((i, f"not issued: {count - i} left after {within * SLOW:.0f}s"))
            break
        offer = session if resume_every_other and i % 2 else None
        try:
            seconds, was_reused, got = request(ctx, f"/c{i}", session=offer, timeout=5.0 * SLOW)
        except Exception as e:  # noqa: BLE001 - every failure is reported by the caller
            failures.append((i, repr(e)))
            continue
        (resumed if offer else full).append(seconds)
        reused += bool(offer and was_reused)
        session = got
    return full, resumed, failures, reused


def stalled_handshakes_do_not_starve_good_clients(listener):
    port, request = LISTENERS[listener]
    timeouts, fulls = handshakes(listener, "timeout"), handshakes(listener, "ok", resumed="false")
    baseline, _, failures, _ = run_clients(request, 10)
    assert not failures, failures
    wait_until(lambda: active(listener) == 0, timeout=5 * SLOW,
               what="the baseline's connections closed")
    hello = client_hello()
    stalled = []
    try:
        start = time.monotonic()
        for i in range(STALLED):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            stalled.append(s)
            s.sendall(hello[:3 + i % 8])  # 3 to 10 bytes of the record, then nothing
        wait_until(lambda: active(listener) >= STALLED, timeout=5 * SLOW,
                   what=f"ringlb to hold the {STALLED} stalled connections")
        opened = time.monotonic() - start
        good, _, failures, _ = run_clients(request, GOOD)
        during = time.monotonic() - start
        # The good requests ran while every stalled connection was open: none
        # has reached its handshake_timeout yet.
        assert handshakes(listener, "timeout") == timeouts, \
            f"the stalled connections started timing out {during:.1f}s in, before the good " \
            f"clients were done (opening them took {opened:.1f}s): no flood to measure against"
        print(f"  {listener}: {STALLED} stalled opened in {opened:.2f}s; good clients idle "
              f"{figures(baseline)}; with the stalled ones open {figures(good)}", flush=True)
        assert not failures, f"{len(failures)} of {GOOD} good requests failed: {failures[:5]}"
        assert max(good) < 1.0 * SLOW, figures(good)
        assert statistics.median(good) < 0.2 * SLOW, figures(good)
        # Then handshake_timeout closes each stalled one, counted once.
        wait_until(lambda: handshakes(listener, "timeout") >= timeouts + STALLED,
                   timeout=10 * SLOW, what=f"{STALLED} handshake timeouts counted")
        closed_after = time.monotonic() - start
        for s in stalled:
            s.settimeout(5)
            try:
                assert s.recv(100) == b"", "a stalled client got an answer"
            except ConnectionResetError:
                pass
        wait_until(lambda: active(listener) == 0, timeout=5 * SLOW, what="no connection left")
        assert handshakes(listener, "timeout") == timeouts + STALLED
        assert handshakes(listener, "ok", resumed="false") == fulls + 10 + GOOD
        assert closed_after >= HANDSHAKE_TIMEOUT, \
            f"closed after {closed_after:.2f}s: before handshake_timeout"
    finally:
        for s in stalled:
            s.close()


def a_burst_of_full_handshakes_does_not_starve_other_clients(listener):
    port, request = LISTENERS[listener]
    # A session to resume, and the latencies with nothing else going on.
    _, _, session = request(client_context(), "/first")
    idle, idle_resumed, failures, _ = run_clients(request, 20, session=session,
                                                  resume_every_other=True)
    assert not failures, failures
    def started():  # every full handshake, and those the flooders' exit cut short
        return handshakes(listener, "ok", resumed="false") + handshakes(listener, "failed")

    before = started()
    logs = [tempfile.TemporaryFile() for _ in range(FLOODERS)]
    flooders = [subprocess.Popen(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new",
                                  "-time", str(FLOOD_SECONDS)],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                for log in logs]
    try:
        wait_until(lambda: started() >= before + 50 * FLOODERS, timeout=10 * SLOW,
                   what="the burst of full handshakes to reach ringlb")
        flood_start, cpu_start = time.monotonic(), LB.cpu_seconds()
        count_start = handshakes(listener, "ok", resumed="false")
        full, resumed, failures, reused = run_clients(request, MEASURED, session=session,
                                                      resume_every_other=True)
        took = time.monotonic() - flood_start
        flood_rate = (handshakes(listener, "ok", resumed="false") - count_start) / took
        cpu = (LB.cpu_seconds() - cpu_start) / took
        gone = [p.returncode for p in flooders if p.poll() is not None]
        if gone:
            logs[0].seek(0)
            raise AssertionError(f"flooders ended during the measurement (exit codes {gone}): "
                                 f"no flood to measure against; {logs[0].read()[-500:]!r}")
        print(f"  {listener}: {FLOODERS} flooders, {flood_rate:.0f} full handshakes/s, ringlb "
              f"at {cpu:.0%} of a core, for {took:.1f}s. Measured client idle: full "
              f"{figures(idle)}, resumed {figures(idle_resumed)}; during the burst: full "
              f"{figures(full)}, resumed {figures(resumed)} ({reused} of {len(resumed)} "
              "resumed)", flush=True)
        assert not failures, f"{len(failures)} of {MEASURED} measured requests failed: " \
            f"{failures[:5]}"
        everything = full + resumed
        assert max(everything) < 2.0 * SLOW, f"full {figures(full)}, resumed {figures(resumed)}"
        assert statistics.median(everything) < 0.5 * SLOW, \
            f"full {figures(full)}, resumed {figures(resumed)}"
        assert reused == len(resumed), f"{len(resumed) - reused} tickets were not accepted"
    finally:
        for p in flooders:
            if p.poll() is None:
                p.terminate()
        for p in flooders:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    wait_until(lambda: active(listener) == 0, timeout=10 * SLOW,
               what="the burst's connections closed")


def test_stalled_handshakes_do_not_starve_good_clients():
    stalled_handshakes_do_not_starve_good_clients("web")


def test_stalled_handshakes_do_not_starve_good_clients_on_a_tcp_listener():
    stalled_handshakes_do_not_starve_good_clients("stream")


def test_a_burst_of_full_handshakes_does_not_starve_other_clients():
    a_burst_of_full_handshakes_does_not_starve_other_clients("web")


def test_a_burst_of_full_handshakes_does_not_starve_other_clients_on_a_tcp_listener():
    a_burst_of_full_handshakes_does_not_starve_other_clients("stream")


def test_zz_sigterm_exits_zero():
    assert LB.stop(timeout=10) == 0, LB.stderr()
    assert "Assertion" not in LB.stderr() and "ERROR: AddressSanitizer" not in LB.stderr(), \
        LB.stderr()


if __name__ == "__main__":
    run_module(globals(), LB.close, BACKEND.shutdown, ECHO.stop)
