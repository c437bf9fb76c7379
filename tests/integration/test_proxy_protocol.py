"""PROXY protocol end to end. On tcp listeners `proxy_protocol = "v1" | "v2"`
sends a header to the backend and `accept_proxy_protocol = true` reads one from
the client; the backend here parses the header it gets, reads the payload to
EOF and answers with one JSON line saying what it saw. On http listeners (plain
and TLS) `accept_proxy_protocol = true` makes the claimed source address the
client's: an HTTP backend answers with the forwarding headers it received."""

import hashlib
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import time
import urllib.request

import pki
from harness import Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError(f"EOF after {len(data)} of {n} header bytes")
        data += chunk
    return data


def read_header(conn):
    """Reads one PROXY header byte-exactly; returns what it says."""
    first = recv_exact(conn, 1)
    if first == b"P":
        line = first
        while not line.endswith(b"\r\n"):
            line += recv_exact(conn, 1)
            assert len(line) <= 107, line
        fields = line[:-2].decode().split(" ")
        if fields[1] == "UNKNOWN":
            return {"version": 1, "proto": "UNKNOWN"}
        _, proto, src, dst, sport, dport = fields
        return {"version": 1, "proto": proto, "src": src, "dst": dst,
                "sport": int(sport), "dport": int(dport)}
    head = first + recv_exact(conn, 15)
    assert head[:12] == V2_SIGNATURE, head
    ver_cmd, fam, length = head[12], head[13], struct.unpack("!H", head[14:16])[0]
    body = recv_exact(conn, length)
    if ver_cmd == 0x20:
        return {"version": 2, "proto": "LOCAL"}
    assert ver_cmd == 0x21, hex(ver_cmd)
    if fam == 0x11:
        src, dst = socket.inet_ntop(socket.AF_INET, body[0:4]), socket.inet_ntop(socket.AF_INET, body[4:8])
        sport, dport = struct.unpack("!HH", body[8:12])
        proto = "TCP4"
    else:
        assert fam == 0x21, hex(fam)
        src, dst = socket.inet_ntop(socket.AF_INET6, body[0:16]), socket.inet_ntop(socket.AF_INET6, body[16:32])
        sport, dport = struct.unpack("!HH", body[32:36])
        proto = "TCP6"
    return {"version": 2, "proto": proto, "src": src, "dst": dst, "sport": sport, "dport": dport}


class ProxyBackend:
    """Parses the PROXY header, reads the rest to EOF, answers with JSON."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn):
        try:
            conn.settimeout(30)
            try:
                seen = read_header(conn)
            except (AssertionError, EOFError, ValueError) as e:
                seen = {"error": str(e)}
            digest = hashlib.sha256()
            total = 0
            while True:
                data = conn.recv(262144)
                if not data:
                    break
                digest.update(data)
                total += len(data)
            seen.update({"length": total, "sha256": digest.hexdigest()})
            conn.sendall(json.dumps(seen).encode() + b"\n")
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.sock.close()


def config(listen_port, backend_ports, admin_port, send=None, accept=False):
    lines = [f'proxy_protocol = "{send}"'] if send else []
    if accept:
        lines.append("accept_proxy_protocol = true")
    extra = "\n".join(lines)
    return f"""
[global]
workers = 2
log_level = "debug"

[admin]
bind = "127.0.0.1:{admin_port}"

[pools.app]
backends = [{", ".join(f'"127.0.0.1:{p}"' for p in backend_ports)}]
retries = 2
connect_timeout = "1s"

[listeners.front]
bind = "127.0.0.1:{listen_port}"
mode = "tcp"
pool = "app"
{extra}
"""


class Setup:
    def __init__(self, send=None, accept=False, refused_first=False):
        self.backend = ProxyBackend()
        self.port = free_port()
        self.admin = free_port()
        ports = ([free_port()] if refused_first else []) + [self.backend.port]
        self.lb = Ringlb(ARGS.ringlb, config(self.port, ports, self.admin, send, accept),
                         [self.port, self.admin])

    def close(self):
        self.lb.close()
        self.backend.stop()


def exchange(port, pieces, pause=0.0):
    """Sends `pieces` (with `pause` between them), half-closes, returns the
    backend's JSON answer and the client's own address."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        me = s.getsockname()
        for i, piece in enumerate(pieces):
            if i and pause:
                time.sleep(pause)  # shapes traffic into separate segments, not synchronisation
            s.sendall(piece)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\n"):
            data = s.recv(65536)
            assert data, f"connection closed after {reply!r}"
            reply += data
    return json.loads(reply), me


def v2_header(src, sport, dst, dport):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def rejected(admin_port, reason, listener="front"):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    total = 0
    for m in re.finditer(r'^ringlb_rejected_total\{([^}]*)\} (\S+)$', text, re.M):
        if f'listener="{listener}"' in m.group(1) and f'reason="{reason}"' in m.group(1):
            total += float(m.group(2))
    return total


def check_sent_header(version):
    s = Setup(send=version)
    try:
        seen, me = exchange(s.port, [b"hello"])
        assert seen["version"] == int(version[1]), seen
        assert (seen["proto"], seen["src"], seen["sport"]) == ("TCP4", me[0], me[1]), (seen, me)
        assert (seen["dst"], seen["dport"]) == ("127.0.0.1", s.port), seen
        assert seen["length"] == 5, seen
    finally:
        s.close()


def test_v1_towards_the_backend_carries_the_client_address_and_port():
    check_sent_header("v1")


def test_v2_towards_the_backend_carries_the_client_address_and_port():
    check_sent_header("v2")


def test_a_retry_on_another_backend_sends_the_header_again():
    s = Setup(send="v2", refused_first=True)
    try:
        for _ in range(4):  # round robin: some of these first try the refusing backend
            seen, me = exchange(s.port, [b"hello"])
            assert (seen["version"], seen["src"], seen["sport"]) == (2, me[0], me[1]), seen
            assert seen["sha256"] == hashlib.sha256(b"hello").hexdigest(), seen
    finally:
        s.close()


def check_accepted_then_forwarded(client_header):
    s = Setup(send="v2", accept=True)
    try:
        seen, _ = exchange(s.port, [client_header + b"payload"])
        assert seen["version"] == 2, seen
        assert (seen["src"], seen["sport"]) == ("203.0.113.9", 4242), seen
        assert (seen["dst"], seen["dport"]) == ("198.51.100.20", 8443), seen
        assert seen["sha256"] == hashlib.sha256(b"payload").hexdigest(), seen
    finally:
        s.close()


def test_an_accepted_v1_header_is_forwarded_as_v2_with_the_claimed_address():
    check_accepted_then_forwarded(b"PROXY TCP4 203.0.113.9 198.51.100.20 4242 8443\r\n")


def test_an_accepted_v2_header_is_forwarded_as_v2_with_the_claimed_address():
    check_accepted_then_forwarded(v2_header("203.0.113.9", 4242, "198.51.100.20", 8443))


def test_a_malformed_header_closes_the_connection_and_the_backend_gets_nothing():
    s = Setup(send="v2", accept=True)
    try:
        # The harness's readiness probe (connect, close, no header) counts once.
        wait_until(lambda: rejected(s.admin, "bad_request") == 1, what="the probe counted")
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"PROXY TCP4 203.0.113.9 198.51.100.20 4242 99999\r\nsecret")
            try:
                assert c.recv(100) == b""
            except ConnectionResetError:
                pass
        wait_until(lambda: rejected(s.admin, "bad_request") == 2, what="the rejection counted")
        assert s.backend.connections == 0
        assert "PROXY protocol header rejected" in s.lb.stderr()
    finally:
        s.close()


def test_a_client_that_sends_no_header_is_dropped_after_the_header_timeout():
    s = Setup(send="v2", accept=True)
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=20) as c:
            start = time.monotonic()
            try:
                assert c.recv(100) == b""
            except ConnectionResetError:
                pass
            assert 4 <= time.monotonic() - start < 15
        wait_until(lambda: rejected(s.admin, "header_timeout") == 1, what="the timeout counted")
        assert s.backend.connections == 0
    finally:
        s.close()


def test_a_header_split_across_several_writes_is_reassembled():
    s = Setup(send="v1", accept=True)
    try:
        header = v2_header("203.0.113.9", 4242, "198.51.100.20", 8443)
        pieces = [header[:1], header[1:7], header[7:13], header[13:20], header[20:] + b"x", b"yz"]
        seen, _ = exchange(s.port, pieces, pause=0.05)
        assert (seen["version"], seen["src"], seen["sport"]) == (1, "203.0.113.9", 4242), seen
        assert seen["sha256"] == hashlib.sha256(b"xyz").hexdigest(), seen
    finally:
        s.close()


def test_a_mebibyte_after_the_header_arrives_intact():
    s = Setup(send="v2", accept=True)
    try:
        payload = os.urandom(1 << 20)
        header = b"PROXY TCP4 203.0.113.9 198.51.100.20 4242 8443\r\n"
        seen, _ = exchange(s.port, [header + payload[:1000], payload[1000:]])
        assert seen["length"] == len(payload), seen
        assert seen["sha256"] == hashlib.sha256(payload).hexdigest(), seen
    finally:
        s.close()


# --- http listeners with accept_proxy_protocol


class ForwardingBackend(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the forwarding headers it received, as JSON."""
    protocol_version = "HTTP/1.1"
    connections = 0
    lock = threading.Lock()

    def setup(self):
        super().setup()
        with ForwardingBackend.lock:
            ForwardingBackend.connections += 1

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - the http.server naming
        body = json.dumps({"xff": self.headers.get("X-Forwarded-For"),
                           "forwarded": self.headers.get("Forwarded"),
                           "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def self_signed_certificate(d):
    return pki.self_signed(d, "a.test", "a.test")


class HttpSetup:
    """An http listener `web` with accept_proxy_protocol (TLS if asked), an
    access log, and the ForwardingBackend behind it."""

    def __init__(self, tls=False):
        ForwardingBackend.connections = 0
        self.backend = ThreadingServer(("127.0.0.1", 0), ForwardingBackend)
        threading.Thread(target=self.backend.serve_forever, daemon=True).start()
        self.dir = tempfile.TemporaryDirectory(prefix="ringlb-pp-")
        self.log = os.path.join(self.dir.name, "access.log")
        self.port = free_port()
        self.admin = free_port()
        tls_section = ""
        if tls:
            cert, key = self_signed_certificate(self.dir.name)
            tls_section = f"""[listeners.web.tls]
certificates = [{{ cert = "{cert}", key = "{key}" }}]
"""
        text = f"""
[global]
workers = 2
log_level = "debug"
access_log = "{self.log}"

[admin]
bind = "127.0.0.1:{self.admin}"

[pools.app]
backends = ["127.0.0.1:{self.backend.server_address[1]}"]

[listeners.web]
bind = "127.0.0.1:{self.port}"
mode = "http"
pool = "app"
header_timeout = "2s"
accept_proxy_protocol = true
{tls_section}"""
        self.lb = Ringlb(ARGS.ringlb, text, [self.port, self.admin])

    def access_log(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines()]

    def close(self):
        self.lb.close()
        self.backend.shutdown()
        self.backend.server_close()
        self.dir.cleanup()


def parse_response(buf):
    """(status, body, bytes used) once `buf` holds a whole response with a
    Content-Length body, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if len(buf) < end + 4 + length:
        return None
    return int(lines[0].split(" ")[1]), buf[end + 4:end + 4 + length], end + 4 + length


def get_request(path="/", close=False):
    extra = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: app.test\r\n{extra}\r\n".encode()


class RawClient:
    """A plaintext connection that sends exact bytes and reads responses."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def response(self):
        while (parsed := parse_response(self.buf)) is None:
            data = self.sock.recv(65536)
            assert data, f"connection closed after {self.buf!r}"
            self.buf += data
        status, body, used = parsed
        self.buf = self.buf[used:]
        return status, json.loads(body)

    def closed_silently(self):
        """True if the server closes without sending a byte."""
        try:
            return self.sock.recv(100) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


CLAIMED_V1 = b"PROXY TCP4 203.0.113.9 198.51.100.20 4242 8443\r\n"
CLAIMED_V2 = v2_header("203.0.113.9", 4242, "198.51.100.20", 8443)


def check_http_claimed_address(header):
    s = HttpSetup()
    try:
        c = RawClient(s.port)
        c.send(header + get_request("/one"))
        status, seen = c.response()
        c.close()
        assert status == 200, (status, seen)
        assert seen["xff"] == "203.0.113.9", seen
        assert seen["forwarded"].startswith("for=203.0.113.9;"), seen
        wait_until(lambda: len(s.access_log()) == 1, what="the access log line")
        assert s.access_log()[0]["client"] == "203.0.113.9:4242", s.access_log()
    finally:
        s.close()


def test_http_a_v1_header_makes_the_claimed_address_the_forwarded_client():
    check_http_claimed_address(CLAIMED_V1)


def test_http_a_v2_header_makes_the_claimed_address_the_forwarded_client():
    check_http_claimed_address(CLAIMED_V2)


def test_http_a_v2_local_header_keeps_the_socket_peer_address():
    s = HttpSetup()
    try:
        local = V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
        c = RawClient(s.port)
        c.send(local + get_request())
        status, seen = c.response()
        c.close()
        assert (status, seen["xff"]) == (200, "127.0.0.1"), seen
    finally:
        s.close()


def test_http_a_header_split_across_writes_is_reassembled_and_the_request_follows():
    s = HttpSetup()
    try:
        data = CLAIMED_V2 + get_request("/split")
        c = RawClient(s.port)
        for piece in (data[:1], data[1:9], data[9:20], data[20:30], data[30:]):
            c.send(piece)
            time.sleep(0.05)  # shapes traffic into separate segments, not synchronisation
        status, seen = c.response()
        c.close()
        assert (status, seen["path"], seen["xff"]) == (200, "/split", "203.0.113.9"), seen
    finally:
        s.close()


def test_http_keep_alive_requests_keep_the_claimed_address():
    s = HttpSetup()
    try:
        c = RawClient(s.port)
        c.send(CLAIMED_V1 + get_request("/first"))
        first = c.response()
        c.send(get_request("/second"))
        second = c.response()
        c.close()
        assert first[1]["xff"] == second[1]["xff"] == "203.0.113.9", (first, second)
        assert second[1]["path"] == "/second", second
    finally:
        s.close()


def check_http_rejected_silently(s, data, count):
    c = RawClient(s.port)
    c.send(data)
    assert c.closed_silently()
    c.close()
    wait_until(lambda: rejected(s.admin, "bad_request", "web") == count, what="the rejection")


def test_http_a_malformed_header_or_none_closes_without_answer_or_backend_contact():
    s = HttpSetup()
    try:
        # The harness's readiness probe (connect, close, no header) counts once.
        wait_until(lambda: rejected(s.admin, "bad_request", "web") == 1, what="the probe counted")
        check_http_rejected_silently(s, b"PROXY TCP4 203.0.113.9 198.51.100.20 4242 99999\r\n"
                                     + get_request(), 2)
        check_http_rejected_silently(s, get_request(), 3)
        assert ForwardingBackend.connections == 0
        assert "PROXY protocol header rejected" in s.lb.stderr()
    finally:
        s.close()


def test_http_a_client_that_sends_no_header_is_dropped_after_the_header_timeout():
    s = HttpSetup()
    try:
        c = RawClient(s.port)
        c.sock.settimeout(20)
        start = time.monotonic()
        assert c.closed_silently()
        assert 1.5 <= time.monotonic() - start < 10
        c.close()
        wait_until(lambda: rejected(s.admin, "header_timeout", "web") == 1, what="the timeout")
        assert ForwardingBackend.connections == 0
    finally:
        s.close()


def tls_exchange(port, header, requests):
    """PROXY header and ClientHello in one write, then `requests` one at a
    time over TLS (memory BIOs); returns the decoded JSON answers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the PROXY path is under test, not the certificate
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="a.test")
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        prefix = header

        def flush():
            nonlocal prefix
            data = prefix + outgoing.read()
            prefix = b""
            if data:
                sock.sendall(data)

        def feed():
            data = sock.recv(65536)
            assert data, "connection closed during TLS"
            incoming.write(data)

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                feed()
        flush()
        for request in requests:
            tls.write(request)
            flush()
            buf = b""
            while (parsed := parse_response(buf)) is None:
                try:
                    buf += tls.read(65536)
                except ssl.SSLWantReadError:
                    flush()
                    feed()
            answers.append(json.loads(parsed[1]))
    return answers


def test_https_a_header_before_the_client_hello_gives_the_claimed_address():
    s = HttpSetup(tls=True)
    try:
        answers = tls_exchange(s.port, CLAIMED_V2, [get_request("/a"), get_request("/b")])
        assert [a["xff"] for a in answers] == ["203.0.113.9", "203.0.113.9"], answers
        assert answers[1]["forwarded"].endswith(";proto=https"), answers
    finally:
        s.close()


if __name__ == "__main__":
    run_module(globals())
