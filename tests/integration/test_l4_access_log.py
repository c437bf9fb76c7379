"""The access log for the tcp, udp and forward modes: one JSON line per tcp
session, per udp session (written when it expires), per forward absolute-URI
request and per CONNECT tunnel (refused ones too), with byte counts that match
what the client sent and got, and how each one ended."""

import json
import os
import shutil
import socket
import tempfile
import threading
import time

from harness import (EchoServer, FixedBodyServer, Ringlb, free_port, parse_args, run_module,
                     wait_until)

ARGS = parse_args()
UDP_IDLE = "300ms"


class UdpEchoServer:
    """Echoes each datagram to its sender."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
                self.sock.sendto(data, peer)
            except OSError:
                return

    def stop(self):
        self.sock.close()


ECHO = EchoServer()
UDP_ECHO = UdpEchoServer()
ORIGIN = FixedBodyServer("hello from origin\n")
ORIGIN_PORT = ORIGIN.port
DEAD_PORT = free_port()  # nothing listens here
TCP_PORT = free_port()
DEAD_TCP_PORT = free_port()
UDP_PORT = free_port()
FORWARD_PORT = free_port()

LOG_DIR = tempfile.mkdtemp(prefix="ringlb-l4-access-")
LOG = os.path.join(LOG_DIR, "access.log")

CONFIG = f"""
[global]
workers = 2
drain_timeout = "2s"
access_log = "{LOG}"

[pools.echo]
backends = ["127.0.0.1:{ECHO.port}"]

[pools.dead]
backends = ["127.0.0.1:{DEAD_PORT}"]
retries = 0

[pools.udp]
backends = ["127.0.0.1:{UDP_ECHO.port}"]

[listeners.front]
bind = "127.0.0.1:{TCP_PORT}"
mode = "tcp"
pool = "echo"

[listeners.nowhere]
bind = "127.0.0.1:{DEAD_TCP_PORT}"
mode = "tcp"
pool = "dead"

[listeners.dns]
bind = "127.0.0.1:{UDP_PORT}"
mode = "udp"
pool = "udp"
idle_timeout = "{UDP_IDLE}"

[listeners.egress]
bind = "127.0.0.1:{FORWARD_PORT}"
mode = "forward"
allow = ["127.0.0.1/32"]
deny = ["127.0.0.2"]
connect_ports = [{ECHO.port}]
"""

LB = Ringlb(ARGS.ringlb, CONFIG, [TCP_PORT, DEAD_TCP_PORT, FORWARD_PORT])
# (mode, client) of every session the tests made: each must have exactly one
# line once ringlb has exited and everything is written.
EXPECTED = []


def lines():
    if not os.path.exists(LOG):
        return []
    with open(LOG, "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()]


def line_for(mode, client, timeout=5):
    """Waits for the line of the session of `client` ("ip:port") and returns it."""
    EXPECTED.append((mode, client))
    found = []

    def present():
        found[:] = [e for e in lines() if e["mode"] == mode and e["client"] == client]
        return bool(found)

    wait_until(present, timeout=timeout, what=f"the {mode} line of {client}")
    return found[0]


def client_of(sock):
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def read_to_end(sock, already=b""):
    chunks = [already]
    while chunk := sock.recv(262144):
        chunks.append(chunk)
    return b"".join(chunks)


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


# ---------------------------------------------------------------- tcp


def test_tcp_session_is_one_line_with_the_bytes_each_way():
    payload = os.urandom(300_000)
    with socket.create_connection(("127.0.0.1", TCP_PORT), timeout=20) as s:
        client = client_of(s)
        sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = read_to_end(s)
        sender.join()
    assert got == payload, len(got)
    entry = line_for("tcp", client)
    assert entry["listener"] == "front" and entry["pool"] == "echo", entry
    assert entry["backend"] == f"127.0.0.1:{ECHO.port}", entry
    assert entry["bytes_in"] == len(payload) and entry["bytes_out"] == len(payload), entry
    assert entry["end"] == "closed", entry
    assert entry["duration_ms"] >= entry["upstream_connect_ms"] >= 0, entry
    for key in ("status", "method", "path", "route", "request_id"):
        assert key not in entry, (key, entry)


def test_a_connection_queued_while_ringlb_starts_is_logged_with_its_client():
    """The kernel queues connections from the moment the sockets listen; they
    are accepted only once the access log is open, so none is logged without
    its client address (or not at all)."""
    port = free_port()
    log = os.path.join(LOG_DIR, "startup.log")
    lb = Ringlb(ARGS.ringlb, f"""
[global]
workers = 1
access_log = "{log}"

[pools.echo]
backends = ["127.0.0.1:{ECHO.port}"]

[listeners.early]
bind = "127.0.0.1:{port}"
mode = "tcp"
pool = "echo"
""")
    try:
        s = None
        deadline = time.monotonic() + 10
        while s is None:  # the first connect the listening socket takes
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "ringlb never listened"
                time.sleep(0.002)
        with s:
            client = client_of(s)
            s.sendall(b"first")
            s.shutdown(socket.SHUT_WR)
            assert read_to_end(s) == b"first"

        def mine():
            if not os.path.exists(log):
                return []
            with open(log, "rb") as f:
                return [json.loads(x) for x in f.read().splitlines()]

        assert lb.stop(timeout=15) == 0, lb.stderr()
        entries = mine()
        assert [e["client"] for e in entries] == [client], entries
        assert entries[0]["bytes_in"] == 5 and entries[0]["end"] == "closed", entries
    finally:
        if lb.proc.poll() is None:
            lb.proc.kill()


def test_tcp_client_reset_is_logged_as_client_reset():
    s = socket.create_connection(("127.0.0.1", TCP_PORT), timeout=20)
    client = client_of(s)
    s.sendall(b"ping")
    assert s.recv(4) == b"ping"  # the session is relaying now
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST
    entry = line_for("tcp", client)
    assert entry["end"] == "client_reset", entry
    assert entry["bytes_in"] == 4 and entry["bytes_out"] == 4, entry


def test_tcp_connect_failure_names_the_backend_tried():
    with socket.create_connection(("127.0.0.1", DEAD_TCP_PORT), timeout=20) as s:
        client = client_of(s)
        assert read_to_end(s) == b""
    entry = line_for("tcp", client)
    assert entry["end"] == "connect_failed", entry
    assert entry["backend"] == f"127.0.0.1:{DEAD_PORT}", entry
    assert entry["bytes_in"] == 0 and entry["bytes_out"] == 0, entry
    assert "upstream_connect_ms" not in entry, entry


# ---------------------------------------------------------------- udp


def test_udp_session_is_one_line_when_it_expires():
    datagrams = [b"a" * 10, b"b" * 200, b"c" * 1500]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.bind(("127.0.0.1", 0))
        client = client_of(s)
        for d in datagrams:
            s.sendto(d, ("127.0.0.1", UDP_PORT))
            assert s.recvfrom(65536)[0] == d
    entry = line_for("udp", client, timeout=10)  # written once idle_timeout has passed
    total = sum(len(d) for d in datagrams)
    assert entry["listener"] == "dns" and entry["pool"] == "udp", entry
    assert entry["backend"] == f"127.0.0.1:{UDP_ECHO.port}", entry
    assert entry["datagrams_in"] == 3 and entry["datagrams_out"] == 3, entry
    assert entry["bytes_in"] == total and entry["bytes_out"] == total, entry
    assert entry["end"] == "idle_timeout", entry
    assert entry["duration_ms"] >= 300, entry


# ---------------------------------------------------------------- forward


def test_forward_absolute_uri_request_is_one_line():
    request = (f"GET http://127.0.0.1:{ORIGIN_PORT}/page?x=1 HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{ORIGIN_PORT}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", FORWARD_PORT), timeout=20) as s:
        client = client_of(s)
        s.sendall(request)
        response = read_to_end(s)
    assert response.startswith(b"HTTP/1.1 200"), response
    entry = line_for("forward", client)
    assert entry["listener"] == "egress", entry
    assert entry["method"] == "GET" and entry["path"] == "/page?x=1", entry
    assert entry["destination"] == f"127.0.0.1:{ORIGIN_PORT}", entry
    assert entry["backend"] == f"127.0.0.1:{ORIGIN_PORT}", entry
    assert entry["status"] == 200 and entry["end"] == "closed", entry
    assert entry["bytes_in"] == len(request), entry
    assert entry["bytes_out"] == len(response), entry
    assert entry["acl"] == 'allowed by "127.0.0.1/32"', entry


def test_connect_tunnel_is_one_line_with_the_bytes_each_way():
    target = f"127.0.0.1:{ECHO.port}"
    connect = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
    payload = os.urandom(100_000)
    with socket.create_connection(("127.0.0.1", FORWARD_PORT), timeout=20) as s:
        client = client_of(s)
        s.sendall(connect)
        head, rest = read_head(s)
        assert head.startswith(b"HTTP/1.1 200"), head
        sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = read_to_end(s, rest)
        sender.join()
    assert got == payload, len(got)
    entry = line_for("forward", client)
    assert entry["method"] == "CONNECT" and entry["destination"] == target, entry
    assert entry["status"] == 200 and entry["end"] == "closed", entry
    assert entry["bytes_in"] == len(connect) + len(payload), entry
    assert entry["bytes_out"] == len(head) + len(payload), entry
    assert entry["backend"] == target, entry


def test_denied_connect_is_one_line_with_403_and_the_rule():
    target = f"127.0.0.2:{ECHO.port}"
    with socket.create_connection(("127.0.0.1", FORWARD_PORT), timeout=20) as s:
        client = client_of(s)
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        reply = read_to_end(s)
    assert reply.startswith(b"HTTP/1.1 403"), reply
    entry = line_for("forward", client)
    assert entry["status"] == 403 and entry["end"] == "denied", entry
    assert entry["destination"] == target and entry["backend"] == "-", entry
    assert entry["acl"] == 'denied by deny rule "127.0.0.2"', entry
    assert entry["bytes_out"] == len(reply), entry


def test_connect_to_a_port_outside_connect_ports_names_connect_ports():
    target = f"127.0.0.1:{DEAD_PORT}"
    with socket.create_connection(("127.0.0.1", FORWARD_PORT), timeout=20) as s:
        client = client_of(s)
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        assert read_to_end(s).startswith(b"HTTP/1.1 403")
    entry = line_for("forward", client)
    assert entry["status"] == 403 and "connect_ports" in entry["acl"], entry


def test_zz_every_session_has_exactly_one_line_after_a_clean_exit():
    assert LB.stop(timeout=15) == 0, LB.stderr()
    all_lines = lines()
    for mode, client in EXPECTED:
        mine = [e for e in all_lines if e["mode"] == mode and e["client"] == client]
        assert len(mine) == 1, (mode, client, mine)
    assert all(e["mode"] in ("tcp", "udp", "forward") for e in all_lines), all_lines


if __name__ == "__main__":
    run_module(globals(), LB.close, ECHO.stop, UDP_ECHO.stop, ORIGIN.stop,
               lambda: shutil.rmtree(LOG_DIR, ignore_errors=True))
