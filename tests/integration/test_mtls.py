"""Mutual TLS on listeners: client certificates verified against client_ca
(required and optional), the verified identity passed to http backends in
X-Client-Verify / X-Client-Cert-Subject / X-Client-Cert-SAN, the same fields
from clients dropped on every listener, and a tcp listener that admits only
clients with a certificate. Clients: curl, openssl s_client, Python ssl."""

import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import urllib.request

import pki
from harness import EchoServer, Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()
CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "certs")
CLIENT = (os.path.join(CERTS, "demo-client.pem"), os.path.join(CERTS, "demo-client.key"))
SERVER_CA = os.path.join(CERTS, "demo.pem")  # self-signed server certificate


def make_other_client(d):
    """A client certificate from a CA the listeners do not know."""
    pki.self_signed(d, "ca", "another CA")
    return pki.signed(d, "other", "demo-client", "ca")


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers with the X-Client-* fields it received, as JSON."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        seen = {k: v for k, v in self.headers.items() if k.lower().startswith("x-client")}
        body = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Backend(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


BACKEND = Backend(("127.0.0.1", 0), Handler)
threading.Thread(target=BACKEND.serve_forever, daemon=True).start()
ECHO = EchoServer()
OTHER_DIR = tempfile.TemporaryDirectory()
OTHER = make_other_client(OTHER_DIR.name)
REQUIRED, OPTIONAL, PLAIN, STREAM, ADMIN = (free_port() for _ in range(5))

CONFIG = f"""
[global]
workers = 2

[admin]
bind = "127.0.0.1:{ADMIN}"

[pools.app]
backends = ["127.0.0.1:{BACKEND.server_address[1]}"]

[pools.echo]
backends = ["127.0.0.1:{ECHO.port}"]

[listeners.required]
bind = "127.0.0.1:{REQUIRED}"
mode = "http"
pool = "app"
[listeners.required.tls]
client_ca = "{CERTS}/demo-client-ca.pem"
certificates = [{{ cert = "{CERTS}/demo.pem", key = "{CERTS}/demo.key" }}]

[listeners.optional]
bind = "127.0.0.1:{OPTIONAL}"
mode = "http"
pool = "app"
[listeners.optional.tls]
client_ca = "{CERTS}/demo-client-ca.pem"
client_verify = "optional"
certificates = [{{ cert = "{CERTS}/demo.pem", key = "{CERTS}/demo.key" }}]

[listeners.plain]
bind = "127.0.0.1:{PLAIN}"
mode = "http"
pool = "app"

[listeners.stream]
bind = "127.0.0.1:{STREAM}"
mode = "tcp"
pool = "echo"
[listeners.stream.tls]
client_ca = "{CERTS}/demo-client-ca.pem"
certificates = [{{ cert = "{CERTS}/demo.pem", key = "{CERTS}/demo.key" }}]
"""

LB = Ringlb(ARGS.ringlb, CONFIG, [REQUIRED, OPTIONAL, PLAIN, STREAM, ADMIN])


def curl(port, *extra, scheme="https"):
    """(exit code, parsed JSON body or None)."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", SERVER_CA,
                        "--resolve", f"app.example.com:{port}:127.0.0.1", *extra,
                        f"{scheme}://app.example.com:{port}/"], capture_output=True)
    body = json.loads(r.stdout) if r.returncode == 0 and r.stdout else None
    return r.returncode, body


def with_cert(cert=CLIENT):
    return ("--cert", cert[0], "--key", cert[1])


def handshakes(listener, result):
    with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("ringlb_tls_handshakes_total{")
               and f'listener="{listener}"' in line and f'result="{result}"' in line)


def test_a_verified_client_reaches_the_backend_with_its_identity():
    code, seen = curl(REQUIRED, *with_cert())
    assert code == 0, code
    assert seen["X-Client-Verify"] == "SUCCESS", seen
    assert seen["X-Client-Cert-Subject"] == "CN=demo-client,O=Example", seen
    assert seen["X-Client-Cert-SAN"] == ("URI:spiffe://example.com/demo-client, "
                                         "email:demo@example.com"), seen


def test_required_refuses_a_client_without_a_certificate():
    before = handshakes("required", "failed")
    code, _ = curl(REQUIRED)
    assert code != 0, "a client without a certificate got through"
    wait_until(lambda: handshakes("required", "failed") > before, what="the failure counted")


def test_a_certificate_from_another_ca_is_refused_on_both_listeners():
    for port in (REQUIRED, OPTIONAL):
        code, _ = curl(port, *with_cert(OTHER))
        assert code != 0, f"port {port}: a certificate from another CA got through"


def test_optional_lets_a_client_without_a_certificate_in_unauthenticated():
    code, seen = curl(OPTIONAL)
    assert code == 0, code
    assert seen == {"X-Client-Verify": "NONE"}, seen
    code, seen = curl(OPTIONAL, *with_cert())
    assert code == 0 and seen["X-Client-Verify"] == "SUCCESS", (code, seen)


def test_identity_fields_sent_by_a_client_never_reach_the_backend():
    forged = ("-H", "X-Client-Verify: SUCCESS", "-H", "X-Client-Cert-Subject: CN=admin",
              "-H", "x-client-cert-san: DNS:admin")
    code, seen = curl(OPTIONAL, *forged)
    assert code == 0 and seen == {"X-Client-Verify": "NONE"}, (code, seen)
    code, seen = curl(REQUIRED, *with_cert(), *forged)
    assert code == 0 and seen["X-Client-Cert-Subject"] == "CN=demo-client,O=Example", seen
    code, seen = curl(PLAIN, *forged, scheme="http")
    assert code == 0 and seen == {}, (code, seen)


def test_s_client_sees_the_acceptable_ca_names():
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{REQUIRED}",
                        "-servername", "app.example.com"],
                       input=b"", capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace")
    assert "Acceptable client certificate CA names" in out, out
    assert "ringlb demo client CA" in out, out


def test_a_tcp_listener_admits_only_clients_with_a_certificate():
    def roundtrip(cert):
        ctx = ssl.create_default_context(cafile=SERVER_CA)
        if cert:
            ctx.load_cert_chain(*cert)
        raw = socket.create_connection(("127.0.0.1", STREAM), timeout=10)
        with ctx.wrap_socket(raw, server_hostname="app.example.com") as s:
            s.sendall(b"ping")
            return s.recv(4)

    assert roundtrip(CLIENT) == b"ping"
    for cert in (None, OTHER):
        try:
            got = roundtrip(cert)
        except (ssl.SSLError, ConnectionError):
            continue  # refused at the handshake (TLS 1.2) or at the first read (TLS 1.3)
        raise AssertionError(f"{cert}: the echo answered {got!r} without a valid certificate")


def test_zz_clean_exit():
    assert LB.stop() == 0


if __name__ == "__main__":
    run_module(globals(), LB.close, ECHO.stop, BACKEND.shutdown)
