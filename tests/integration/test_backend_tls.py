"""TLS towards backends ([pools.NAME.tls]): verification on by default (CA
file, name via server_name or the backend's IP address), SNI and ALPN
http/1.1, a client certificate for backends that ask, resumption of the last
session, tcp listeners over TLS pools, and every failure a 502 whose warning
says why (unknown CA, name mismatch, missing client certificate)."""

import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading

import pki
from harness import Ringlb, free_port, metrics_text, parse_args, run_module, wait_until

ARGS = parse_args()
PKI = tempfile.TemporaryDirectory()
D = PKI.name


def sh(*cmd):
    subprocess.run(cmd, check=True, cwd=D, capture_output=True)


def ca(name, cn):
    pki.self_signed(D, name, cn)


def leaf(name, cn, san, issuer, extra=()):
    return pki.signed(D, name, cn, issuer, san=san, extra=extra)


ca("ca", "backend CA")
ca("otherca", "another CA")
GOOD = leaf("good", "backend.test", "DNS:backend.test,IP:127.0.0.1", "ca")
WRONG_NAME = leaf("wrongname", "other.test", "DNS:other.test", "ca")
OTHER_CA = leaf("foreign", "backend.test", "DNS:backend.test", "otherca")
CLIENT = leaf("client", "ringlb", "DNS:ringlb.test", "ca")
CA = os.path.join(D, "ca.pem")


class TlsBackend(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """An HTTPS backend that answers with what it saw of the TLS connection.
    `close`: every response ends its connection (new TLS connections)."""
    daemon_threads = True

    def __init__(self, cert, require_client_cert=False, close=False):
        self.seen_sni, self.close_each = [], close
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.sni_callback = lambda sock, name, _: self.seen_sni.append(name)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(CA)
        self.ctx = ctx
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request, client_address):
        pass  # failed handshakes are what some tests make

    @property
    def port(self):
        return self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        s = self.connection
        peer = s.getpeercert()
        subject = dict(x[0] for x in peer["subject"]) if peer else {}
        body = json.dumps({"alpn": s.selected_alpn_protocol(), "resumed": s.session_reused,
                           "client_cn": subject.get("commonName"), "version": s.version()})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.server.close_each:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body.encode())


class EchoTls:
    def __init__(self, cert):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

        def serve(conn):
            try:
                with ctx.wrap_socket(conn, server_side=True) as s:
                    while data := s.recv(65536):
                        s.sendall(data)
            except (OSError, ssl.SSLError):
                pass

        def accept():
            while True:
                try:
                    c, _ = self.sock.accept()
                except OSError:
                    return
                threading.Thread(target=serve, args=(c,), daemon=True).start()
        threading.Thread(target=accept, daemon=True).start()


BACKENDS = {
    "good": TlsBackend(GOOD, close=True),
    "wrongname": TlsBackend(WRONG_NAME),
    "foreign": TlsBackend(OTHER_CA),
    "mtls": TlsBackend(GOOD, require_client_cert=True),
}
ECHO = EchoTls(GOOD)
PORTS = {name: free_port() for name in
         ("good", "byip", "wrongname", "foreign", "noverify", "mtls", "nocert", "stream",
          "checkedgood", "checkedbad")}

POOLS = {  # listener -> (backend port, [pools.NAME.tls] body)
    "good": (BACKENDS["good"].port, f'ca = "{CA}"\nserver_name = "backend.test"'),
    "byip": (BACKENDS["good"].port, f'ca = "{CA}"'),
    "wrongname": (BACKENDS["wrongname"].port, f'ca = "{CA}"\nserver_name = "backend.test"'),
    "foreign": (BACKENDS["foreign"].port, f'ca = "{CA}"\nserver_name = "backend.test"'),
    "noverify": (BACKENDS["foreign"].port, "verify = false"),
    "mtls": (BACKENDS["mtls"].port,
             f'ca = "{CA}"\nserver_name = "backend.test"\ncert = "{CLIENT[0]}"\n'
             f'key = "{CLIENT[1]}"'),
    "nocert": (BACKENDS["mtls"].port, f'ca = "{CA}"\nserver_name = "backend.test"'),
    "stream": (ECHO.port, f'ca = "{CA}"\nserver_name = "backend.test"'),
    "checkedgood": (BACKENDS["mtls"].port,
                    f'ca = "{CA}"\nserver_name = "backend.test"\ncert = "{CLIENT[0]}"\n'
                    f'key = "{CLIENT[1]}"'),
    "checkedbad": (BACKENDS["wrongname"].port, f'ca = "{CA}"\nserver_name = "backend.test"'),
}
HEALTH = '[pools.{name}.health]\ncheck = "http"\npath = "/"\ninterval = "200ms"\n' \
         'timeout = "150ms"\nrise = 1\nfall = 1\n'


ADMIN = free_port()


def config():
    parts = [f'[global]\nworkers = 1\n[admin]\nbind = "127.0.0.1:{ADMIN}"\n']
    for name, (port, tls) in POOLS.items():
        mode = "tcp" if name == "stream" else "http"
        parts.append(f"""
[pools.{name}]
backends = ["127.0.0.1:{port}"]
retries = 0
[pools.{name}.tls]
{tls}
{HEALTH.format(name=name) if name.startswith("checked") else ""}
[listeners.{name}]
bind = "127.0.0.1:{PORTS[name]}"
mode = "{mode}"
pool = "{name}"
""")
    return "".join(parts)


LB = Ringlb(ARGS.ringlb, config(), list(PORTS.values()) + [ADMIN])


def get(listener):
    """(status, parsed body or raw bytes)."""
    with socket.create_connection(("127.0.0.1", PORTS[listener]), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, (json.loads(body) if status == 200 else body)


def test_a_verified_backend_answers_with_sni_and_alpn():
    status, seen = get("good")
    assert status == 200, seen
    assert seen["alpn"] == "http/1.1", seen
    assert "backend.test" in BACKENDS["good"].seen_sni


def test_an_ip_backend_is_verified_against_its_ip_address_without_sni():
    before = list(BACKENDS["good"].seen_sni)
    status, seen = get("byip")
    assert status == 200, seen
    assert BACKENDS["good"].seen_sni[len(before):] == [None], "no SNI for an IP address"


def test_a_name_mismatch_is_a_502_that_says_why():
    status, _ = get("wrongname")
    assert status == 502
    wait_until(lambda: "TLS to 127.0.0.1" in LB.stderr() and "hostname mismatch" in LB.stderr(),
               what="the reason in the log")


def test_an_unknown_ca_is_a_502_that_says_why():
    status, _ = get("foreign")
    assert status == 502
    wait_until(lambda: "unable to get local issuer certificate" in LB.stderr()
               or "self-signed certificate in certificate chain" in LB.stderr(),
               what="the reason in the log")


def test_verify_false_connects_anyway_and_says_so():
    status, seen = get("noverify")
    assert status == 200, seen
    assert "without verification (verify = false)" in LB.stderr()


def test_a_backend_that_asks_for_a_client_certificate_gets_the_pools():
    status, seen = get("mtls")
    assert status == 200, seen
    assert seen["client_cn"] == "ringlb", seen
    status, _ = get("nocert")
    assert status == 502


def test_new_connections_resume_the_last_session():
    resumed = []
    for _ in range(5):  # the backend closes after each answer: a new TLS connection each time
        status, seen = get("good")
        assert status == 200, seen
        resumed.append(seen["resumed"])
    assert all(resumed[1:]), resumed


def test_a_tcp_listener_relays_over_a_tls_pool():
    with socket.create_connection(("127.0.0.1", PORTS["stream"]), timeout=10) as s:
        payload = os.urandom(300_000)
        threading.Thread(target=lambda: s.sendall(payload), daemon=True).start()
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            assert chunk, f"closed after {len(got)} bytes"
            got += chunk
    assert got == payload


def test_failures_are_counted_as_backend_failures():
    def failures():
        text = metrics_text(ADMIN)
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("ringlb_backend_connect_failures_total{")
                   and 'pool="wrongname"' in line)

    before = failures()
    assert get("wrongname")[0] == 502
    wait_until(lambda: failures() == before + 1, what="the failure counted for the backend")


def test_http_health_checks_go_over_tls_with_the_same_verification():
    wait_until(lambda: "pool checkedbad backend" in LB.stderr(), what="the bad backend's check")
    line = next(l for l in LB.stderr().splitlines() if "pool checkedbad backend" in l)
    assert "-> down" in line and "TLS: certificate verify failed: hostname mismatch" in line, line
    # The good one (it asks for the pool's client certificate) stays up and serves.
    for _ in range(3):
        status, seen = get("checkedgood")
        assert status == 200, seen
    good = [l for l in LB.stderr().splitlines() if "pool checkedgood backend" in l]
    assert good and all("-> up" in l for l in good), good


def test_zz_clean_exit():
    assert LB.stop() == 0


if __name__ == "__main__":
    run_module(globals(), LB.close)
