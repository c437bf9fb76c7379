"""max_connections, a listener's and the global one: beyond it new connections
wait in the backlog unserved, and each connection that ends lets the next one
in (tcp and http listeners, one worker)."""

import os
import resource
import socket
import tempfile

from harness import (EchoServer, FixedBodyServer, Ringlb, ScriptedServer, free_port, is_sanitized,
                     metrics_text, parse_args, read_http_request, read_http_response, run_module,
                     wait_until)

ARGS = parse_args()
WAIT_UNSERVED = 0.5  # how long a connection over the limit must stay unanswered


def config(port, backend_port, mode, listener_limit=10000, global_limit=100000):
    return f"""
[global]
workers = 1
max_connections = {global_limit}
drain_timeout = "2s"

[pools.back]
backends = ["127.0.0.1:{backend_port}"]

[listeners.front]
bind = "127.0.0.1:{port}"
mode = "{mode}"
pool = "back"
max_connections = {listener_limit}
"""


def echo_fate(sock, i, timeout):
    """What came back for `ping i.` on an echo session: "served" (all of it),
    "closed" (EOF first), "waiting" (nothing more within timeout) or
    "mismatched" (other bytes came back)."""
    want = b"ping %d." % i
    sock.settimeout(timeout)
    got = b""
    try:
        while len(got) < len(want):
            data = sock.recv(4096)
            if not data:
                return "closed"
            got += data
    except TimeoutError:
        return "waiting"
    return "served" if got == want else "mismatched"


class Tcp:
    """Echo backend: a connection is served when what it sent comes back."""

    def backend(self):
        return EchoServer()

    def ask(self, sock, i):
        sock.sendall(b"ping %d." % i)

    def served(self, sock, i, timeout):
        return echo_fate(sock, i, timeout) == "served"


class Http:
    """HTTP backend: a connection is served when its GET gets the 200."""

    def backend(self):
        return FixedBodyServer(b"ok")

    def ask(self, sock, _i):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    def served(self, sock, _i, timeout):
        return read_http_response(sock, timeout=timeout).status == 200


def check_the_next_connection_waits_then_gets_in(port, proto, limit):
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(limit)]
    try:
        for i, s in enumerate(held):
            proto.ask(s, i)
            assert proto.served(s, i, 10), f"connection {i} under the limit was not served"
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)  # the kernel's backlog
        try:
            proto.ask(extra, 99)
            assert not proto.served(extra, 99, WAIT_UNSERVED), "served beyond max_connections"
            held.pop().close()
            # Taken in once a place is free; what it sent while waiting is served then.
            assert proto.served(extra, 99, 10), "the connection over the limit was never taken in"
        finally:
            extra.close()
    finally:
        for s in held:
            s.close()


def run_case(proto, listener_limit=10000, global_limit=100000, limit=2):
    backend = proto.backend()
    port = free_port()
    mode = "tcp" if isinstance(proto, Tcp) else "http"
    lb = Ringlb(ARGS.ringlb, config(port, backend.port, mode, listener_limit, global_limit),
                [port])
    try:
        check_the_next_connection_waits_then_gets_in(port, proto, limit)
        assert lb.stop() == 0, lb.stderr()
    finally:
        lb.close()
        backend.stop()


def test_tcp_listener_limit_lets_the_next_connection_in_when_one_ends():
    run_case(Tcp(), listener_limit=2)


def test_http_listener_limit_lets_the_next_connection_in_when_one_ends():
    run_case(Http(), listener_limit=2)


def test_tcp_global_limit_lets_the_next_connection_in_when_one_ends():
    run_case(Tcp(), global_limit=2)


def test_a_listener_limit_of_one_still_serves_connection_after_connection():
    run_case(Tcp(), listener_limit=1, limit=1)


def start_limited(nofile, text, ports):
    """ringlb under a descriptor limit of `nofile` (prlimit)."""
    with tempfile.TemporaryDirectory() as tmp:
        limited = os.path.join(tmp, "ringlb-limited")
        with open(limited, "w") as f:
            f.write(f"#!/bin/sh\nexec prlimit --nofile={nofile} -- "
                    f"{os.path.abspath(ARGS.ringlb)} \"$@\"\n")
        os.chmod(limited, 0o755)
        return Ringlb(limited, text, ports)


def try_session(port, i):
    """A new tcp session's fate: "served" (its bytes echoed), "closed" (ringlb
    took it in but closed it) or "waiting" (nothing back in 0.5 s: it sits in
    the backlog)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"ping %d." % i)
    fate = echo_fate(sock, i, WAIT_UNSERVED)
    if fate == "closed":
        sock.close()
        return fate, None
    return fate, sock


def fill_with_sessions(port, limit, held):
    """Opens sessions until one is not served (at most `limit`), keeping the
    served ones in `held`: the first other one's fate, socket and number."""
    fate, sock, i = "served", None, 0
    for i in range(limit):
        fate, sock = try_session(port, i)
        if fate != "served":
            break
        held.append(sock)
    return fate, sock, i


def check_out_of_descriptors(nofile):
    """Under a descriptor limit of `nofile`, sessions (a client and a backend socket
    each) fill it. The last free descriptor may go to a client whose backend
    socket() then fails: that client is closed, logged (no backend blamed).
    With none left, the accept fails with EMFILE: the next connection waits
    in the backlog with neither the worker nor the admin thread spinning, is
    logged once (not at every 100 ms retry), counted on /metrics, and served
    as soon as a session ends."""
    backend = EchoServer()
    port, admin = free_port(), free_port()
    text = config(port, backend.port, "tcp") + f"""
[admin]
bind = "127.0.0.1:{admin}"
"""
    held = []
    lb = start_limited(nofile, text, [port, admin])
    try:
        fate, waiting, last = fill_with_sessions(port, nofile, held)
        assert held, f"not one session fit under {nofile} descriptors"
        first_fate = fate
        if fate == "closed":
            lb.wait_log("no socket for a backend connection: Too many open files")
            # One descriptor was left: a keep-alive admin connection takes it
            # (its answer shows it was taken in, retried if the closed client's
            # descriptor was not free yet).
            occupant = socket.create_connection(("127.0.0.1", admin), timeout=10)
            held.append(occupant)
            occupant.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_http_response(occupant, timeout=10).status == 200
            last = 100
            fate, waiting = try_session(port, last)
        assert fate == "waiting", f"with no descriptor left the session was {fate}"
        lb.wait_log("raise the descriptor limit")
        admin_waiting = socket.create_connection(("127.0.0.1", admin), timeout=10)
        try:
            cpu = lb.cpu_seconds()
            waiting.settimeout(WAIT_UNSERVED)
            try:
                got = waiting.recv(4096)
                raise AssertionError(f"got {got!r} with no descriptor to spare")
            except TimeoutError:
                pass
            # Retrying every 100 ms costs next to nothing; a spin costs the half second.
            spent = lb.cpu_seconds() - cpu
            assert spent < 0.2, f"{spent:.2f} s of CPU in 0.5 s out of descriptors: a spin"
            # Two sessions end: four descriptors, for the waiting session's two
            # and the waiting admin connection's one.
            held.pop(0).close()
            held.pop(0).close()
            assert Tcp().served(waiting, last, 10), "not taken in once a session ended"
            waiting.close()
        finally:
            admin_waiting.close()
        for sock in held:
            sock.close()
        held = []
        log = lb.stderr()
        assert log.count("listener front: accept failed") == 1, f"not logged once:\n{log}"
        # Once per episode: a second one if the occupant's accept met the race above.
        assert 1 <= log.count("admin: accept failed") <= 2, f"not logged once:\n{log}"
        metrics = metrics_text(admin).splitlines()
        line = next(line for line in metrics
                    if line.startswith('ringlb_accept_failures_total{listener="front"}'))
        # The first failure and the retries during the half second.
        assert int(line.split()[-1]) >= 3, line
        # A backend socket() that failed here is not the backend's connect failure.
        line = next(line for line in metrics
                    if line.startswith('ringlb_backend_connect_failures_total{pool="back"'))
        assert line.endswith(" 0"), line
        assert lb.stop() == 0, lb.stderr()
        return first_fate
    finally:
        for sock in held:
            sock.close()
        lb.close()
        backend.stop()


def test_out_of_descriptors_connections_wait_in_the_backlog_and_are_counted():
    # Limits of both parities: one leaves a single descriptor free after the
    # last full session, so a client is taken in whose backend socket fails.
    fates = {check_out_of_descriptors(nofile) for nofile in (40, 41)}
    assert fates == {"closed", "waiting"}, fates


def held_backend(conn, rfile, server):
    """Notes each request and never answers it: every request in flight holds
    its backend connection (and descriptor) in ringlb."""
    while read_http_request(rfile) is not None:
        server.note("request")


def check_http_request_without_a_socket(nofile, protocol):
    """Fills `nofile` descriptors with tcp sessions. When one descriptor is
    left (the client taken in with it is closed), an http request is taken
    in with it and its backend socket() fails: 503, reaching neither backend,
    no backend blamed (with passive_failures = 1 one report would eject it),
    logged and counted as rejected `other`.
    `protocol` is the pool's: an HTTP/2 pool connects through an upstream
    session of its own. Returns False when this limit leaves no descriptor
    over (the other parity does)."""
    echo, held_a, held_b = EchoServer(), ScriptedServer(held_backend), ScriptedServer(held_backend)
    port, web, admin = free_port(), free_port(), free_port()
    text = config(port, echo.port, "tcp") + f"""
[pools.web]
backends = ["{held_a.address}", "{held_b.address}"]
passive_failures = 1
protocol = "{protocol}"

[listeners.web]
bind = "127.0.0.1:{web}"
mode = "http"
pool = "web"

[admin]
bind = "127.0.0.1:{admin}"
"""
    text = text.replace("[global]\n", "[global]\naccess_log = \"stderr\"\n", 1)
    held = []
    lb = start_limited(nofile, text, [port, web, admin])
    try:
        fate, sock, _ = fill_with_sessions(port, nofile, held)
        if fate == "waiting":
            sock.close()
            return False
        assert fate == "closed", fate
        lb.wait_log("no socket for a backend connection: Too many open files")
        with socket.create_connection(("127.0.0.1", web), timeout=10) as s:
            s.sendall(b"GET /no-socket HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = read_http_response(s, timeout=10)
        assert resp.status == 503, resp.status
        lb.wait_log('"error":"no_socket"')  # the http request's access-log line
        lb.wait_log('"end":"no_socket"')  # the closed tcp client's
        assert not held_a.notes + held_b.notes, "the request reached a backend"
        for sock in held:
            sock.close()
        held = []
        metrics = metrics_text(admin).splitlines()

        def check(prefix, want):
            lines = [line for line in metrics if line.startswith(prefix)]
            assert sum(int(line.split()[-1]) for line in lines) == want, lines

        check('ringlb_backend_connect_failures_total{pool="web"', 0)  # no backend blamed
        check('ringlb_backend_up{pool="web"', 2)  # none ejected
        check('ringlb_rejected_total{listener="web",reason="other"}', 1)
        assert lb.stop() == 0, lb.stderr()
        return True
    finally:
        for sock in held:
            sock.close()
        lb.close()
        for server in (echo, held_a, held_b):
            server.stop()


def test_out_of_descriptors_an_http_request_gets_503_and_blames_no_backend():
    if is_sanitized(ARGS.ringlb):
        # UBSan's vptr check reads a class's vtable through a pipe() of its own
        # the first time it meets the class; this path meets BackendConnection
        # first with no descriptor left, the pipe fails and the check halts
        # ringlb on an "invalid vptr" that is not there. The Release run tests it.
        print("SKIP under a sanitizer: its vptr check needs descriptors", flush=True)
        return
    # One of the two parities leaves a single descriptor for the request.
    for protocol in ("http/1.1", "h2"):
        checked = [check_http_request_without_a_socket(n, protocol) for n in (40, 41)]
        assert checked.count(True) == 1, (protocol, checked)


def probe_counts(ctl, backend):
    """ringlb_health_probes_total by result and ringlb_backend_up for one
    backend, read over the keep-alive admin connection `ctl` (a new admin
    connection would need a descriptor)."""
    ctl.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    resp = read_http_response(ctl, timeout=10)
    assert resp.status == 200, resp.status
    counts = {}
    labels = f'pool="back",backend="{backend}"'
    for line in resp.body.decode().splitlines():
        if line.startswith(f"ringlb_health_probes_total{{{labels},result="):
            counts[line.split('result="')[1].split('"')[0]] = int(line.split()[-1])
        elif line.startswith(f"ringlb_backend_up{{{labels}}}"):
            counts["up"] = int(line.split()[-1])
    return counts


def test_out_of_descriptors_health_checks_are_skipped_not_failed():
    """A health check that cannot open a socket is this host's shortage: with
    fall = 1 one failed check would take the backend down. It is counted as
    skipped, logged, the backend stays up, and checks pass again once
    descriptors are free."""
    backend = EchoServer()
    address = f"127.0.0.1:{backend.port}"
    port, admin = free_port(), free_port()
    text = config(port, backend.port, "tcp") + f"""
[pools.back.health]
check = "tcp"
interval = "100ms"
timeout = "100ms"
rise = 1
fall = 1

[admin]
bind = "127.0.0.1:{admin}"
"""
    held = []
    lb = start_limited(40, text, [port, admin])
    try:
        ctl = socket.create_connection(("127.0.0.1", admin), timeout=10)
        held.append(ctl)
        wait_until(lambda: probe_counts(ctl, address).get("ok", 0) >= 1, what="a passed check")
        fate, i = "served", 0
        while fate == "served" and i < 40:
            fate, sock = try_session(port, i)
            i += 1
            if fate == "served":
                held.append(sock)
            # A client taken in with the last descriptor is closed (its backend
            # socket fails, or a check held one for a moment): a keep-alive
            # admin connection takes that descriptor, and the filling goes on.
            elif fate == "closed":
                occupant = socket.create_connection(("127.0.0.1", admin), timeout=10)
                held.append(occupant)
                occupant.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_http_response(occupant, timeout=10).status == 200
                fate = "served"
        assert fate == "waiting", f"descriptors not filled: the last session was {fate}"
        held.append(sock)
        before = probe_counts(ctl, address)
        seen = {}

        def settled():
            seen.update(probe_counts(ctl, address))
            skipped = seen.get("skipped", 0) - before.get("skipped", 0)
            return skipped >= 3 or seen.get("failed") != 0 or seen.get("up") != 1

        wait_until(settled, what="three skipped checks")
        after = dict(seen)
        assert after.get("up") == 1, f"the backend went down out of descriptors: {after}"
        assert after.get("failed") == 0, f"a check failed: {after}"
        assert after["skipped"] >= before.get("skipped", 0) + 3, after
        lb.wait_log(f"health: pool back backend {address}: check not run: "
                    "socket: Too many open files")
        for sock in held[1:]:
            sock.close()
        del held[1:]
        wait_until(lambda: probe_counts(ctl, address).get("ok", 0) >= after["ok"] + 2,
                   what="checks passing again")
        ctl.close()
        held = []
        assert lb.stop() == 0, lb.stderr()
    finally:
        for sock in held:
            sock.close()
        lb.close()
        backend.stop()


if __name__ == "__main__":
    run_module(globals())
