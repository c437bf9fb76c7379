"""HTTP/2 towards clients end to end: one ringlb (2 workers) with a TLS http
listener offering ALPN ["h2", "http/1.1"], a plain http listener with
["h2c", "http/1.1"] (HTTP/2 with prior knowledge beside HTTP/1.1), and a TLS
listener without `protocols` (HTTP/1.1 only), in front of three HTTP/1.1
backends this test runs on 127.0.0.1. The clients are real ones: curl, nghttp
and h2load (the nghttp2-client package). The backends name themselves in every
answer, echo the request head as JSON with the sha256 of the body they got,
serve a 5 MiB body, and hold /slow until the test lets it go. Every wait polls
a condition and is bounded in time; every command has a timeout."""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pki
from harness import (ScriptedServer, free_port, is_sanitized, metrics_text, parse_args,
                     read_http_request, run_tests, start_ringlb, wait_until)

ARGS = parse_args()
for tool in ("curl", "nghttp", "h2load", "openssl"):
    if shutil.which(tool) is None:
        print(f"SKIP: {tool} is not installed (.ci/install-deps.sh installs nghttp2-client)")
        sys.exit(77)
if "HTTP2" not in subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout:
    print("SKIP: this curl was built without HTTP/2")
    sys.exit(77)

SLOW = 3 if is_sanitized(ARGS.ringlb) else 1  # an ASan build is 2-3x slower
BIG = 5 << 20  # 5 MiB
BIG_BODY = os.urandom(BIG)
BIG_SHA = hashlib.sha256(BIG_BODY).hexdigest()
SLOW_ARRIVED = threading.Event()  # a backend holds a /slow request
SLOW_RELEASE = threading.Event()  # ... and answers it once this is set


# ---------------------------------------------------------------- the backends

class Backend:
    """An HTTP/1.1 backend (harness.ScriptedServer, keep-alive) named `name`.
    Every request is noted as a dict: backend, method, path, headers (a list
    of [name, value] in arrival order), body_len, body_sha256, complete.
    Answers: /big = BIG_BODY with Content-Length, /big-chunked = BIG_BODY
    chunked, /slow = the echo once SLOW_RELEASE is set, anything else = the
    note as JSON (the echo). Each answer carries X-Backend: name."""

    def __init__(self, name):
        self.name = name
        self.server = ScriptedServer(self._script, backlog=512)
        self.port = self.server.port

    def _script(self, conn, rfile, server):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while self._serve_one(conn, rfile, server):
            pass

    def _serve_one(self, conn, rfile, server):
        def expect_continue(req):
            if (req.header("expect") or "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        digest, received = hashlib.sha256(), [0]  # the body is hashed as it streams in

        def take(data):
            digest.update(data)
            received[0] += len(data)

        req = read_http_request(rfile, on_body=take, on_head=expect_continue)
        if req is None:
            return False
        method, target, headers, complete = req.method, req.target, req.headers, req.complete
        length = received[0]
        note = {"backend": self.name, "method": method, "path": target,
                "headers": [list(h) for h in headers], "body_len": length,
                "body_sha256": digest.hexdigest(), "complete": complete}
        server.note(note)
        if not complete:
            return False
        path = target.split("?", 1)[0]
        if path == "/slow":
            SLOW_ARRIVED.set()
            SLOW_RELEASE.wait(60)
        if path == "/big":
            conn.sendall(self._head(200, len(BIG_BODY)) + BIG_BODY)
        elif path == "/big-chunked":
            conn.sendall(self._head(200, None))
            for i in range(0, len(BIG_BODY), 65536):
                piece = BIG_BODY[i:i + 65536]
                conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
        else:
            body = json.dumps(note).encode()
            conn.sendall(self._head(200, len(body)) + (b"" if method == "HEAD" else body))
        return (req.header("connection") or "").lower() != "close"

    def _head(self, status, length):
        framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
        return (f"HTTP/1.1 {status} OK\r\nX-Backend: {self.name}\r\n"
                f"Content-Type: application/octet-stream\r\n{framing}\r\n\r\n").encode()

    def notes(self):
        with self.server.lock:
            return list(self.server.notes)

    def stop(self):
        self.server.stop()


def all_notes():
    return [n for b in BACKENDS for n in b.notes()]


def notes_for(path):
    return [n for n in all_notes() if n["path"] == path]


def wait_note(path, timeout=10.0):
    """The backend's note of the (single) request with this path."""
    wait_until(lambda: notes_for(path), timeout=timeout, what=f"a backend to receive {path}")
    found = notes_for(path)
    assert len(found) == 1, f"{path} reached the backends {len(found)} times: {found}"
    return found[0]


def header_values(note, name):
    return [v for k, v in note["headers"] if k.lower() == name.lower()]


# ---------------------------------------------------------------- the setup

TMP = tempfile.TemporaryDirectory(prefix="ringlb-h2-")
CERT, KEY = pki.self_signed(TMP.name, "h2", "h2.test", san="DNS:h2.test,IP:127.0.0.1")
ACCESS_LOG = os.path.join(TMP.name, "access.log")
BACKENDS = [Backend("A"), Backend("B"), Backend("C")]
WEB, PLAIN, LEGACY, ADMIN = free_port(), free_port(), free_port(), free_port()
H2ONLY, H2CONLY = free_port(), free_port()
TLS = f'[{{ cert = "{CERT}", key = "{KEY}" }}]'

CONFIG = f"""
[global]
workers = 2
drain_timeout = "2s"
access_log = "{ACCESS_LOG}"

[admin]
bind = "127.0.0.1:{ADMIN}"

[pools.app]
backends = [{", ".join(f'"127.0.0.1:{b.port}"' for b in BACKENDS)}]
passive_failures = 0

[listeners.web]
bind = "127.0.0.1:{WEB}"
mode = "http"
pool = "app"
protocols = ["h2", "http/1.1"]
[listeners.web.tls]
certificates = {TLS}

[listeners.plain]
bind = "127.0.0.1:{PLAIN}"
mode = "http"
pool = "app"
protocols = ["h2c", "http/1.1"]

[listeners.legacy]
bind = "127.0.0.1:{LEGACY}"
mode = "http"
pool = "app"
[listeners.legacy.tls]
certificates = {TLS}

[listeners.h2only]
bind = "127.0.0.1:{H2ONLY}"
mode = "http"
pool = "app"
protocols = ["h2"]
[listeners.h2only.tls]
certificates = {TLS}

[listeners.h2conly]
bind = "127.0.0.1:{H2CONLY}"
mode = "http"
pool = "app"
protocols = ["h2c"]
"""


def ringlb_check(text, name):
    path = os.path.join(TMP.name, f"{name}.toml")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([ARGS.ringlb, "check", "-c", path], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout + r.stderr


_code, _out = ringlb_check(CONFIG, "main")
if _code != 0:
    print(f"FAIL: `ringlb check` rejects the HTTP/2 test config (exit {_code}); is `protocols` "
          f"built in?\n{_out}\n--- config ---\n{CONFIG}", flush=True)
    sys.exit(1)
LB = start_ringlb(ARGS.ringlb, CONFIG, ports=[WEB, PLAIN, LEGACY, H2ONLY, H2CONLY, ADMIN])


# ---------------------------------------------------------------- the clients

def run(cmd, timeout=60, stdin=None, input_bytes=None):
    """Runs a client command; fails with its whole output when it exits non-zero."""
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout * SLOW, stdin=stdin,
                           input=input_bytes)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(cmd)} did not finish in {timeout * SLOW}s; "
                             f"stdout={(e.stdout or b'')[-2000:]!r} stderr={(e.stderr or b'')[-2000:]!r}"
                             ) from None
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\nstdout: "
                             f"{r.stdout[-3000:].decode(errors='replace')}\nstderr: "
                             f"{r.stderr[-3000:].decode(errors='replace')}")
    return r


def curl(url, *extra, timeout=60, **kwargs):
    """(http_version as curl reports it, status, body bytes) of one curl run."""
    out = os.path.join(TMP.name, "curl.out")
    if os.path.exists(out):
        os.unlink(out)
    r = run(["curl", "-sS", "-k", "--max-time", str(timeout * SLOW), "-o", out,
             "-w", "%{http_version} %{http_code}", *extra, url], timeout=timeout + 5, **kwargs)
    version, status = r.stdout.decode().split()
    with open(out, "rb") as f:
        body = f.read()
    return version, int(status), body


def web(path):
    return f"https://127.0.0.1:{WEB}{path}"


def plain(path):
    return f"http://127.0.0.1:{PLAIN}{path}"


def legacy(path):
    return f"https://127.0.0.1:{LEGACY}{path}"


def echo(body):
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError(f"not the backend's JSON echo: {body[:500]!r}") from None


def metric(name, listener):
    """The sample of name{listener="..."} on /metrics (None if absent)."""
    pattern = re.compile(r"^" + re.escape(name) + r"\{([^}]*)\} (\S+)$")
    for line in metrics_text(ADMIN).splitlines():
        m = pattern.match(line)
        if m and f'listener="{listener}"' in m.group(1).split(","):
            return float(m.group(2))
    return None


def access_log_lines():
    if not os.path.exists(ACCESS_LOG):
        return []
    with open(ACCESS_LOG, "rb") as f:
        return [json.loads(line) for line in f.read().splitlines() if line.strip()]


def big_file():
    path = os.path.join(TMP.name, "big.bin")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(BIG_BODY)
    return path


# ---------------------------------------------------------------- 1-3: negotiation

def test_tls_alpn_h2_gets_http2_and_http11_still_works():
    version, status, body = curl(web("/alpn-h2"), "--http2")
    assert version == "2", f"curl --http2 to the h2 TLS listener got HTTP/{version}, not 2"
    assert status == 200, (status, body)
    note = echo(body)
    assert note["path"] == "/alpn-h2" and note["backend"] in "ABC", note
    assert header_values(note, "x-forwarded-proto") == ["https"], note["headers"]
    version, status, body = curl(web("/alpn-h1"), "--http1.1")
    assert (version, status) == ("1.1", 200), (version, status, body)
    assert echo(body)["path"] == "/alpn-h1"


def test_h2c_prior_knowledge_gets_http2_and_http11_still_works():
    version, status, body = curl(plain("/h2c"), "--http2-prior-knowledge")
    assert version == "2", f"curl --http2-prior-knowledge to the h2c listener got HTTP/{version}"
    assert status == 200 and echo(body)["path"] == "/h2c", (status, body)
    version, status, body = curl(plain("/h2c-h1"))
    assert (version, status) == ("1.1", 200), (version, status, body)
    assert echo(body)["path"] == "/h2c-h1"


def test_upgrade_h2c_from_http11_is_served_as_http11_without_the_upgrade_header():
    # curl --http2 on http:// sends Upgrade: h2c + HTTP2-Settings: the spec serves
    # it as HTTP/1.1 and drops Upgrade (no 101).
    version, status, body = curl(plain("/upgrade"), "--http2")
    assert (version, status) == ("1.1", 200), (version, status, body)
    note = echo(body)
    assert not header_values(note, "upgrade"), f"Upgrade reached the backend: {note['headers']}"


def test_h2_only_listeners_refuse_http11():
    # TLS: a client offering only http/1.1 fails the handshake (no_application_protocol);
    # one offering h2 is served.
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{H2ONLY}", "-alpn",
                        "http/1.1", "-brief"], input="", capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0 and "no application protocol" in (r.stdout + r.stderr).lower(), \
        (r.returncode, r.stdout[-500:], r.stderr[-500:])
    version, status, _ = curl(f"https://127.0.0.1:{H2ONLY}/h2only", "--http2")
    assert (version, status) == ("2", 200), (version, status)
    # Plain: an HTTP/1.1 request gets 505, HTTP/2 with prior knowledge is served.
    version, status, _ = curl(f"http://127.0.0.1:{H2CONLY}/h2conly")
    assert status == 505, (version, status)
    version, status, _ = curl(f"http://127.0.0.1:{H2CONLY}/h2conly", "--http2-prior-knowledge")
    assert (version, status) == ("2", 200), (version, status)


def test_listener_without_protocols_stays_http11():
    version, status, body = curl(legacy("/legacy"), "--http2")
    assert version == "1.1", \
        f"a TLS listener without `protocols` negotiated HTTP/{version} (ALPN h2 must not be offered)"
    assert status == 200 and echo(body)["path"] == "/legacy", (status, body)


# ---------------------------------------------------------------- 4: many streams, one connection

def spread_over_one_connection(listener, base):
    paths = [f"/spread-{listener}/{i}" for i in range(30)]
    before = metric("ringlb_connections_accepted_total", listener)
    r = run(["nghttp", "-n", "-v", "--no-dep", *[base + p for p in paths]], timeout=60)
    out = r.stdout.decode(errors="replace")
    statuses = re.findall(r"recv \(stream_id=\d+\) :status: (\d+)", out)
    assert statuses == ["200"] * 30, f"nghttp got statuses {statuses}; output tail:\n{out[-3000:]}"
    wait_until(lambda: sum(n["path"] in paths for n in all_notes()) >= 30, timeout=10,
               what="30 requests at the backends")
    per_backend = {b.name: sum(n["path"] in paths for n in b.notes()) for b in BACKENDS}
    assert sum(per_backend.values()) == 30, per_backend
    assert all(per_backend.values()), \
        f"streams of one connection were not spread over every backend: {per_backend}"
    after = metric("ringlb_connections_accepted_total", listener)
    assert before is not None and after is not None, "no ringlb_connections_accepted_total sample"
    assert after - before == 1, f"{after - before} client connections for one nghttp run"
    assert len(re.findall(r"\] Connected", out)) <= 1, out[:2000]


def test_30_streams_on_one_tls_connection_reach_every_backend():
    spread_over_one_connection("web", f"https://127.0.0.1:{WEB}")


def test_30_streams_on_one_h2c_connection_reach_every_backend():
    spread_over_one_connection("plain", f"http://127.0.0.1:{PLAIN}")


# ---------------------------------------------------------------- 5: big bodies

def check_upload(note, how):
    assert note["complete"], f"{how}: the backend saw the body end early: {note}"
    assert note["body_len"] == BIG, f"{how}: the backend got {note['body_len']} of {BIG} bytes"
    assert note["body_sha256"] == BIG_SHA, f"{how}: the body the backend got differs"


def test_5_mib_upload_with_content_length_arrives_intact():
    for name, url, flag in (("h2", web, "--http2"), ("h2c", plain, "--http2-prior-knowledge")):
        path = f"/upload-cl-{name}"
        version, status, body = curl(url(path), flag, "--data-binary", f"@{big_file()}",
                                     "-H", "Content-Type: application/octet-stream")
        assert (version, status) == ("2", 200), (name, version, status, body[:300])
        note = echo(body)
        check_upload(note, f"{name} upload with content-length")
        assert header_values(note, "content-length") == [str(BIG)], note["headers"]


def test_5_mib_upload_without_content_length_arrives_chunked_and_intact():
    # nghttp --no-content-length: DATA frames only, no content-length field.
    for name, base in (("h2", f"https://127.0.0.1:{WEB}"), ("h2c", f"http://127.0.0.1:{PLAIN}")):
        path = f"/upload-nocl-nghttp-{name}"
        r = run(["nghttp", "--no-content-length", "-d", big_file(), base + path], timeout=60)
        note = echo(r.stdout)
        check_upload(note, f"{name} nghttp upload without content-length")
        assert header_values(note, "transfer-encoding") == ["chunked"], \
            f"{name}: a body without content-length should reach the HTTP/1.1 backend chunked: " \
            f"{note['headers']}"
    # curl -T - reads stdin: it cannot know the length and sends none over HTTP/2.
    for name, url, flag in (("h2", web, "--http2"), ("h2c", plain, "--http2-prior-knowledge")):
        path = f"/upload-nocl-curl-{name}"
        with open(big_file(), "rb") as f:
            version, status, body = curl(url(path), flag, "-T", "-", stdin=f)
        assert (version, status) == ("2", 200), (name, version, status, body[:300])
        note = echo(body)
        assert note["method"] == "PUT", note
        check_upload(note, f"{name} curl -T - upload")
        assert not header_values(note, "content-length"), note["headers"]
        assert header_values(note, "transfer-encoding") == ["chunked"], note["headers"]


def test_5_mib_download_arrives_intact():
    for name, url, flag in (("h2", web, "--http2"), ("h2c", plain, "--http2-prior-knowledge")):
        for path in ("/big", "/big-chunked"):
            version, status, body = curl(url(path), flag)
            assert (version, status) == ("2", 200), (name, path, version, status)
            assert len(body) == BIG, f"{name} {path}: {len(body)} of {BIG} bytes"
            assert hashlib.sha256(body).hexdigest() == BIG_SHA, f"{name} {path}: body differs"


# ---------------------------------------------------------------- 6: h2load

H2LOAD_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                             r"(\d+) failed, (\d+) errored, (\d+) timeout")


def h2load(url, protocol):
    r = run(["h2load", "-c", "4", "-m", "10", "-n", "2000", url], timeout=120)
    out = r.stdout.decode(errors="replace")
    m = H2LOAD_REQUESTS.search(out)
    assert m, f"no requests summary in h2load's output:\n{out}"
    total, started, done, succeeded, failed, errored, timeout = map(int, m.groups())
    assert (done, succeeded, failed, errored, timeout) == (2000, 2000, 0, 0, 0), \
        f"h2load {url}: {m.group(0)}\n{out}"
    assert re.search(r"status codes: 2000 2xx", out), out
    assert re.search(rf"Application protocol: {protocol}\b", out), out


def test_h2load_over_tls_completes_every_request():
    h2load(web("/load"), "h2")


def test_h2load_over_h2c_completes_every_request():
    h2load(plain("/load"), "h2c")


# ---------------------------------------------------------------- 7: translation

def test_cookie_crumbs_are_joined_and_authority_becomes_host():
    r = run(["nghttp", "-v", "-H", "cookie: a=1", "-H", "cookie: b=2", web("/cookies")])
    out = r.stdout.decode(errors="replace")
    # nghttp -v prints what it sent: two separate cookie fields went out.
    assert "cookie: a=1" in out and "cookie: b=2" in out, out[:3000]
    # -v interleaves frame lines with the body: the echo comes from a run without -v.
    r = run(["nghttp", "-H", "cookie: a=1", "-H", "cookie: b=2", web("/cookies2")])
    note = echo(r.stdout)
    assert header_values(note, "cookie") == ["a=1; b=2"], \
        f"cookie crumbs should arrive as one 'Cookie: a=1; b=2': {note['headers']}"
    assert header_values(note, "host") == [f"127.0.0.1:{WEB}"], note["headers"]
    version, status, body = curl(f"https://h2.test:{WEB}/authority", "--http2",
                                 "--resolve", f"h2.test:{WEB}:127.0.0.1")
    assert (version, status) == ("2", 200), (version, status, body)
    note = echo(body)
    assert header_values(note, "host") == [f"h2.test:{WEB}"], \
        f":authority should arrive as the Host header: {note['headers']}"
    assert not [k for k, _ in note["headers"] if k.startswith(":")], \
        f"a pseudo-header reached the backend: {note['headers']}"


# ---------------------------------------------------------------- 8: metrics

def test_streams_active_gauge_counts_an_in_flight_stream():
    SLOW_ARRIVED.clear()
    SLOW_RELEASE.clear()
    out = os.path.join(TMP.name, "slow.out")
    client = subprocess.Popen(["curl", "-sS", "-k", "--http2", "--max-time", "60", "-o", out,
                               "-w", "%{http_version} %{http_code}", web("/slow")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert SLOW_ARRIVED.wait(10 * SLOW), "the /slow request did not reach a backend"
        active = metric("ringlb_http_streams_active", "web")
        assert active is not None, "no ringlb_http_streams_active{listener=\"web\"} on /metrics"
        assert active >= 1, f"ringlb_http_streams_active{{listener=\"web\"}} is {active} " \
                            "while an h2 stream is in flight"
    finally:
        SLOW_RELEASE.set()
        try:
            stdout, stderr = client.communicate(timeout=30 * SLOW)
        except subprocess.TimeoutExpired:
            client.kill()
            stdout, stderr = client.communicate()
    assert client.returncode == 0 and stdout.decode() == "2 200", (client.returncode, stdout, stderr)
    wait_until(lambda: metric("ringlb_http_streams_active", "web") == 0, timeout=5 * SLOW,
               what="ringlb_http_streams_active{listener=\"web\"} back to 0")


# ---------------------------------------------------------------- 9: access log

def test_access_log_names_the_protocol():
    assert curl(web("/log-h2"), "--http2")[:2] == ("2", 200)
    assert curl(plain("/log-h2c"), "--http2-prior-knowledge")[:2] == ("2", 200)
    assert curl(web("/log-h1"), "--http1.1")[:2] == ("1.1", 200)
    wanted = {"/log-h2": "HTTP/2", "/log-h2c": "HTTP/2", "/log-h1": "HTTP/1.1"}

    def logged():
        return {e.get("path"): e for e in access_log_lines() if e.get("path") in wanted}

    wait_until(lambda: len(logged()) == len(wanted), timeout=5 * SLOW,
               what=f"access log lines for {sorted(wanted)}")
    for path, entry in logged().items():
        assert entry.get("proto") == wanted[path], \
            f"{path}: access log line has proto={entry.get('proto')!r}, want {wanted[path]!r}: {entry}"
        assert entry["status"] == 200, entry


# ---------------------------------------------------------------- 10: check

BAD_CONFIGS = {
    "h2 on a plain listener": """
[listeners.x]
bind = "127.0.0.1:{port}"
mode = "http"
pool = "app"
protocols = ["h2", "http/1.1"]
""",
    "h2c on a TLS listener": """
[listeners.x]
bind = "127.0.0.1:{port}"
mode = "http"
pool = "app"
protocols = ["h2c", "http/1.1"]
[listeners.x.tls]
certificates = {tls}
""",
    "an unknown protocol": """
[listeners.x]
bind = "127.0.0.1:{port}"
mode = "http"
pool = "app"
protocols = ["spdy"]
""",
    "protocols on a tcp listener": """
[listeners.x]
bind = "127.0.0.1:{port}"
mode = "tcp"
pool = "app"
protocols = ["http/1.1"]
""",
}


def test_check_rejects_bad_protocols_naming_the_key():
    pool = f'[pools.app]\nbackends = ["127.0.0.1:{BACKENDS[0].port}"]\n'
    good = pool + BAD_CONFIGS["h2c on a TLS listener"].replace('"h2c"', '"h2"')
    code, out = ringlb_check(good.format(port=free_port(), tls=TLS), "good")
    assert code == 0, f"ringlb check rejects a valid h2 TLS listener (control):\n{out}"
    problems = []
    for i, (what, listener) in enumerate(BAD_CONFIGS.items()):
        code, out = ringlb_check(pool + listener.format(port=free_port(), tls=TLS), f"bad{i}")
        if code == 0:
            problems.append(f"{what}: accepted (exit 0): {out!r}")
        elif "protocols" not in out:
            problems.append(f"{what}: rejected (exit {code}) without naming `protocols`: {out!r}")
    assert not problems, "\n".join(problems)


def test_zz_sigterm_exits_zero():
    assert LB.stop(timeout=10) == 0, LB.stderr()
    assert "Assertion" not in LB.stderr() and "AddressSanitizer" not in LB.stderr(), LB.stderr()


if __name__ == "__main__":
    try:
        run_tests([(name, fn) for name, fn in list(globals().items()) if name.startswith("test_")])
    finally:
        SLOW_RELEASE.set()
        LB.close()
        for b in BACKENDS:
            b.stop()
        TMP.cleanup()
