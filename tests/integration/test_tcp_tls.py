"""TLS on a tcp listener: TLS clients reach a plaintext backend through the
stream's TLS filter, SNI picks the certificate, no ALPN is offered, and
clients that do not finish a handshake are closed and counted without a
backend connection."""

import os
import socket
import ssl
import time
import urllib.request

from harness import EchoServer, Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()
CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "certs")
PORT = free_port()
ADMIN = free_port()
ECHO = EchoServer()


def config():
    return f"""
[global]
workers = 2
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{ADMIN}"

[pools.echo]
backends = ["127.0.0.1:{ECHO.port}"]

[listeners.secure]
bind = "127.0.0.1:{PORT}"
mode = "tcp"
pool = "echo"

[listeners.secure.tls]
handshake_timeout = "2s"
certificates = [
  {{ cert = "{CERTS}/demo.pem", key = "{CERTS}/demo.key" }},
  {{ cert = "{CERTS}/demo-admin.pem", key = "{CERTS}/demo-admin.key" }},
]
"""


LB = Ringlb(ARGS.ringlb, config(), [PORT, ADMIN])


def tls_client(server_name, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1", "postgresql"])
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=server_name)


def metric(name, **labels):
    with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN}/metrics", timeout=5) as r:
        text = r.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and want in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_tls_client_reaches_the_plaintext_backend_and_back():
    with tls_client("app.example.com", os.path.join(CERTS, "demo.pem")) as s:
        payload = os.urandom(200_000)
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            assert chunk, "closed early"
            got += chunk
        assert got == payload
        assert s.selected_alpn_protocol() is None, "a tcp listener offers no ALPN"


def resumption_attempts(version, attempts=20):
    """One full handshake, then `attempts` connections each offering the
    ticket of the one before (as browsers do); True for each that resumed.
    SO_REUSEPORT spreads the connections over both workers."""
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "demo.pem"))
    ctx.minimum_version = ctx.maximum_version = version
    session, reused = None, []
    for i in range(attempts + 1):
        raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        with ctx.wrap_socket(raw, server_hostname="app.example.com", session=session) as s:
            s.sendall(b"x")  # a round trip: TLS 1.3 tickets come after the handshake
            assert s.recv(1) == b"x"
            if i > 0:
                reused.append(s.session_reused)
            session = s.session
    return reused


def test_a_tls13_ticket_resumes_on_any_worker():
    reused = resumption_attempts(ssl.TLSVersion.TLSv1_3)
    assert all(reused), f"{reused.count(False)} of {len(reused)} attempts made a full handshake"


def test_a_tls12_ticket_resumes_on_any_worker():
    reused = resumption_attempts(ssl.TLSVersion.TLSv1_2)
    assert all(reused), f"{reused.count(False)} of {len(reused)} attempts made a full handshake"


def test_a_ticket_from_before_a_reload_resumes_after_it():
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "demo.pem"))

    def connect(session=None):
        raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        with ctx.wrap_socket(raw, server_hostname="app.example.com", session=session) as s:
            s.sendall(b"x")
            assert s.recv(1) == b"x"
            return s.session, s.session_reused

    session, _ = connect()
    before = LB.stderr().count("reload done")
    LB.reload()  # rebuilds every TLS context from the files
    wait_until(lambda: LB.stderr().count("reload done") > before, what="the reload")
    reused = []
    for _ in range(6):
        session, was_reused = connect(session)
        reused.append(was_reused)
    assert all(reused), reused


def test_sni_picks_the_certificate_for_the_name():
    with tls_client("admin.example.org", os.path.join(CERTS, "demo-admin.pem")) as s:
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        assert subject["commonName"] == "admin.example.org", subject
        s.sendall(b"ping")
        assert s.recv(100) == b"ping"


def test_unknown_names_get_the_first_certificate():
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "demo.pem"))
    ctx.check_hostname = False
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", PORT), timeout=10),
                         server_hostname="unknown.test") as s:
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        assert subject["commonName"] == "app.example.com", subject


def test_half_close_after_tls_still_gets_the_answer():
    with tls_client("localhost", os.path.join(CERTS, "demo.pem")) as s:
        s.sendall(b"last words")
        # TLS has no half-close of its own: the echo answers before the EOF.
        got = b""
        while len(got) < 10:
            got += s.recv(100)
        assert got == b"last words"


def test_plaintext_bytes_are_refused_without_a_backend_connection():
    before = ECHO.connections
    failures = metric("ringlb_rejected_total", listener="secure", reason="tls_handshake")
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        assert b"HTTP" not in data, "never answered in plaintext"
    wait_until(lambda: metric("ringlb_rejected_total", listener="secure",
                              reason="tls_handshake") > failures, what="the failure counted")
    assert ECHO.connections == before, "no backend connection for a failed handshake"


def client_hello():
    """The first flight of a real TLS client, made in memory."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="app.example.com")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def test_truncated_records_close_the_connection_and_are_counted():
    hello = client_hello()
    for cut in (3, 5, len(hello) // 2, len(hello) - 1):  # inside the header, inside the body
        before = ECHO.connections
        failed = metric("ringlb_tls_handshakes_total", listener="secure", result="failed")
        with socket.create_connection(("127.0.0.1", PORT), timeout=10) as s:
            s.sendall(hello[:cut])
            s.shutdown(socket.SHUT_WR)  # the record never completes
            try:
                assert s.recv(100) == b"", f"cut at {cut}: answered"
            except ConnectionResetError:
                pass
        wait_until(lambda: metric("ringlb_tls_handshakes_total", listener="secure",
                                  result="failed") == failed + 1, what=f"cut at {cut} counted")
        assert ECHO.connections == before, "no backend connection"


def test_a_client_that_never_finishes_its_handshake_is_dropped():
    before = metric("ringlb_tls_handshakes_total", listener="secure", result="timeout")
    with socket.create_connection(("127.0.0.1", PORT), timeout=20) as s:
        start = time.monotonic()
        s.sendall(b"\x16\x03\x01")  # the start of a record, then nothing
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        assert 1.8 <= time.monotonic() - start < 8, "handshake_timeout is 2 s"
    wait_until(lambda: metric("ringlb_tls_handshakes_total", listener="secure",
                              result="timeout") == before + 1, what="the timeout counted")


def test_handshakes_are_counted_by_result_and_resumption():
    def count(**labels):
        return metric("ringlb_tls_handshakes_total", listener="secure", **labels)

    full, resumed = count(result="ok", resumed="false"), count(result="ok", resumed="true")
    failed = count(result="failed")
    attempts = resumption_attempts(ssl.TLSVersion.TLSv1_3, attempts=3)
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello")  # a record that is no ClientHello
        s.recv(100)
    wait_until(lambda: count(result="failed") == failed + 1, what="the failure counted")
    assert count(result="ok", resumed="false") == full + 1
    assert count(result="ok", resumed="true") == resumed + sum(attempts) == resumed + 3


def test_min_version_1_3_refuses_tls_1_2_clients():
    port = free_port()
    lb = Ringlb(ARGS.ringlb, config().replace(f"127.0.0.1:{PORT}", f"127.0.0.1:{port}")
                .replace(f'bind = "127.0.0.1:{ADMIN}"', f'bind = "127.0.0.1:{free_port()}"')
                .replace('handshake_timeout = "2s"', 'min_version = "1.3"'), [port])
    try:
        def connect(version):
            ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "demo.pem"))
            ctx.minimum_version = ctx.maximum_version = version
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            with ctx.wrap_socket(raw, server_hostname="app.example.com") as s:
                return s.version()

        assert connect(ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        try:
            connect(ssl.TLSVersion.TLSv1_2)
            raise AssertionError("a TLS 1.2 client got through min_version = 1.3")
        except ssl.SSLError as e:
            assert "PROTOCOL_VERSION" in str(e).upper() or "VERSION" in str(e).upper(), e
        assert lb.stop() == 0
    finally:
        lb.close()


def test_zz_clean_exit():
    assert LB.stop() == 0


if __name__ == "__main__":
    run_module(globals(), LB.close, ECHO.stop)
