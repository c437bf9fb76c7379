"""TLS termination on an http listener end to end: certificates made by the
`openssl` command line (a CA and leaves for a.test and b.test), curl and
`openssl s_client` as clients, a plain HTTP/1.1 backend that records what it
received. Everything on 127.0.0.1; names are pinned with curl --resolve."""

import hashlib
import http.client
import http.server
import os
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading

import pki
from harness import Ringlb, free_port, parse_args, run_module

ARGS = parse_args()
BIG = 10 << 20  # 10 MiB


def make_pki(d):
    pki.self_signed(d, "ca", "ringlb test CA")
    for name in ("a.test", "b.test"):
        pki.signed(d, name, name, "ca", san=f"DNS:{name}")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = []  # (method, path, X-Forwarded-Proto, Forwarded)
    connections = 0
    lock = threading.Lock()

    def setup(self):
        super().setup()
        with Handler.lock:
            Handler.connections += 1

    def log_message(self, *args):
        pass

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with Handler.lock:
            Handler.received.append((self.command, self.path, self.headers.get("X-Forwarded-Proto"),
                                     self.headers.get("Forwarded")))
        if self.path == "/big":
            self._answer(big_body())
        else:
            self._answer(f"backend {self.path} proto={self.headers.get('X-Forwarded-Proto')}".encode())

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        h = hashlib.sha256()
        while length:
            chunk = self.rfile.read(min(length, 1 << 16))
            h.update(chunk)
            length -= len(chunk)
        self._answer(h.hexdigest().encode())


def big_body():
    return (bytes(range(256)) * 4096) * (BIG // (256 * 4096))


class Backend(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


PKI = tempfile.TemporaryDirectory(prefix="ringlb-https-")
make_pki(PKI.name)
CA = os.path.join(PKI.name, "ca.pem")
BACKEND = Backend(("127.0.0.1", 0), Handler)
threading.Thread(target=BACKEND.serve_forever, daemon=True).start()
PORT = free_port()
ADMIN = free_port()

CONFIG = f"""
[global]
workers = 2
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{ADMIN}"

[pools.web]
backends = ["127.0.0.1:{BACKEND.server_address[1]}"]

[listeners.web]
bind = "127.0.0.1:{PORT}"
mode = "http"
pool = "web"
header_timeout = "2s"
[listeners.web.tls]
certificates = [
  {{ cert = "{PKI.name}/a.test.pem", key = "{PKI.name}/a.test.key" }},
  {{ cert = "{PKI.name}/b.test.pem", key = "{PKI.name}/b.test.key" }},
]
"""
LB = Ringlb(ARGS.ringlb, CONFIG, ports_to_wait=[PORT])


def curl(name, path, *extra):
    return subprocess.run(
        ["curl", "-sS", "--fail", "--max-time", "30", "--cacert", CA,
         "--resolve", f"{name}:{PORT}:127.0.0.1", *extra, f"https://{name}:{PORT}{path}"],
        capture_output=True, check=True).stdout


def s_client(*args, data=b""):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{PORT}", *args],
                          input=data, capture_output=True, timeout=30)


def tls_socket(name="a.test"):
    ctx = ssl.create_default_context(cafile=CA)
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", PORT), timeout=10),
                           server_hostname=name)


def test_curl_gets_the_backend_answer_over_https():
    assert curl("a.test", "/hello") == b"backend /hello proto=https"


def test_the_backend_sees_x_forwarded_proto_and_forwarded_https():
    curl("a.test", "/proto")
    with Handler.lock:
        seen = [r for r in Handler.received if r[1] == "/proto"]
    assert seen and seen[-1][2] == "https", seen
    assert "proto=https" in seen[-1][3], seen


def test_sni_b_test_gets_the_b_certificate():
    out = s_client("-servername", "b.test", "-CAfile", CA, "-verify_return_error", data=b"Q\n")
    text = out.stdout.decode(errors="replace")
    assert "subject=CN = b.test" in text, text
    assert curl("b.test", "/b") == b"backend /b proto=https"


def test_no_sni_gets_the_first_certificate():
    out = s_client("-noservername", data=b"Q\n")
    assert "subject=CN = a.test" in out.stdout.decode(errors="replace")


def test_openssl_s_client_sessions_resume_on_either_worker():
    request = b"GET /r HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    for version in ("-tls1_3", "-tls1_2"):
        with tempfile.TemporaryDirectory() as d:
            session = os.path.join(d, "session.pem")
            common = (version, "-servername", "a.test", "-CAfile", CA, "-ign_eof")
            first = s_client(*common, "-sess_out", session, data=request).stdout
            assert b"New, TLSv1." in first, first
            reused = []
            for _ in range(10):  # two workers: each lands on one by the kernel's hash
                out = s_client(*common, "-sess_in", session, "-sess_out", session,
                               data=request).stdout
                reused.append(b"Reused, TLSv1." in out)
            assert all(reused), f"{version}: {reused.count(False)} of 10 made a full handshake"


def test_many_requests_share_one_tls_connection():
    with tls_socket() as sock:
        conn = http.client.HTTPConnection("a.test", PORT)
        conn.sock = sock
        for i in range(50):
            conn.request("GET", f"/k{i}")
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, f"backend /k{i} proto=https".encode())
        assert conn.sock is sock  # never reconnected


def test_a_10_mib_upload_arrives_intact():
    body = os.urandom(BIG)
    path = os.path.join(PKI.name, "upload.bin")
    with open(path, "wb") as f:
        f.write(body)
    got = curl("a.test", "/upload", "--data-binary", f"@{path}", "-H",
               "Content-Type: application/octet-stream")
    assert got.decode() == hashlib.sha256(body).hexdigest()


def test_a_10_mib_download_arrives_intact():
    got = curl("a.test", "/big")
    assert len(got) == BIG
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(big_body()).hexdigest()


def test_plaintext_http_to_the_tls_port_is_closed_without_backend_contact():
    before = Handler.connections
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
        s.sendall(b"GET /plain HTTP/1.1\r\nHost: a.test\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert b"HTTP/1.1" not in data, data
    assert Handler.connections == before
    with Handler.lock:
        assert not [r for r in Handler.received if r[1] == "/plain"]


def test_tls_1_1_is_refused():
    out = s_client("-tls1_1", "-servername", "a.test", data=b"Q\n")
    assert out.returncode != 0
    assert "Cipher is (NONE)" in out.stdout.decode(errors="replace") or \
        "alert" in out.stderr.decode(errors="replace")


def test_random_bytes_after_a_client_hello_close_the_connection():
    # A real ClientHello (from Python's ssl in memory), then garbage records.
    ctx = ssl.create_default_context(cafile=CA)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="a.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
        s.sendall(hello + os.urandom(64 << 10))
        while s.recv(65536):
            pass  # the server's flight, then EOF: the connection was closed
    assert curl("a.test", "/after-garbage") == b"backend /after-garbage proto=https"


def test_handshake_failures_are_counted():
    with socket.create_connection(("127.0.0.1", ADMIN), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = [l for l in data.decode().splitlines()
             if l.startswith("ringlb_rejected_total") and 'reason="tls_handshake"' in l]
    assert lines and float(lines[0].split()[-1]) >= 1, lines


def test_zz_sigterm_exits_zero():
    assert LB.stop(timeout=10) == 0, LB.stderr()
    assert "Assertion" not in LB.stderr()


def test_zz_a_key_that_does_not_match_makes_run_exit_1_naming_the_file():
    bad = CONFIG.replace(f"{PKI.name}/a.test.key", f"{PKI.name}/b.test.key")
    lb = Ringlb(ARGS.ringlb, bad)
    try:
        code = lb.proc.wait(timeout=10)
        assert code == 1, lb.stderr()
        assert f"{PKI.name}/b.test.key" in lb.stderr(), lb.stderr()
    finally:
        lb.close()


if __name__ == "__main__":
    run_module(globals(), LB.close, BACKEND.shutdown, PKI.cleanup)
