"""The forward listener mode end to end: CONNECT tunnels and absolute-URI
requests through the real binary to origins on loopback, ACL refusals,
error statuses and their counters."""

import hashlib
import http.server
import os
import signal
import socket
import subprocess
import threading
import urllib.request

from harness import EchoServer, Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    """An origin that answers with a fixed body and remembers what it got."""

    seen = []

    protocol_version = "HTTP/1.1"  # keep-alive: the proxy may send several requests per connection

    def do_GET(self):  # noqa: N802 - http.server's naming
        RecordingHandler.seen.append((self.requestline, dict(self.headers),
                                      self.client_address[1]))
        body = b"hello from origin\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        RecordingHandler.seen.append((self.requestline, dict(self.headers),
                                      self.client_address[1]))
        body = hashlib.sha256(data).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Setup:
    """One ringlb with a forward listener, an echo origin (CONNECT), an http
    origin (absolute-URI) and a bystander that must never be reached."""

    def __init__(self):
        self.echo = EchoServer()
        self.bystander = EchoServer()
        self.closed_port = free_port()
        self.origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
        self.origin_port = self.origin.server_address[1]
        threading.Thread(target=self.origin.serve_forever, daemon=True).start()
        self.port = free_port()
        self.admin_port = free_port()
        ports = f"[{self.echo.port}, {self.closed_port}]"
        config = f"""
[global]
workers = 2
drain_timeout = "5s"

[admin]
bind = "127.0.0.1:{self.admin_port}"

[listeners.egress]
bind = "127.0.0.1:{self.port}"
mode = "forward"
allow = ["127.0.0.1/32", "localhost"]
deny = ["127.0.0.2"]
connect_ports = {ports}
header_timeout = "1s"
"""
        self.lb = Ringlb(ARGS.ringlb, config, [self.port, self.admin_port])

    def close(self):
        try:
            code = self.lb.stop()
            assert code == 0, f"exit code {code}:\n{self.lb.stderr()}"
        finally:
            self.lb.close()
            self.echo.stop()
            self.bystander.stop()
            self.origin.shutdown()
            self.origin.server_close()


SETUP = None


def setup():
    global SETUP
    if SETUP is None:
        SETUP = Setup()
    return SETUP


def read_head(sock):
    """Reads up to the end of a response head; returns (head, bytes after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def read_to_end(sock, already=b""):
    chunks = [already]
    while True:
        chunk = sock.recv(262144)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def connect_request(target, extra=b"", proxy_port=None):
    """Sends CONNECT target; returns (socket, response head, bytes after it)."""
    s = socket.create_connection(("127.0.0.1", proxy_port or setup().port), timeout=20)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode() + extra)
    head, rest = read_head(s)
    return s, head, rest


def metric(name, labels):
    with urllib.request.urlopen(f"http://127.0.0.1:{setup().admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_connect_tunnels_a_mebibyte_both_ways_intact():
    payload = os.urandom(1 << 20)
    # The first bytes ride in the same write as the CONNECT head.
    s, head, rest = connect_request(f"127.0.0.1:{setup().echo.port}", payload[:1000])
    with s:
        assert head.startswith("HTTP/1.1 200"), head
        sender = threading.Thread(target=lambda: (s.sendall(payload[1000:]),
                                                  s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = read_to_end(s, rest)
        sender.join()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest(), len(got)


def test_connect_to_a_port_outside_connect_ports_is_403_and_reaches_nothing():
    s, head, rest = connect_request(f"127.0.0.1:{setup().bystander.port}")
    with s:
        body = read_to_end(s, rest)
    assert head.startswith("HTTP/1.1 403"), head
    assert b"connect_ports" in body, body
    assert setup().bystander.connections == 0


def test_connect_to_a_denied_address_is_403_naming_the_rule():
    s, head, rest = connect_request(f"127.0.0.2:{setup().echo.port}")
    with s:
        body = read_to_end(s, rest)
    assert head.startswith("HTTP/1.1 403"), head
    assert b"127.0.0.2" in body, body


def test_connect_to_a_host_name_is_resolved_off_the_worker():
    s, head, rest = connect_request(f"localhost:{setup().echo.port}")
    with s:
        assert head.startswith("HTTP/1.1 200"), head
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        assert read_to_end(s, rest) == b"ping"


def test_connect_to_a_closed_port_is_502():
    s, head, _ = connect_request(f"127.0.0.1:{setup().closed_port}")
    s.close()
    assert head.startswith("HTTP/1.1 502"), head


def test_connect_to_an_unresolvable_name_is_502():
    # .invalid never resolves (RFC 6761): a resolver failure, not an ACL one.
    s, head, rest = connect_request(f"localhost.invalid:{setup().echo.port}")
    with s:
        body = read_to_end(s, rest)
    assert head.startswith("HTTP/1.1 502"), head
    assert b"resolve" in body, body


def test_absolute_uri_request_reaches_the_origin_in_origin_form_with_via():
    before = len(RecordingHandler.seen)
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "-x", f"http://127.0.0.1:{setup().port}",
         f"http://127.0.0.1:{setup().origin_port}/path?x=1"],
        capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"hello from origin\n", out.stdout
    requestline, headers, _ = RecordingHandler.seen[before]
    assert requestline == "GET /path?x=1 HTTP/1.1", requestline
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower.get("via") == "1.1 ringlb", headers
    assert "connection" not in lower, headers  # keep-alive towards the origin
    assert lower.get("host") == f"127.0.0.1:{setup().origin_port}", headers
    assert "proxy-connection" not in lower, headers


def test_absolute_uri_requests_keep_both_connections_alive():
    # Two requests on one client connection: both answered in order, and the
    # origin sees them on one connection (the proxy's keep-alive pool).
    before = len(RecordingHandler.seen)
    target = f"http://127.0.0.1:{setup().origin_port}"
    with socket.create_connection(("127.0.0.1", setup().port), timeout=10) as s:
        for path in ("/one", "/two"):
            s.sendall(f"GET {target}{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while b"hello from origin\n" not in data:
                chunk = s.recv(65536)
                assert chunk, f"connection closed before the answer to {path}: {data!r}"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data
            assert b"Via: 1.1 ringlb" in data, data
    seen = RecordingHandler.seen[before:]
    assert [line for line, _, _ in seen] == ["GET /one HTTP/1.1", "GET /two HTTP/1.1"], seen
    assert seen[0][2] == seen[1][2], "the second request went on a new origin connection"


def test_absolute_uri_post_body_is_relayed():
    data = os.urandom(300000)
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "-x", f"http://127.0.0.1:{setup().port}",
         "--data-binary", "@-", "-H", "Content-Type: application/octet-stream",
         f"http://127.0.0.1:{setup().origin_port}/upload"],
        input=data, capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == hashlib.sha256(data).hexdigest()


def test_origin_form_request_to_the_proxy_is_400_with_a_clear_body():
    with socket.create_connection(("127.0.0.1", setup().port), timeout=10) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: somewhere\r\n\r\n")
        head, rest = read_head(s)
        body = read_to_end(s, rest)
    assert head.startswith("HTTP/1.1 400"), head
    assert b"forward proxy" in body, body


def test_https_uri_without_connect_is_400():
    with socket.create_connection(("127.0.0.1", setup().port), timeout=10) as s:
        s.sendall(b"GET https://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, _ = read_head(s)
    assert head.startswith("HTTP/1.1 400"), head


def test_incomplete_head_gets_408_after_header_timeout():
    with socket.create_connection(("127.0.0.1", setup().port), timeout=10) as s:
        s.sendall(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n")
        head, _ = read_head(s)
    assert head.startswith("HTTP/1.1 408"), head


def test_concurrent_tunnels_stay_separate():
    payloads = [os.urandom(200000 + i) for i in range(8)]
    results = [None] * len(payloads)

    def one(i):
        s, head, rest = connect_request(f"127.0.0.1:{setup().echo.port}")
        with s:
            assert head.startswith("HTTP/1.1 200"), head
            sender = threading.Thread(target=lambda: (s.sendall(payloads[i]),
                                                      s.shutdown(socket.SHUT_WR)))
            sender.start()
            results[i] = read_to_end(s, rest)
            sender.join()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == payloads


def test_refusals_show_in_metrics():
    wait_until(lambda: metric("ringlb_requests_total", {"listener": "egress", "code": "403"}) >= 2,
               what="403s counted")
    assert metric("ringlb_rejected_total", {"listener": "egress", "reason": "denied"}) >= 2
    assert metric("ringlb_requests_total", {"listener": "egress", "code": "200"}) >= 2


def test_sigterm_lets_an_open_tunnel_finish_then_exits_0():
    global SETUP
    st = setup()
    SETUP = None
    try:
        tunnel, head, _ = connect_request(f"127.0.0.1:{st.echo.port}", proxy_port=st.port)
        assert head.startswith("HTTP/1.1 200"), head
        st.lb.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: not accepts(st.port), what="listener closed")
        with tunnel:
            tunnel.sendall(b"still here")
            tunnel.shutdown(socket.SHUT_WR)
            assert read_to_end(tunnel) == b"still here"
        assert st.lb.proc.wait(timeout=10) == 0, st.lb.stderr()
    finally:
        st.close()


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    run_module(globals())
