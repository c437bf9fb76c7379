"""HTTP/2 towards backends (pools with `protocol = "h2"`) and gRPC end to end.

One ringlb (2 workers) with h2c listeners (and a TLS listener offering ALPN
h2) in front of:
- two gRPC servers (grpc_backend.py, Debian's python3-grpcio with raw-bytes
  messages) in an h2c pool: unary calls balanced per request with payload,
  trailing metadata, te: trailers (a gRPC server answers "Missing :te header"
  without it) and metadata intact; server streaming, 5 MiB client streaming
  in 64 KiB messages (sha256), bidi streaming where each reply arrives before
  the client sent its next message; grpc-timeout reaching the backend,
  DEADLINE_EXCEEDED at the client within about the deadline, a client's
  cancel reaching the backend; NOT_FOUND with its message and trailing
  metadata in a trailers-only response; te: trailers added for clients that
  leave it out, and grpc-status passed to an HTTP/1.1 client as a chunked
  trailer;
- two nghttpd (nghttp2's server, h2c, -v so that its log shows each request's
  fields, --echo-upload) serving a file naming each: curl
  --http2-prior-knowledge and HTTP/1.1, nghttp with many streams, 5 MiB down
  and up (nghttpd echoes POST bodies) by sha256, trailers, h2load -n 2000 -c 2
  -m 50 reaching both, and 100 streams of one h2load connection without a
  5xx over few backend connections;
- an nghttpd with a certificate of the test CA behind a pool with [tls]
  (ALPN h2), and a Python TLS server offering ALPN http/1.1 only behind an h2
  pool: 502, and ringlb's log says why;
- a gRPC server in a subprocess killed with SIGKILL: the call in flight on it
  ends (never hangs) and every later call is served by the other backend;
  a gRPC server stopping gracefully (GOAWAY): its held call completes and no
  call made meanwhile fails.
A second ringlb (1 worker) checks the per-connection stream limit: a gRPC
backend advertising SETTINGS_MAX_CONCURRENT_STREAMS = 4 gets 10 held calls
over at least 3 connections, never more than 4 on one; an nghttpd -m 4
(which refuses streams past its limit) gets 20 concurrent streams from a
fresh proxy without a refused stream or a 502; 120 held calls to a backend
without a limit use 2 connections (at most 100 streams each).

curl 7.88 cannot reuse a prior-knowledge connection for a second URL (even
straight to nghttpd), so curl --http2-prior-knowledge makes one request per
run here; nghttp and h2load put many streams on one connection.
`ringlb check` refuses `protocol = "h2c"` and h2 pools of tcp listeners.

Every wait polls a condition and is bounded in time; every command has a
timeout; the load is bounded in count."""

import collections
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pki  # noqa: E402
from harness import (free_port, is_sanitized, metrics_text, parse_args, run_module,  # noqa: E402
                     start_ringlb, wait_for_port, wait_until)

ARGS = parse_args()
NGHTTPD = shutil.which("nghttpd") or ("/usr/sbin/nghttpd" if os.path.exists("/usr/sbin/nghttpd")
                                      else None)
for tool, path in (("curl", shutil.which("curl")), ("nghttp", shutil.which("nghttp")),
                   ("h2load", shutil.which("h2load")), ("openssl", shutil.which("openssl")),
                   ("nghttpd", NGHTTPD)):
    if path is None:
        print(f"SKIP: {tool} is not installed (nghttp2-client, nghttp2-server)")
        sys.exit(77)
try:
    import grpc
except ImportError:
    print("SKIP: python3-grpcio is not installed")
    sys.exit(77)
import grpc_backend  # noqa: E402

SLOW = 3 if is_sanitized(ARGS.ringlb) else 1
BIG = 5 << 20
BIG_BODY = os.urandom(BIG)
BIG_SHA = hashlib.sha256(BIG_BODY).hexdigest()
CHUNK = 64 << 10

TMP = tempfile.TemporaryDirectory(prefix="ringlb-h2up-")
D = TMP.name
CLEANUPS = []  # run at the end, last first


def cleanup_all():
    for fn in reversed(CLEANUPS):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every cleanup runs
            print(f"cleanup: {e!r}", flush=True)


# ---------------------------------------------------------------- certificates

pki.self_signed(D, "ca", "h2 upstream test CA")
CA = os.path.join(D, "ca.pem")
BACKEND_CERT, BACKEND_KEY = pki.signed(D, "backend", "backend.test", "ca",
                                       san="DNS:backend.test,IP:127.0.0.1")
LB_CERT, LB_KEY = pki.signed(D, "lb", "lb.test", "ca", san="DNS:lb.test,IP:127.0.0.1")


# ---------------------------------------------------------------- nghttpd backends

class Nghttpd:
    """nghttpd -v on 127.0.0.1 serving a directory of its own: name.txt
    ("backend NAME\\n"), load.txt, big.bin (BIG_BODY); POST bodies are echoed.
    Its -v log (stdout) shows the fields of every request it got."""

    def __init__(self, name, tls=False, extra=()):
        self.name = name
        self.dir = os.path.join(D, f"www-{name}")
        os.makedirs(self.dir)
        for fname, data in (("name.txt", f"backend {name}\n".encode()),
                            ("load.txt", b"load\n"), ("big.bin", BIG_BODY)):
            with open(os.path.join(self.dir, fname), "wb") as f:
                f.write(data)
        self.port = free_port()
        self.log_path = os.path.join(D, f"nghttpd-{name}.log")
        self.log = open(self.log_path, "wb")
        self._offset, self._found = 0, {}
        line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        cmd = [*line_buffered, NGHTTPD, "-v", "--echo-upload", "-a", "127.0.0.1",
               "-d", self.dir, *extra]
        cmd += [str(self.port), BACKEND_KEY, BACKEND_CERT] if tls else ["--no-tls", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        CLEANUPS.append(self.stop)
        wait_for_port(self.port, exited=self.proc.poll)

    FIELD = re.compile(r"^\[id=(\d+)\] \[\s*[\d.]+\] recv \(stream_id=(\d+)\) "
                       r"(:?[^:\s]+): (.*)$", re.M)

    def requests(self):
        """[(connection id, stream id, [(name, value)...])] from the -v log
        (read on from where the last call stopped, up to a whole line)."""
        with open(self.log_path, "rb") as f:
            f.seek(self._offset)
            text = f.read()
        text = text[:text.rfind(b"\n") + 1]
        self._offset += len(text)
        for m in self.FIELD.finditer(text.decode(errors="replace")):
            self._found.setdefault((int(m.group(1)), int(m.group(2))), []).append(
                (m.group(3), m.group(4)))
        return [(c, s, fields) for (c, s), fields in self._found.items()]

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def requests_for(self, path):
        return [r for r in self.requests() if (":path", path) in r[2]]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- an HTTP/1.1-only TLS backend

class Http11TlsBackend:
    """TLS with ALPN http/1.1 only (Python's ssl: no ALPN agreed with a client
    offering only h2). Records the ALPN agreed and the first bytes each
    connection sent after the handshake; answers an HTTP/1.1 request."""

    def __init__(self):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(BACKEND_CERT, BACKEND_KEY)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.seen = []  # (alpn, first bytes) per handshake completed
        threading.Thread(target=self._accept, daemon=True).start()
        CLEANUPS.append(self.sock.close)

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        raw.settimeout(5)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        try:
            try:
                data = conn.recv(4096)
            except (OSError, ssl.SSLError):
                data = b""
            with self.lock:
                self.seen.append((conn.selected_alpn_protocol(), data[:40]))
            if data[:4] in (b"GET ", b"POST", b"HEAD"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nh1 backend\n")
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


# ---------------------------------------------------------------- gRPC backends

GA, GB = grpc_backend.Backend("A"), grpc_backend.Backend("B")
GC = grpc_backend.Backend("C")  # the survivor of the failover pool
GL = grpc_backend.Backend("L", max_streams=4)  # SETTINGS_MAX_CONCURRENT_STREAMS = 4
GM = grpc_backend.Backend("M", workers=260)  # no limit: 120 held calls at once
GD, GE = grpc_backend.Backend("D"), grpc_backend.Backend("E")  # D shuts down gracefully
for _b in (GA, GB, GC, GL, GM, GD, GE):
    CLEANUPS.append(_b.stop)


class KillableGrpc:
    """grpc_backend.py --tag K in a subprocess (SIGKILL-able); a thread reads
    its stdout, one JSON line per call started."""

    def __init__(self, tag):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, grpc_backend.__file__, "--tag", tag,
                                      "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        CLEANUPS.append(self.stop)
        self.lock = threading.Lock()
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_for_port(self.port, exited=self.proc.poll)

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.decode(errors="replace").strip())

    def calls(self, method):
        with self.lock:
            return [json.loads(x) for x in self.lines
                    if x.startswith("{") and json.loads(x)["call"] == method]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


NA, NB = Nghttpd("NA", extra=["--trailer", "x-trailer: from-nghttpd"]), Nghttpd("NB")
NT = Nghttpd("NT", tls=True)
NL = Nghttpd("NL", extra=["-m", "4"])  # SETTINGS_MAX_CONCURRENT_STREAMS = 4, refuses past it
H11 = Http11TlsBackend()
GK = KillableGrpc("K")


# ---------------------------------------------------------------- the ringlbs

ADMIN = free_port()
GRPC, GRPC_TLS, WEB, TLSWEB, H1ONLY, FAILOVER, GRACEFUL = (free_port() for _ in range(7))
LIM, MANY, NLIM, ADMIN2 = free_port(), free_port(), free_port(), free_port()


def h2c_listener(name, port, pool):
    return f"""
[listeners.{name}]
bind = "127.0.0.1:{port}"
mode = "http"
pool = "{pool}"
protocols = ["h2c", "http/1.1"]
"""


def h2_pool(name, backends, extra=""):
    listed = ", ".join(f'"{b}"' for b in backends)
    return f"""
[pools.{name}]
protocol = "h2"
backends = [{listed}]
{extra}
"""


CONFIG = f"""
[global]
workers = 2
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{ADMIN}"
{h2_pool("grpc", [GA.address, GB.address], "passive_failures = 0")}
{h2_pool("web", [f"127.0.0.1:{NA.port}", f"127.0.0.1:{NB.port}"], "passive_failures = 0")}
{h2_pool("tlsweb", [f"127.0.0.1:{NT.port}"])}
[pools.tlsweb.tls]
ca = "{CA}"
server_name = "backend.test"
{h2_pool("h1only", [f"127.0.0.1:{H11.port}"], "retries = 0")}
[pools.h1only.tls]
ca = "{CA}"
server_name = "backend.test"
{h2_pool("failover", [f"127.0.0.1:{GK.port}", GC.address])}
{h2_pool("graceful", [GD.address, GE.address])}
{h2c_listener("grpc", GRPC, "grpc")}
[listeners.grpctls]
bind = "127.0.0.1:{GRPC_TLS}"
mode = "http"
pool = "grpc"
protocols = ["h2", "http/1.1"]
[listeners.grpctls.tls]
certificates = [{{ cert = "{LB_CERT}", key = "{LB_KEY}" }}]
{h2c_listener("web", WEB, "web")}
{h2c_listener("tlsweb", TLSWEB, "tlsweb")}
{h2c_listener("h1only", H1ONLY, "h1only")}
{h2c_listener("failover", FAILOVER, "failover")}
{h2c_listener("graceful", GRACEFUL, "graceful")}
"""

CONFIG2 = f"""
[global]
workers = 1
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{ADMIN2}"
{h2_pool("lim", [GL.address], "passive_failures = 0")}
{h2_pool("many", [GM.address], "passive_failures = 0")}
{h2_pool("nlim", [f"127.0.0.1:{NL.port}"], "passive_failures = 0")}
{h2c_listener("lim", LIM, "lim")}
{h2c_listener("many", MANY, "many")}
{h2c_listener("nlim", NLIM, "nlim")}
"""


def ringlb_check(text, name):
    path = os.path.join(D, f"{name}.toml")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([ARGS.ringlb, "check", "-c", path], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout + r.stderr


def start(config, ports, name):
    code, out = ringlb_check(config, name)
    if code != 0:
        print(f"FAIL: `ringlb check` rejects the {name} config (exit {code}):\n{out}\n"
              f"--- config ---\n{config}", flush=True)
        cleanup_all()
        TMP.cleanup()
        sys.exit(1)
    for _ in range(50):  # another engineer may be replacing the binary this moment
        if os.path.exists(ARGS.ringlb):
            break
        time.sleep(0.1)
    lb = start_ringlb(ARGS.ringlb, config, ports=ports)
    CLEANUPS.append(lb.close)
    return lb


try:
    LB = start(CONFIG, [ADMIN, GRPC, GRPC_TLS, WEB, TLSWEB, H1ONLY, FAILOVER, GRACEFUL], "main")
    LB2 = start(CONFIG2, [ADMIN2, LIM, MANY, NLIM], "limits")
except BaseException:
    cleanup_all()
    TMP.cleanup()
    raise


# ---------------------------------------------------------------- clients

def channel(port, tls=False):
    """A gRPC channel of its own (one connection) to ringlb's listener."""
    options = [("grpc.enable_http_proxy", 0), ("grpc.use_local_subchannel_pool", 1)]
    if tls:
        with open(CA, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        ch = grpc.secure_channel(f"127.0.0.1:{port}", creds,
                                 options=options + [("grpc.ssl_target_name_override", "lb.test")])
    else:
        ch = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
    CLEANUPS.append(ch.close)
    grpc.channel_ready_future(ch).result(timeout=10 * SLOW)
    return ch


def method(ch, name, kind="unary_unary"):
    return getattr(ch, kind)(f"/test.Echo/{name}")


def split_info(response):
    info, _, echoed = response.partition(b"\n")
    return json.loads(info), echoed


def trailing(call):
    return {m.key: m.value for m in (call.trailing_metadata() or ())}


def rpc_error_text(e):
    return f"{e.code()} {e.details()!r} trailing={e.trailing_metadata()}"


def run(cmd, timeout=60, input_bytes=None, check=True):
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout * SLOW, input=input_bytes)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(cmd)} did not finish in {timeout * SLOW}s; "
                             f"stdout={(e.stdout or b'')[-2000:]!r} "
                             f"stderr={(e.stderr or b'')[-2000:]!r}") from None
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\nstdout: "
                             f"{r.stdout[-3000:].decode(errors='replace')}\nstderr: "
                             f"{r.stderr[-3000:].decode(errors='replace')}\nringlb's log tail:\n"
                             f"{LB.stderr()[-3000:]}")
    return r


def curl(url, *extra, timeout=60):
    """(http_version, status, body) of one curl transfer."""
    out = os.path.join(D, "curl.out")
    if os.path.exists(out):
        os.unlink(out)
    r = run(["curl", "-sS", "--max-time", str(timeout * SLOW), "-o", out,
             "-w", "%{http_version} %{http_code}", *extra, url], timeout=timeout + 5)
    version, status = r.stdout.decode().split()
    body = b""
    if os.path.exists(out):
        with open(out, "rb") as f:
            body = f.read()
    return version, int(status), body


def big_file():
    path = os.path.join(D, "big-upload.bin")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(BIG_BODY)
    return path


def grpc_frame(payload):
    return b"\0" + len(payload).to_bytes(4, "big") + payload


def metric_samples(admin, name):
    """{labels text: value} of every sample of a metric."""
    found = {}
    for line in metrics_text(admin).splitlines():
        m = re.match(re.escape(name) + r"\{([^}]*)\} (\S+)$", line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found


def requests_by_code(admin, listener):
    out = {}
    for labels, value in metric_samples(admin, "ringlb_requests_total").items():
        if f'listener="{listener}"' in labels:
            code = re.search(r'code="(\d+)"', labels)
            if code:
                out[int(code.group(1))] = value
    return out


def accepted(admin, listener):
    for labels, value in metric_samples(admin, "ringlb_connections_accepted_total").items():
        if f'listener="{listener}"' in labels:
            return value
    return None


# ---------------------------------------------------------------- 1: gRPC unary

def test_grpc_unary_balanced_per_request_with_payload_trailers_and_te():
    ch = channel(GRPC)
    unary = method(ch, "Unary")
    tags = []
    for i in range(8):
        payload = os.urandom(1 << 20) if i == 3 else f"hello {i} ".encode() * (i + 1)
        try:
            response, call = unary.with_call(payload, timeout=10 * SLOW,
                                             metadata=(("x-call", str(i)),))
        except grpc.RpcError as e:
            raise AssertionError(f"call {i} failed: {rpc_error_text(e)}\nringlb's log tail:\n"
                                 f"{LB.stderr()[-2000:]}") from None
        assert call.code() == grpc.StatusCode.OK, call.code()
        info, echoed = split_info(response)
        assert echoed == payload, f"call {i}: the echo differs ({len(echoed)} of {len(payload)})"
        assert info["sha256"] == hashlib.sha256(payload).hexdigest(), info
        assert info["metadata"].get("x-call") == str(i), \
            f"call {i}: the backend did not see the call's metadata: {info['metadata']}"
        # A gRPC server answers "Missing :te header" (UNKNOWN) to a request
        # without te: trailers, so an OK call proves te arrived.
        tr = trailing(call)
        assert tr.get("x-backend") == info["backend"], \
            f"call {i}: trailing metadata missing or wrong: {tr} (answer from {info['backend']})"
        assert tr.get("x-request-sha256") == info["sha256"], tr
        tags.append(info["backend"])
    # One client connection is one worker's: its round robin alternates.
    assert sorted(tags) == ["A"] * 4 + ["B"] * 4, \
        f"8 calls on one connection were not spread per request over both backends: {tags}"
    assert len(GA.notes("Unary")) + len(GB.notes("Unary")) == 8


def test_grpc_unary_through_a_tls_listener_with_alpn_h2():
    ch = channel(GRPC_TLS, tls=True)
    response, call = method(ch, "Unary").with_call(b"over tls", timeout=10 * SLOW)
    info, echoed = split_info(response)
    assert echoed == b"over tls" and info["backend"] in "AB", (info, echoed)
    assert trailing(call).get("x-backend") == info["backend"], trailing(call)


# ---------------------------------------------------------------- 2: streaming

def test_grpc_server_streaming_200_messages_and_5_mib():
    ch = channel(GRPC)
    stream = method(ch, "ServerStream", "unary_stream")
    call = stream(json.dumps({"count": 200, "size": 1000}).encode(), timeout=20 * SLOW)
    got = list(call)
    assert len(got) == 200, f"{len(got)} of 200 messages"
    bad = [i for i, m in enumerate(got) if m != grpc_backend.stream_message(i, 1000)]
    assert not bad, f"messages differ or out of order at {bad[:10]}"
    assert call.code() == grpc.StatusCode.OK, call.code()
    assert trailing(call).get("x-sent") == "200", trailing(call)
    # 5 MiB down in 80 messages of 64 KiB
    call = stream(json.dumps({"count": 80, "size": CHUNK}).encode(), timeout=30 * SLOW)
    digest, n, total = hashlib.sha256(), 0, 0
    for i, m in enumerate(call):
        assert m == grpc_backend.stream_message(i, CHUNK), f"message {i} differs"
        digest.update(m)
        n += 1
        total += len(m)
    want = hashlib.sha256(b"".join(grpc_backend.stream_message(i, CHUNK) for i in range(80)))
    assert (n, total) == (80, BIG) and digest.hexdigest() == want.hexdigest(), (n, total)
    assert call.code() == grpc.StatusCode.OK


def test_grpc_client_streaming_5_mib_in_64_kib_messages():
    ch = channel(GRPC)
    upload = method(ch, "ClientStream", "stream_unary")
    pieces = [BIG_BODY[i:i + CHUNK] for i in range(0, BIG, CHUNK)]
    try:
        response, call = upload.with_call(iter(pieces), timeout=30 * SLOW)
    except grpc.RpcError as e:
        raise AssertionError(f"5 MiB client stream failed: {rpc_error_text(e)}\n"
                             f"ringlb's log tail:\n{LB.stderr()[-2000:]}") from None
    got = json.loads(response)
    assert (got["count"], got["len"]) == (len(pieces), BIG), got
    assert got["sha256"] == BIG_SHA, "the 5 MiB the backend got differ from what was sent"
    assert call.code() == grpc.StatusCode.OK


def test_grpc_bidi_replies_arrive_before_the_client_finished_sending():
    ch = channel(GRPC)
    bidi = method(ch, "Bidi", "stream_stream")
    outbox = queue.Queue()

    def requests():
        while True:
            m = outbox.get()
            if m is None:
                return
            yield m

    call = bidi(requests(), timeout=30 * SLOW)
    replies = queue.Queue()

    def reader():
        try:
            for r in call:
                replies.put(r)
            replies.put(None)
        except grpc.RpcError as e:
            replies.put(e)

    threading.Thread(target=reader, daemon=True).start()
    try:
        for i in range(5):
            message = f"ping {i}".encode() * (1 + i * 100)
            outbox.put(message)
            try:
                got = replies.get(timeout=5 * SLOW)
            except queue.Empty:
                raise AssertionError(f"no reply to message {i} within {5 * SLOW}s while the "
                                     "request stream stays open: the proxy holds bidi "
                                     "messages until the request ends") from None
            if isinstance(got, grpc.RpcError):
                raise AssertionError(f"bidi call failed at message {i}: {rpc_error_text(got)}")
            assert got == b"echo:" + message, (i, got[:80])
        outbox.put(None)
        end = replies.get(timeout=5 * SLOW)
        assert end is None, f"after the client's end: {end!r}"
        assert call.code() == grpc.StatusCode.OK, call.code()
    finally:
        outbox.put(None)
        call.cancel()


# ---------------------------------------------------------------- 3: deadlines

def test_grpc_timeout_reaches_the_backend_unchanged():
    ch = channel(GRPC)
    unary = method(ch, "Unary")
    info, _ = split_info(unary(b"deadline", timeout=3.0))
    left = info["time_remaining"]
    assert left is not None, "the backend saw no deadline: grpc-timeout did not pass through"
    # grpcio rounds grpc-timeout up (2.99s goes as "3S"): a little over 3s is fine
    assert 0.5 < left <= 3.1, f"the backend saw {left}s left of a 3s deadline"
    info, _ = split_info(unary(b"no deadline"))
    left = info["time_remaining"]  # grpcio says about 2**63 ns for "none"
    assert left is None or left > 1e9, \
        f"a call without a deadline reached the backend with one: {left}"
    # The proxy passes grpc-timeout as it came (nghttpd's log shows what arrived).
    for flags, value in ((["--http2-prior-knowledge"], "2500m"), ([], "7S")):
        path = f"/name.txt?grpc-timeout={value}"
        status = curl(f"http://127.0.0.1:{WEB}{path}", *flags, "-H", f"grpc-timeout: {value}")[1]
        assert status == 200, status
        wait_until(lambda: NA.requests_for(path) or NB.requests_for(path), timeout=5,
                   what=f"{path} in nghttpd's log")
        [(_, _, fields)] = NA.requests_for(path) + NB.requests_for(path)
        assert [v for k, v in fields if k == "grpc-timeout"] == [value], fields


def test_slow_call_gets_deadline_exceeded_within_the_deadline():
    ch = channel(GRPC)
    slow = method(ch, "Slow")
    before = len(GA.notes("Slow")) + len(GB.notes("Slow"))
    started = time.monotonic()
    try:
        slow(json.dumps({"sleep": 10}).encode(), timeout=1.0)
        raise AssertionError("a call that sleeps 10s past a 1s deadline succeeded")
    except grpc.RpcError as e:
        took = time.monotonic() - started
        assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, rpc_error_text(e)
    assert took < 2.5 * SLOW, f"DEADLINE_EXCEEDED came after {took:.2f}s for a 1s deadline"
    notes = []

    def ended():
        notes[:] = [n for n in GA.notes("Slow") + GB.notes("Slow")][before:]
        return notes and notes[-1].get("ended")

    wait_until(ended, timeout=5 * SLOW, what="the slow call to end at the backend")
    note = notes[-1]
    # grpcio rounds grpc-timeout up (0.999s goes as "1S"), so the backend may
    # see a little more than the client's 1s.
    assert note["time_remaining"] is not None and note["time_remaining"] <= 1.1, note
    assert note["ended"] == "call ended", f"the backend slept its 10s: {note}"
    assert note["ended_at"] - note["at"] < 2.5 * SLOW, \
        f"the backend heard of the end {note['ended_at'] - note['at']:.2f}s after the call came"


def test_client_cancel_reaches_the_backend():
    """The client resets its stream (no deadline): the proxy must reset the
    backend's stream, or the backend works on for nobody."""
    ch = channel(GRPC)
    for b in (GA, GB):
        b.rearm()
    future = method(ch, "Hold").future(b"cancel me")
    try:
        wait_until(lambda: GA.held + GB.held == 1, timeout=5 * SLOW,
                   what="the call to be held at a backend")
        cancelled_at = time.monotonic()
        future.cancel()
        backend = GA if GA.held else GB
        wait_until(lambda: backend.held == 0, timeout=3 * SLOW,
                   what="the backend to hear of the client's cancel (RST_STREAM passed on)")
        last = backend.notes("Hold")[-1]
        assert last.get("ended") == "call ended", last
        assert last["ended_at"] - cancelled_at < 2 * SLOW, last
    finally:
        GA.release()
        GB.release()


# ---------------------------------------------------------------- 4: errors

def test_grpc_error_status_message_and_trailing_metadata_pass_through():
    ch = channel(GRPC)
    fail = method(ch, "Fail")
    for widget in ("w-42", "w-43"):  # both backends
        try:
            fail(widget.encode(), timeout=10 * SLOW)
            raise AssertionError("Fail returned OK")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND, rpc_error_text(e)
            assert e.details() == f"no such widget: {widget}", rpc_error_text(e)
            tr = {m.key: m.value for m in e.trailing_metadata() or ()}
            assert tr.get("x-fail") == widget and tr.get("x-backend") in ("A", "B"), tr


def test_te_trailers_added_and_grpc_status_reaches_http11_clients_as_a_trailer():
    # nghttp (HTTP/2, no te) straight into the h2c listener.
    body = os.path.join(D, "grpc-frame.bin")
    with open(body, "wb") as f:
        f.write(grpc_frame(b"raw h2"))
    r = run(["nghttp", "-v", "-H", ":method: POST", "-H", "content-type: application/grpc",
             "-d", body, f"http://127.0.0.1:{GRPC}/test.Echo/Unary"], timeout=20)
    out = r.stdout.decode(errors="replace")
    status = re.findall(r"recv \(stream_id=\d+\) grpc-status: (\d+)", out)
    message = re.findall(r"recv \(stream_id=\d+\) grpc-message: (.*)", out)
    assert status == ["0"], f"grpc-status {status} {message} to an HTTP/2 client that sent no te " \
                            f"(the proxy must send te: trailers upstream):\n{out[-2500:]}"
    # the trailers come as a HEADERS frame after the DATA
    frames = re.findall(r"recv (HEADERS|DATA) frame", out)
    assert frames[-1] == "HEADERS" and "DATA" in frames, frames
    # HTTP/1.1 (no TE) with a gRPC body: grpc-status as a chunked trailer.
    payload = grpc_frame(b"raw h1")
    request = (f"POST /test.Echo/Unary HTTP/1.1\r\nHost: 127.0.0.1:{GRPC}\r\n"
               f"Content-Type: application/grpc\r\nContent-Length: {len(payload)}\r\n"
               f"Connection: close\r\n\r\n").encode() + payload
    raw = b""
    with socket.create_connection(("127.0.0.1", GRPC), timeout=10 * SLOW) as s:
        s.sendall(request)
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                break
            raw += data
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw[:500]
    assert b"transfer-encoding: chunked" in head.lower(), \
        f"a gRPC answer to HTTP/1.1 must be chunked to carry its trailers:\n{raw[:800]!r}"
    # the last chunk, then the trailer fields
    m = re.search(rb"(?:^|\r\n)0\r\n(.*)\r\n\r\n$", rest, re.S)
    assert m, f"no last chunk with trailers: {rest[-300:]!r}"
    trailers = m.group(1).decode().lower()
    assert "grpc-status: 0" in trailers, f"trailers {trailers!r}; response tail {rest[-300:]!r}"
    assert "x-backend:" in trailers, trailers


# ---------------------------------------------------------------- 5: HTTP over an h2 pool

def names_in(text):
    return re.findall(r"backend (N[AB])", text)


def test_http_clients_through_an_h2_pool_reach_both_nghttpd():
    # curl 7.88 fails a second URL on one prior-knowledge connection even
    # straight to nghttpd ("Error in the HTTP2 framing layer"): one run per
    # request over HTTP/2, one keep-alive run of six over HTTP/1.1.
    got = [curl(f"http://127.0.0.1:{WEB}/name.txt", "--http2-prior-knowledge") for _ in range(6)]
    assert [g[:2] for g in got] == [("2", 200)] * 6, [g[:2] for g in got]
    names = names_in(b"".join(g[2] for g in got).decode())
    assert len(names) == 6 and set(names) == {"NA", "NB"}, f"curl --http2-prior-knowledge: {names}"
    r = run(["curl", "-sS", "--max-time", "20", "-w", "|%{http_code} %{http_version}\n",
             *[f"http://127.0.0.1:{WEB}/name.txt" for _ in range(6)]], timeout=25)
    out = r.stdout.decode()
    results = re.findall(r"\|(\d+) ([\d.]+)", out)
    assert results == [("200", "1.1")] * 6, f"curl HTTP/1.1: {results}\n{out}"
    assert sorted(names_in(out)) == ["NA"] * 3 + ["NB"] * 3, \
        f"curl HTTP/1.1, six requests on one connection: {names_in(out)}"
    # nghttp: 20 streams on one connection
    r = run(["nghttp", "--no-dep", *[f"http://127.0.0.1:{WEB}/name.txt?s={i}" for i in range(20)]],
            timeout=30)
    got = names_in(r.stdout.decode())
    assert len(got) == 20 and set(got) == {"NA", "NB"}, f"nghttp, 20 streams: {got}"


def test_te_trailers_and_authority_reach_the_h2_backend():
    for flags, tag in ((["--http2-prior-knowledge"], "h2"), ([], "h1")):
        path = f"/name.txt?probe={tag}"
        version, status, _ = curl(f"http://127.0.0.1:{WEB}{path}", *flags)
        assert status == 200, (tag, version, status)
        wait_until(lambda: NA.requests_for(path) or NB.requests_for(path), timeout=5,
                   what=f"{path} in nghttpd's log")
        [(_, _, fields)] = NA.requests_for(path) + NB.requests_for(path)
        names = [k for k, _ in fields]
        assert ("te", "trailers") in fields, f"{tag}: no te: trailers upstream: {fields}"
        assert (":authority", f"127.0.0.1:{WEB}") in fields, fields
        assert (":method", "GET") in fields and (":scheme", "http") in fields, fields
        for hop in ("connection", "keep-alive", "transfer-encoding", "upgrade", "host"):
            assert hop not in names, f"{tag}: {hop} sent upstream over HTTP/2: {fields}"


def test_5_mib_down_and_up_intact_through_the_h2_pool():
    for flags, version in ((["--http2-prior-knowledge"], "2"), ([], "1.1")):
        got = curl(f"http://127.0.0.1:{WEB}/big.bin", *flags)
        assert got[:2] == (version, 200), got[:2]
        assert len(got[2]) == BIG and hashlib.sha256(got[2]).hexdigest() == BIG_SHA, \
            f"download {flags}: {len(got[2])} bytes, sha differs"
        # nghttpd --echo-upload answers a POST with its body
        got = curl(f"http://127.0.0.1:{WEB}/echo", *flags, "--data-binary", f"@{big_file()}",
                   "-H", "Content-Type: application/octet-stream")
        assert got[:2] == (version, 200), got[:2]
        assert len(got[2]) == BIG and hashlib.sha256(got[2]).hexdigest() == BIG_SHA, \
            f"upload {flags}: the echo has {len(got[2])} bytes, sha differs"
    # HTTP/1.1 chunked upload (no content-length) becomes DATA frames
    with open(big_file(), "rb") as f:
        r = run(["curl", "-sS", "--max-time", "60", "-T", "-", "-X", "POST", "-o", "-",
                 f"http://127.0.0.1:{WEB}/echo-chunked"], input_bytes=f.read(), timeout=65)
    assert len(r.stdout) == BIG and hashlib.sha256(r.stdout).hexdigest() == BIG_SHA, \
        f"chunked upload: echo of {len(r.stdout)} bytes"


def test_response_trailers_from_an_h2_backend_reach_an_h2_client():
    # NA adds "x-trailer: from-nghttpd" after each body; NB none: retry until NA answers.
    for i in range(4):
        r = run(["nghttp", "-v", f"http://127.0.0.1:{WEB}/name.txt?trailer={i}"], timeout=20)
        out = r.stdout.decode(errors="replace")
        if "backend NA" in out:
            break
    else:
        raise AssertionError("four requests never reached NA")
    assert re.search(r"recv \(stream_id=\d+\) x-trailer: from-nghttpd", out), \
        f"the backend's trailer did not reach the HTTP/2 client:\n{out[-2500:]}"


def test_h2load_2000_requests_2_connections_50_streams_reach_both():
    before = {n.name: len(n.requests_for("/load.txt")) for n in (NA, NB)}
    r = run(["h2load", "-n", "2000", "-c", "2", "-m", "50", f"http://127.0.0.1:{WEB}/load.txt"],
            timeout=60)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    assert m and m.group(3, 4, 5, 6, 7) == ("2000", "2000", "0", "0", "0"), out
    assert re.search(r"status codes: 2000 2xx", out), out
    counts = {}

    def all_logged():
        counts.update({n.name: len(n.requests_for("/load.txt")) - before[n.name]
                       for n in (NA, NB)})
        return sum(counts.values()) >= 2000

    wait_until(all_logged, timeout=10, what="2000 requests in the nghttpd logs")
    assert sum(counts.values()) == 2000, counts
    assert min(counts.values()) >= 800, f"2000 requests did not reach both backends: {counts}"


# ---------------------------------------------------------------- 6: concurrency

def test_100_streams_of_one_connection_no_5xx_few_backend_connections():
    conns_before = {n.name: {c for c, _, _ in n.requests()} for n in (NA, NB)}
    accepted_before = accepted(ADMIN, "web")
    codes_before = requests_by_code(ADMIN, "web")
    r = run(["h2load", "-n", "3000", "-c", "1", "-m", "100",
             f"http://127.0.0.1:{WEB}/name.txt?many=1"], timeout=60)
    out = r.stdout.decode(errors="replace")
    assert re.search(r"status codes: 3000 2xx, 0 3xx, 0 4xx, 0 5xx", out), out
    assert accepted(ADMIN, "web") - accepted_before == 1, "h2load -c 1 made more connections"
    codes = requests_by_code(ADMIN, "web")
    fives = {c: v - codes_before.get(c, 0) for c, v in codes.items()
             if c >= 500 and v - codes_before.get(c, 0)}
    assert not fives, f"ringlb answered 5xx: {fives}"
    assert codes.get(200, 0) - codes_before.get(200, 0) == 3000, (codes, codes_before)
    # about 50 streams at a time per backend, under nghttpd's limit of 100:
    # the multiplexing needs no more than a couple of connections each
    wait_until(lambda: sum(len(n.requests_for("/name.txt?many=1")) for n in (NA, NB)) >= 3000,
               timeout=10, what="3000 requests in the nghttpd logs")
    for n in (NA, NB):
        used = {c for c, _, f in n.requests() if (":path", "/name.txt?many=1") in f}
        new = used - conns_before[n.name]
        assert len(used) <= 2, \
            f"{n.name}: 3000 requests of ~50 concurrent streams used {len(used)} backend " \
            f"connections ({len(new)} new)"


def test_backend_stream_limit_from_settings_opens_more_connections():
    ch = channel(LIM)
    GL.rearm()
    futures = [method(ch, "Hold").future(f"{i}".encode(), timeout=20 * SLOW) for i in range(10)]
    try:
        try:
            GL.wait(lambda b: b.held == 10, timeout=10 * SLOW,
                    what="10 calls held at once at a backend with 4 streams a connection")
        except AssertionError as e:
            failed = [f.exception() for f in futures if f.done() and f.exception()]
            raise AssertionError(f"{e}; failed calls: {[rpc_error_text(x) for x in failed]}; "
                                 f"per connection: {GL.max_held_by_peer}\nringlb's log tail:\n"
                                 f"{LB2.stderr()[-2000:]}") from None
        peers = dict(GL.max_held_by_peer)
        assert max(peers.values()) <= 4, f"more streams than SETTINGS allowed: {peers}"
        assert len(peers) >= 3, peers
    finally:
        GL.release()
    for f in futures:
        assert json.loads(f.result(timeout=10 * SLOW))["ended"] == "released"


def test_nghttpd_with_4_streams_a_connection_refuses_none_and_no_502():
    """nghttpd -m 4 answers a stream past its limit with RST_STREAM
    REFUSED_STREAM (nghttp2 enforces the limit it sent at once). 20
    concurrent streams from a fresh proxy: none may be refused (the proxy
    waits for the SETTINGS of a new connection, or retries a refused stream,
    which RFC 9113 section 8.7 allows for any method), none may be a 5xx."""
    log = os.path.join(D, "h2load-nlim.log")
    r = run(["h2load", "-n", "200", "-c", "1", "-m", "20", "--log-file", log,
             f"http://127.0.0.1:{NLIM}/name.txt"], timeout=60)
    out = r.stdout.decode(errors="replace")
    with open(log) as f:
        statuses = collections.Counter(line.split()[1] for line in f if line.strip())
    text = NL.text()
    refused = len(re.findall(r"send RST_STREAM frame.*\n.*REFUSED_STREAM", text))
    per_conn = collections.Counter(c for c, _, _ in NL.requests())
    assert re.search(r"status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx", out) and not refused, \
        f"h2load statuses {dict(statuses)}; nghttpd refused {refused} streams; requests per " \
        f"backend connection {dict(per_conn)}\n{out[-800:]}\nringlb's log tail:\n" \
        f"{LB2.stderr()[-1500:]}"


def test_120_streams_without_a_backend_limit_use_two_connections():
    GM.rearm()
    chans = [channel(MANY), channel(MANY)]
    futures = [method(ch, "Hold").future(b"", timeout=30 * SLOW) for ch in chans for _ in range(60)]
    try:
        try:
            GM.wait(lambda b: b.held == 120, timeout=15 * SLOW, what="120 held calls")
        except AssertionError as e:
            failed = [f.exception() for f in futures if f.done() and f.exception()]
            raise AssertionError(f"{e}; failed: {[rpc_error_text(x) for x in failed[:5]]}; "
                                 f"per connection: {GM.max_held_by_peer}") from None
        peers = dict(GM.max_held_by_peer)
        assert max(peers.values()) <= 100, f"more than 100 streams on a connection: {peers}"
        assert len(peers) == 2, f"120 streams should use 2 backend connections: {peers}"
    finally:
        GM.release()
    for f in futures:
        f.result(timeout=10 * SLOW)


# ---------------------------------------------------------------- 7: TLS

def test_tls_pool_negotiates_h2_with_alpn():
    for flags in (["--http2-prior-knowledge"], []):
        version, status, body = curl(f"http://127.0.0.1:{TLSWEB}/name.txt", *flags)
        assert status == 200 and body == b"backend NT\n", (flags, status, body[:200],
                                                            LB.stderr()[-2000:])
    got = curl(f"http://127.0.0.1:{TLSWEB}/big.bin", "--http2-prior-knowledge")
    assert got[1] == 200 and hashlib.sha256(got[2]).hexdigest() == BIG_SHA, \
        f"5 MiB over the TLS h2 pool: {got[1]}, {len(got[2])} bytes"
    assert NT.requests_for("/name.txt"), "nghttpd over TLS logged no request"


def test_http11_only_tls_backend_behind_an_h2_pool_is_a_502_that_says_why():
    problems = []
    version, status, body = curl(f"http://127.0.0.1:{H1ONLY}/x", "--http2-prior-knowledge")
    if status != 502:
        problems.append(f"status {status}, body {body[:300]!r}")
    # The backend's thread notes the connection once its read ends (the
    # proxy closes right after the handshake): wait for it.
    def noted():
        with H11.lock:
            return list(H11.seen)
    try:
        wait_until(noted, timeout=5 * SLOW, what="the HTTP/1.1 TLS backend to note a connection")
    except AssertionError:
        pass
    seen = noted()
    assert seen, "the HTTP/1.1 TLS backend was never reached"
    assert all(alpn is None for alpn, _ in seen), seen
    # RFC 9113 section 3.2: HTTP/2 over TLS only after ALPN agreed on h2.
    if any(first.startswith(b"PRI * HTTP/2.0") for _, first in seen):
        problems.append(f"the proxy sent the HTTP/2 preface to a backend that did not agree to "
                        f"h2 by ALPN: {seen}")
    log = LB.stderr()
    lines = [x for x in log.splitlines() if str(H11.port) in x or "h1only" in x]
    if not any(re.search(r"alpn|h2|http/2", x, re.I) for x in lines):
        problems.append(f"ringlb's log does not say why (no ALPN h2); its lines naming the "
                        f"backend or pool: {lines}")
    assert not problems, "\n".join(problems) + f"\nringlb's log tail:\n{log[-1500:]}"


# ---------------------------------------------------------------- 8: a dying backend

def test_killed_backend_ends_its_call_and_later_calls_go_to_the_other():
    ch = channel(FAILOVER)
    unary = method(ch, "Unary")
    GC.release()  # Hold answers at once on C; K holds (its release is never set)
    tags = [split_info(unary(f"{i}".encode(), timeout=10 * SLOW))[0]["backend"] for i in range(6)]
    assert set(tags) == {"K", "C"}, f"six calls did not reach both backends: {tags}"
    k_holds = len(GK.calls("Hold"))
    held = [method(ch, "Hold").future(b"", timeout=30 * SLOW) for _ in range(2)]
    wait_until(lambda: len(GK.calls("Hold")) > k_holds, timeout=5 * SLOW,
               what="a Hold call at K")
    killed = time.monotonic()
    GK.proc.send_signal(signal.SIGKILL)
    GK.proc.wait(timeout=10)
    outcomes = []
    for f in held:
        try:
            outcomes.append(("OK", json.loads(f.result(timeout=10 * SLOW))["backend"]))
        except grpc.FutureTimeoutError:
            raise AssertionError("the call in flight on the killed backend still hangs 10s "
                                 f"after the kill\nringlb's log tail:\n{LB.stderr()[-2000:]}") \
                from None
        except grpc.RpcError as e:
            outcomes.append((str(e.code()), time.monotonic() - killed))
    assert any(o[0] == "OK" and o[1] == "C" for o in outcomes), outcomes
    # the one on K failed (POST is not idempotent), or was served by C
    assert all(o[0] != "OK" or o[1] == "C" for o in outcomes), outcomes
    failures, served = [], []
    for i in range(20):
        try:
            info, echoed = split_info(unary(f"after {i}".encode(), timeout=10 * SLOW))
            served.append(info["backend"])
        except grpc.RpcError as e:
            failures.append((i, rpc_error_text(e)))
    assert not failures, f"calls after the kill failed: {failures}\n" \
                         f"ringlb's log tail:\n{LB.stderr()[-2500:]}"
    assert set(served) == {"C"}, served


def test_backend_shutting_down_gracefully_finishes_its_call_and_refuses_none():
    """A gRPC server's graceful stop sends GOAWAY: the call it holds still
    completes, and the calls made meanwhile go to the other backend (a stream
    the backend refused or did not take, past GOAWAY's last stream, is safe
    to retry for any method) without one failing."""
    ch = channel(GRACEFUL)
    unary = method(ch, "Unary")
    GE.release()
    tags = [split_info(unary(b"warm", timeout=10 * SLOW))[0]["backend"] for _ in range(4)]
    assert set(tags) == {"D", "E"}, tags
    held = [method(ch, "Hold").future(b"", timeout=30 * SLOW) for _ in range(2)]
    GD.wait(lambda b: b.held == 1, timeout=5 * SLOW, what="a call held at D")
    stopped = GD.server.stop(grace=15)  # GOAWAY; new calls refused, the held one may finish
    failures, served = [], []
    for i in range(20):
        try:
            served.append(split_info(unary(f"{i}".encode(), timeout=10 * SLOW))[0]["backend"])
        except grpc.RpcError as e:
            failures.append((i, rpc_error_text(e)))
    GD.release()
    outcomes = []
    for f in held:
        try:
            outcomes.append(json.loads(f.result(timeout=10 * SLOW))["backend"])
        except grpc.RpcError as e:
            outcomes.append(rpc_error_text(e))
    stopped.wait(15)
    assert sorted(outcomes) == ["D", "E"], f"the held calls: {outcomes}"
    assert not failures and set(served) == {"E"}, \
        f"calls during D's graceful stop: failed {failures}, served by {served}\n" \
        f"ringlb's log tail:\n{LB.stderr()[-1500:]}"


# ---------------------------------------------------------------- 9: config

def test_check_refuses_h2c_as_a_pool_protocol_and_h2_pools_of_tcp_listeners():
    base = f"""
[pools.p]
backends = ["127.0.0.1:{GA.port}"]
protocol = "{{proto}}"

[listeners.l]
bind = "127.0.0.1:{free_port()}"
mode = "{{mode}}"
pool = "p"
"""
    code, out = ringlb_check(base.format(proto="h2", mode="http"), "good-h2")
    assert code == 0, f"control: an h2 pool of an http listener is refused:\n{out}"
    code, out = ringlb_check(base.format(proto="h2c", mode="http"), "bad-h2c")
    assert code != 0, f"protocol = \"h2c\" accepted: {out}"
    assert "protocol" in out and "h2c" in out and '"h2"' in out, \
        f"the message should name the key, the value and the choices:\n{out}"
    code, out = ringlb_check(base.format(proto="h2", mode="tcp"), "bad-tcp")
    assert code != 0 and "protocol" in out, f"an h2 pool of a tcp listener: exit {code}\n{out}"


def test_zz_sigterm_exits_zero_and_no_assertion():
    for lb in (LB2, LB):
        code = lb.stop(timeout=15)
        log = lb.stderr()
        assert code == 0, f"exit {code}:\n{log[-3000:]}"
        assert "Assertion" not in log and "AddressSanitizer" not in log, log[-3000:]


if __name__ == "__main__":
    run_module(globals(), cleanup_all, TMP.cleanup)
