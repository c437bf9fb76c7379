"""Drain always ends (issue 14): what SIGTERM does to each kind of open
connection, and how long the process may take to exit.

The contract (CONFIG.md, README): SIGTERM closes the listeners at once; idle
keep-alive connections (client side and pooled upstream side) close at once;
a connection that is in an exchange closes when the exchange ends; the
process exits 0 as soon as nothing is in flight, and whatever is still open,
it exits no later than drain_timeout + 1 s (the abort is logged with counts).
A second SIGTERM aborts at once.

For udp, "in flight" means a session waiting for a reply: a session whose
last datagram got its reply is idle and does not hold the drain.

Each test starts its own ringlb (SIGTERM ends it) and prints the measured
exit time. Everything runs on 127.0.0.1 (and ::1); every wait is bounded."""

import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

from harness import (EchoServer, ScriptedServer, free_port, is_sanitized, parse_args,
                     read_http_request, read_http_response, run_tests, start_ringlb)

ARGS = parse_args()
# The ASan+UBSan build starts, stops and checks its heap more slowly: bounds
# on exit times get this much extra room there (the contract's figure for
# the optimised build is printed beside each measurement).
SLACK = 1.0 if is_sanitized(ARGS.ringlb) else 0.0
LATE = 3.0  # how long past a bound a test keeps waiting, to report how late the exit was
DRAIN_STARTED = "SIGTERM received"  # ringlb's log line once it began draining
CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "certs")
MEASURED = []


# ---------------------------------------------------------------- peers

def http_backend(conn, rfile, server):
    """HTTP/1.1 keep-alive backend. /delay/S answers after S seconds (the
    behaviour of a slow backend, not synchronisation); a target ending in
    ?close answers with Connection: close; an Upgrade request gets 101 and
    then an echo of raw bytes. Notes ("request", target, t) and ("closed", t)."""
    while True:
        req = read_http_request(rfile)
        if req is None:
            server.note(("closed", time.monotonic()))
            return
        server.note(("request", req.target, time.monotonic()))
        if req.header("upgrade"):
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\n\r\n")
            while data := rfile.read1(65536):
                conn.sendall(data)
            server.note(("closed", time.monotonic()))
            return
        path, _, query = req.target.partition("?")
        if path.startswith("/delay/"):
            time.sleep(float(path.split("/")[2]))
        body = f"answer {req.target}".encode()
        close = query == "close"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n"
                     % (len(body), b"Connection: close\r\n" if close else b"") + body)
        if close:
            return


def requests_seen(n=1):
    return lambda notes: sum(1 for n_ in notes if n_[0] == "request") >= n


def closes_seen(n):
    return lambda notes: sum(1 for n_ in notes if n_[0] == "closed") >= n


class UdpBackend:
    """Echoes datagrams; one starting with b"slow" is answered after 1 s, one
    starting with b"silent" never. Notes every datagram it got."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            with self.lock:
                self.got.append(data)
            if data.startswith(b"slow"):
                threading.Timer(1.0, self._reply, args=(data, peer)).start()
            elif not data.startswith(b"silent"):
                self._reply(data, peer)

    def _reply(self, data, peer):
        try:
            self.sock.sendto(data, peer)
        except OSError:
            pass

    def received(self, prefix):
        with self.lock:
            return any(d.startswith(prefix) for d in self.got)

    def stop(self):
        self.sock.close()


# ---------------------------------------------------------------- helpers

def config(listener, pool_backend=None, drain="3s", extra=""):
    pool = f'[pools.app]\nbackends = ["{pool_backend}"]\n' if pool_backend else ""
    return f"""
[global]
workers = 2
drain_timeout = "{drain}"

{pool}
[listeners.front]
{listener}
{extra}
"""


def http_listener(port, host="127.0.0.1", mode="http"):
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    pool = 'pool = "app"' if mode != "forward" else ""
    return f'bind = "{bind}"\nmode = "{mode}"\n{pool}'


class Stop:
    """SIGTERM and the measurement of what follows: exit() waits for the
    process up to a bound (plus LATE to see how late it was) and fails with
    its CPU use and log when it did not exit in time."""

    def __init__(self, lb):
        self.lb = lb
        self.cpu = lb.cpu_seconds()
        self.sent = lb.signal(signal.SIGTERM)

    def started(self):
        self.lb.wait_log(DRAIN_STARTED, timeout=5 + SLACK)

    def exit(self, label, since, bound, at_least=0.0, expect_code=0):
        """Waits for the exit; since is the moment the bound counts from."""
        bound += SLACK
        code = self.lb.wait_exit(since + bound + LATE - time.monotonic())
        t = time.monotonic() - since
        if code is None:
            cpu = self.lb.cpu_seconds() - self.cpu
            wall = time.monotonic() - self.sent
            before = self.lb.cpu_seconds()
            time.sleep(0.5)  # a diagnostic sample of what it does now, not synchronisation
            now = (self.lb.cpu_seconds() - before) / 0.5
            MEASURED.append((label, f"still running after {t:.2f}s, {100 * now:.0f}% CPU"))
            tail = "\n".join(self.lb.stderr().splitlines()[-15:])
            raise AssertionError(f"{label}: still running {t:.2f}s later (bound {bound:.1f}s), "
                                 f"{100 * cpu / wall:.0f}% CPU since SIGTERM, {100 * now:.0f}% "
                                 f"in the last 0.5 s; log tail:\n{tail}")
        print(f"{label}: exit after {t:.2f}s (code {code})", flush=True)
        MEASURED.append((label, f"exit after {t:.2f}s, code {code}"))
        assert t <= bound, f"{label}: exit after {t:.2f}s > {bound:.1f}s\n{self.lb.stderr()}"
        assert t >= at_least, f"{label}: exit after {t:.2f}s, before {at_least:.1f}s"
        if expect_code is not None:
            assert code == expect_code, f"{label}: exit code {code}\n{self.lb.stderr()}"
        else:
            assert code >= 0, f"{label}: killed by signal {-code}\n{self.lb.stderr()}"
        return t


def send_get(host, port, target, close=False):
    s = socket.create_connection((host, port), timeout=10)
    extra = "Connection: close\r\n" if close else ""
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x.test\r\n{extra}\r\n".encode())
    return s


def closed_within(sock, timeout):
    """Reads until EOF or reset; returns the seconds it took, or None."""
    start = time.monotonic()
    deadline = start + timeout
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            if not sock.recv(65536):
                return time.monotonic() - start
    except socket.timeout:
        return None
    except (OSError, ssl.SSLError):
        return time.monotonic() - start
    return None


def echo_once(sock, payload):
    sock.sendall(payload)
    got = b""
    sock.settimeout(5)
    while len(got) < len(payload):
        data = sock.recv(65536)
        if not data:
            break
        got += data
    return got


def cleanup(lb, *peers):
    if lb is not None:
        lb.close()
    for p in peers:
        p.stop()


# ---------------------------------------------------------------- http

def in_flight_request_gets_its_200_then_exit(label, host="127.0.0.1", client_close=False,
                                             backend_close=False):
    """The bug of issue 14: a backend answering after 1 s, one request, SIGTERM
    while it waits. The client gets its 200 and the process exits 0 within
    about 1.5 s of the response, well before drain_timeout (3 s)."""
    backend = ScriptedServer(http_backend, host=host)
    port = free_port(host)
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port, host), backend.address),
                          [port], host=host)
        target = "/delay/1" + ("?close" if backend_close else "")
        with send_get(host, port, target, close=client_close) as s:
            backend.wait_notes(requests_seen(), what="the request at the backend")
            stop = Stop(lb)
            resp = read_http_response(s, timeout=5)
            answered = time.monotonic()
            assert resp.status == 200 and resp.body == f"answer {target}".encode(), resp
            print(f"{label}: response {answered - stop.sent:.2f}s after SIGTERM", flush=True)
            stop.exit(label, since=answered, bound=1.5)
    finally:
        cleanup(lb, backend)


def test_http_request_in_flight_at_sigterm_gets_200_then_exit_ipv4():
    in_flight_request_gets_its_200_then_exit("http in flight, IPv4 keep-alive")


def test_http_request_in_flight_at_sigterm_gets_200_then_exit_ipv6():
    in_flight_request_gets_its_200_then_exit("http in flight, IPv6 keep-alive", host="::1")


def test_http_request_in_flight_with_client_connection_close_gets_200_then_exit():
    in_flight_request_gets_its_200_then_exit("http in flight, client Connection: close",
                                             client_close=True)


def test_http_request_in_flight_with_backend_connection_close_gets_200_then_exit():
    in_flight_request_gets_its_200_then_exit("http in flight, backend Connection: close",
                                             backend_close=True)


def test_http_sigterm_closes_the_listener_at_once_while_a_request_is_in_flight():
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="5s"),
                          [port])
        with send_get("127.0.0.1", port, "/delay/2") as s:
            backend.wait_notes(requests_seen(), what="the request at the backend")
            stop = Stop(lb)
            refused_after = None
            for _ in range(100):  # bounded: 100 x (connect + 10 ms)
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                except (ConnectionRefusedError, ConnectionResetError):
                    # Reset: the handshake finished in the kernel's accept
                    # queue just before the listener closed, which resets
                    # what it never accepted. Either way: not taken in.
                    refused_after = time.monotonic() - stop.sent
                    break
                if time.monotonic() - stop.sent > 1.0 + SLACK:
                    break
                time.sleep(0.01)
            MEASURED.append(("listener refuses connections after SIGTERM", refused_after))
            assert refused_after is not None, "new connections still accepted 1 s after SIGTERM"
            # Only the listener is checked here; the exit after an in-flight
            # request is the in_flight tests' business.
    finally:
        cleanup(lb, backend)


def test_http_idle_client_and_pooled_upstream_connections_close_at_once_and_exit():
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    clients = []
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="10s"),
                          [port])
        for i in range(3):
            s = send_get("127.0.0.1", port, f"/idle{i}")
            resp = read_http_response(s, timeout=5)
            assert resp.status == 200 and resp.complete and not resp.closed, resp
            clients.append(s)
        clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))  # sent nothing
        pooled = backend.connections
        assert pooled >= 1
        stop = Stop(lb)
        for i, s in enumerate(clients):
            t = closed_within(s, 1.0 + SLACK)
            assert t is not None, f"idle client connection {i} still open 1 s after SIGTERM"
        backend.wait_notes(closes_seen(pooled), timeout=1.0 + SLACK,
                           what=f"the {pooled} pooled upstream connection(s) to close")
        stop.exit("http idle keep-alive (client and pool)", since=stop.sent, bound=1.0)
    finally:
        for s in clients:
            s.close()
        cleanup(lb, backend)


def test_http_keep_alive_connection_closes_when_its_exchange_ends_during_drain():
    # One request holds the drain (3 s); another ends at 0.5 s: its
    # connection closes then, while the process still runs.
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="10s"),
                          [port])
        with send_get("127.0.0.1", port, "/delay/3") as holder, \
                send_get("127.0.0.1", port, "/delay/0.5") as short:
            backend.wait_notes(requests_seen(2), what="both requests at the backend")
            stop = Stop(lb)
            resp = read_http_response(short, timeout=5)
            assert resp.status == 200 and resp.complete, resp
            t = closed_within(short, 1.0)
            assert t is not None, "the connection stayed open after its exchange ended in the drain"
            assert lb.proc.poll() is None, "exited while a request was still in flight"
            assert read_http_response(holder, timeout=5).status == 200
            stop.exit("http exchange ends, then the last one", since=time.monotonic(), bound=1.5)
    finally:
        cleanup(lb, backend)


def test_http_request_outliving_drain_timeout_is_aborted_and_logged_with_a_count():
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="1s"),
                          [port])
        with send_get("127.0.0.1", port, "/delay/10") as s:
            backend.wait_notes(requests_seen(), what="the request at the backend")
            stop = Stop(lb)
            resp = read_http_response(s, timeout=2 + SLACK + LATE)
            seen = time.monotonic() - stop.sent
            assert resp.status != 200 and resp.closed, f"{resp} after {seen:.2f}s"
            stop.exit("http request outlives drain_timeout 1s", since=stop.sent, bound=2.0)
        # Log lines are "TIMESTAMP LEVEL message": the count is in the message.
        messages = [line.split(None, 2)[-1] for line in lb.stderr().splitlines()]
        aborts = [m for m in messages if re.search(r"abort", m, re.I) and re.search(r"\b\d+\b", m)]
        assert aborts, "no abort line with a count in the log:\n" + lb.stderr()
        print("abort logged:", aborts[0], flush=True)
    finally:
        cleanup(lb, backend)


def test_http_second_sigterm_during_a_long_drain_aborts_at_once():
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="30s"),
                          [port])
        with send_get("127.0.0.1", port, "/delay/20") as s:
            backend.wait_notes(requests_seen(), what="the request at the backend")
            stop = Stop(lb)
            stop.started()
            second = lb.signal(signal.SIGTERM)
            stop.exit("http second SIGTERM", since=second, bound=1.0, expect_code=None)
            resp = read_http_response(s, timeout=2)
            assert resp.status != 200 and resp.closed, resp
    finally:
        cleanup(lb, backend)


def test_http_second_sigterm_after_an_exchange_ended_in_the_drain_aborts_at_once():
    # The state of issue 14: the in-flight exchange ended during the drain;
    # whatever the process is still doing, a second SIGTERM ends it.
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="30s"),
                          [port])
        with send_get("127.0.0.1", port, "/delay/1") as s:
            backend.wait_notes(requests_seen(), what="the request at the backend")
            stop = Stop(lb)
            resp = read_http_response(s, timeout=5)
            assert resp.status == 200, resp
            second = lb.signal(signal.SIGTERM)
            stop.exit("http second SIGTERM after the exchange ended", since=second, bound=1.0,
                      expect_code=None)
    finally:
        cleanup(lb, backend)


# ---------------------------------------------------------------- tcp

def tcp_setup(drain):
    echo = EchoServer()
    port = free_port()
    listener = f'bind = "127.0.0.1:{port}"\nmode = "tcp"\npool = "app"'
    lb = start_ringlb(ARGS.ringlb, config(listener, f"127.0.0.1:{echo.port}", drain=drain), [port])
    return echo, port, lb


def test_tcp_open_idle_tunnel_holds_the_drain_until_drain_timeout_then_is_aborted():
    echo, port, lb = tcp_setup("2s")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert echo_once(s, b"before") == b"before"
            stop = Stop(lb)
            stop.started()
            assert echo_once(s, b"during the drain") == b"during the drain"
            stop.exit("tcp idle tunnel, drain_timeout 2s", since=stop.sent, bound=3.0,
                      at_least=1.5)
            assert closed_within(s, 1.0) is not None, "the tunnel stayed open after the exit"
    finally:
        cleanup(lb, echo)


def test_tcp_tunnel_whose_client_closes_during_the_drain_lets_the_process_exit_at_once():
    echo, port, lb = tcp_setup("10s")
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert echo_once(s, b"hello") == b"hello"
        stop = Stop(lb)
        stop.started()
        s.close()
        stop.exit("tcp tunnel closed by its client in the drain", since=time.monotonic(), bound=1.0)
    finally:
        cleanup(lb, echo)


# ---------------------------------------------------------------- udp

def udp_setup(drain):
    backend = UdpBackend()
    port = free_port()
    listener = f'bind = "127.0.0.1:{port}"\nmode = "udp"\npool = "app"'
    lb = start_ringlb(ARGS.ringlb, config(listener, f"127.0.0.1:{backend.port}", drain=drain))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(0.2)
    client.connect(("127.0.0.1", port))
    # Readiness for udp: the first echo through it (polled for up to 5 s;
    # before the bind, the kernel answers "connection refused" at once).
    deadline = time.monotonic() + 5 + SLACK
    while True:
        try:
            client.send(b"ping")
            if client.recv(65536) == b"ping":
                break
        except OSError:
            time.sleep(0.02)
        if time.monotonic() > deadline:
            raise AssertionError("no echo through the udp listener")
    client.settimeout(2 + SLACK)
    return backend, client, lb


def test_udp_sessions_whose_replies_came_do_not_hold_the_drain():
    backend, client, lb = udp_setup("5s")
    try:
        for i in range(3):
            client.send(b"echo %d" % i)
            assert client.recv(65536) == b"echo %d" % i
        stop = Stop(lb)
        stop.exit("udp idle sessions", since=stop.sent, bound=1.0)
    finally:
        client.close()
        cleanup(lb, backend)


def test_udp_reply_arriving_during_the_drain_is_relayed_then_exit():
    backend, client, lb = udp_setup("5s")
    try:
        client.send(b"slow 1")
        for _ in range(100):  # bounded: up to 2 s
            if backend.received(b"slow"):
                break
            time.sleep(0.02)
        assert backend.received(b"slow"), "the datagram did not reach the backend"
        stop = Stop(lb)
        try:
            reply = client.recv(65536)
        except OSError as e:
            reply = repr(e).encode()
        assert reply == b"slow 1", (f"reply during the drain: {reply!r}; ringlb "
                                    f"{'still runs' if lb.proc.poll() is None else 'had exited'}")
        stop.exit("udp reply during the drain", since=time.monotonic(), bound=1.0)
    finally:
        client.close()
        cleanup(lb, backend)


def test_udp_session_still_waiting_for_a_reply_exits_within_drain_timeout():
    backend, client, lb = udp_setup("2s")
    try:
        client.send(b"silent")
        for _ in range(100):  # bounded: up to 2 s
            if backend.received(b"silent"):
                break
            time.sleep(0.02)
        stop = Stop(lb)
        stop.exit("udp session waiting for a reply, drain_timeout 2s", since=stop.sent, bound=3.0)
    finally:
        client.close()
        cleanup(lb, backend)


# ---------------------------------------------------------------- forward

def forward_setup(drain, connect_port):
    port = free_port()
    listener = (f'bind = "127.0.0.1:{port}"\nmode = "forward"\nallow = ["127.0.0.1/32"]\n'
                f"connect_ports = [{connect_port}]")
    lb = start_ringlb(ARGS.ringlb, config(listener, drain=drain), [port])
    return port, lb


def test_forward_connect_tunnel_open_at_sigterm_is_aborted_at_drain_timeout():
    echo = EchoServer()
    port, lb = forward_setup("2s", echo.port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\nHost: 127.0.0.1:{echo.port}"
                      f"\r\n\r\n".encode())
            resp = read_http_response(s, timeout=5, head_only=True)
            assert resp.status == 200, resp
            assert echo_once(s, b"tunnel") == b"tunnel"
            stop = Stop(lb)
            stop.started()
            assert echo_once(s, b"still open") == b"still open"
            stop.exit("forward CONNECT tunnel, drain_timeout 2s", since=stop.sent, bound=3.0,
                      at_least=1.5)
    finally:
        cleanup(lb, echo)


def test_forward_absolute_uri_request_in_flight_completes_then_exit():
    origin = ScriptedServer(http_backend)
    port, lb = forward_setup("5s", 443)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET http://127.0.0.1:{origin.port}/delay/1 HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{origin.port}\r\n\r\n".encode())
            origin.wait_notes(requests_seen(), what="the request at the origin")
            stop = Stop(lb)
            resp = read_http_response(s, timeout=5)
            assert resp.status == 200 and resp.body == b"answer /delay/1", resp
            stop.exit("forward absolute-URI in flight", since=time.monotonic(), bound=1.5)
    finally:
        cleanup(lb, origin)


# ---------------------------------------------------------------- tls and upgrade

def test_tls_keep_alive_client_idle_at_sigterm_is_closed_and_the_process_exits():
    backend = ScriptedServer(http_backend)
    port = free_port()
    tls = (f'[listeners.front.tls]\ncertificates = [{{ cert = "{CERTS}/demo.pem", '
           f'key = "{CERTS}/demo.key" }}]')
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="10s",
                                              extra=tls), [port])
        ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "demo.pem"))
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                             server_hostname="localhost") as s:
            s.sendall(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            resp = read_http_response(s, timeout=5)
            assert resp.status == 200 and resp.complete and not resp.closed, resp
            stop = Stop(lb)
            t = closed_within(s, 1.0 + SLACK)
            assert t is not None, "the idle TLS connection was still open 1 s after SIGTERM"
            stop.exit("tls idle keep-alive", since=stop.sent, bound=1.0)
    finally:
        cleanup(lb, backend)


def test_http2_stream_in_flight_at_sigterm_gets_its_200_then_exit():
    """HTTP/2 (h2c): SIGTERM sends GOAWAY NO_ERROR naming the stream in
    flight, which still gets its answer; the process exits once it ended."""
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    try:
        listener = http_listener(port) + '\nprotocols = ["h2c", "http/1.1"]'
        lb = start_ringlb(ARGS.ringlb, config(listener, backend.address), [port])
        curl = subprocess.Popen(["curl", "-sS", "--http2-prior-knowledge", "-o", "-",
                                 "-w", "\n%{http_code} %{http_version}",
                                 f"http://127.0.0.1:{port}/delay/1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        backend.wait_notes(requests_seen(), what="the h2 request at the backend")
        stop = Stop(lb)
        out, err = curl.communicate(timeout=10 + SLACK)
        answered = time.monotonic()
        assert out.endswith("\n200 2") and "answer /delay/1" in out, (out, err)
        print(f"http2 in flight: response {answered - stop.sent:.2f}s after SIGTERM", flush=True)
        stop.exit("http2 in flight", since=answered, bound=1.5)
    finally:
        cleanup(lb, backend)


def test_http_upgrade_tunnel_open_at_sigterm_is_aborted_at_drain_timeout():
    backend = ScriptedServer(http_backend)
    port = free_port()
    lb = None
    try:
        lb = start_ringlb(ARGS.ringlb, config(http_listener(port), backend.address, drain="2s"),
                          [port])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x.test\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\n\r\n")
            resp = read_http_response(s, timeout=5)
            assert resp.status == 101, resp
            assert echo_once(s, b"frame") == b"frame"
            stop = Stop(lb)
            stop.started()
            assert echo_once(s, b"frame in the drain") == b"frame in the drain"
            stop.exit("http upgrade tunnel, drain_timeout 2s", since=stop.sent, bound=3.0,
                      at_least=1.5)
    finally:
        cleanup(lb, backend)


if __name__ == "__main__":
    try:
        run_tests([(name, fn) for name, fn in list(globals().items()) if name.startswith("test_")])
    finally:
        for what, value in MEASURED:
            print(f"measured: {what}: {value}", flush=True)
