"""HTTP/2 frame layer and attack limits of an h2c listener (protocols =
["h2c", "http/1.1"]), from raw frames over plain TCP: a conformance test
written from RFC 9113 (h2spec is not packaged) and RFC 7541, plus one test
per HTTP/2 attack limit ringlb documents (concurrent streams, Rapid Reset,
CONTINUATION flood, HPACK bomb, SETTINGS / PING / PRIORITY / empty-DATA
floods, a peer that never reads its PING ACKs, idle and preface timeouts).
The frames are built and read by h2frames.py (standard library only).

One ringlb (2 workers) with two h2c listeners in front of one HTTP/1.1
backend this test runs: `h2c` (max_header_size = 4096) and `idle`
(idle_timeout = header_timeout = "1s"). Every stream error and connection
error is asserted as the exact frame and error code; every attack is
followed by a normal request from curl --http2-prior-knowledge on a new
connection, which must succeed within 1 s, and ringlb's VmRSS may grow by
less than 64 MiB over the attack. Every loop is bounded in count and time;
everything on 127.0.0.1."""

import shutil
import socket
import subprocess
import sys
import threading
import time

import h2frames as h2
from h2frames import (ACK, CANCEL, COMPRESSION_ERROR, DATA, END_STREAM, ENHANCE_YOUR_CALM,
                      FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY, HEADERS, INITIAL_WINDOW_SIZE,
                      MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, MAX_WINDOW,
                      NO_ERROR, PING, PREFACE, PROTOCOL_ERROR, REFUSED_STREAM, SETTINGS,
                      error_name)
from harness import (ScriptedServer, free_port, is_sanitized, metrics_text, parse_args,
                     read_http_request, read_http_response, run_module, start_ringlb, wait_until)

ARGS = parse_args()
if shutil.which("curl") is None or "HTTP2" not in subprocess.run(
        ["curl", "--version"], capture_output=True, text=True).stdout:
    print("SKIP: no curl with HTTP/2 (the check after every attack uses it)")
    sys.exit(77)

SLOW = 3 if is_sanitized(ARGS.ringlb) else 1  # an ASan build is 2-3x slower
# Under AddressSanitizer freed memory sits in a quarantine and every byte has shadow.
RSS_LIMIT = (144 if SLOW > 1 else 64) << 20
MAX_HEADER_SIZE = 4096
BIG = bytes(range(256)) * 800  # 200 KiB: /big's body


# ---------------------------------------------------------------- the backend

def backend_script(conn, rfile, server):
    """HTTP/1.1 keep-alive. Every request is noted (harness.HttpRequest, after
    its body). /hang... is never answered (held until ringlb closes the
    connection), /delay... is answered after 1.5 s, /big... gets BIG, anything
    else "backend <target>"."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        req = read_http_request(rfile)
        if req is None:
            return
        server.note(req)
        if req.target.startswith("/hang"):
            conn.settimeout(120)
            while conn.recv(65536):
                pass
            return
        if req.target.startswith("/delay"):
            time.sleep(1.5)
        body = BIG if req.target.startswith("/big") else f"backend {req.target}".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


BACKEND = ScriptedServer(backend_script, backlog=512)
H2C = free_port()
IDLE = free_port()
ADMIN = free_port()

CONFIG = f"""
[global]
workers = 2
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{ADMIN}"

[pools.app]
backends = ["127.0.0.1:{BACKEND.port}"]

[listeners.h2c]
mode = "http"
bind = "127.0.0.1:{H2C}"
pool = "app"
protocols = ["h2c", "http/1.1"]
max_header_size = {MAX_HEADER_SIZE}

[listeners.idle]
mode = "http"
bind = "127.0.0.1:{IDLE}"
pool = "app"
protocols = ["h2c", "http/1.1"]
idle_timeout = "1s"
header_timeout = "1s"
"""
LB = start_ringlb(ARGS.ringlb, CONFIG, ports=[H2C, IDLE, ADMIN])


# ---------------------------------------------------------------- helpers

def conn(port=H2C, pairs=(), start=True, **kw):
    """A new connection; with start, the preface and the SETTINGS exchange are done."""
    c = h2.Conn(port, timeout=5.0 * SLOW, **kw)
    if start:
        c.start(pairs)
    return c


def backend_saw(prefix):
    """The requests the backend read whose target starts with prefix."""
    with BACKEND.lock:
        return [r for r in BACKEND.notes if r.target.startswith(prefix)]


def expect_goaway(c, code, timeout=5.0):
    """A GOAWAY with `code` comes (the first GOAWAY), and then the connection closes."""
    c.read_until(lambda: c.goaways, timeout * SLOW)
    assert c.goaways, f"no GOAWAY (wanted {error_name(code)}):{c.describe()}"
    got = c.goaway[1]
    assert got == code, f"GOAWAY {error_name(got)}, wanted {error_name(code)}:{c.describe()}"
    assert c.wait_closed(timeout * SLOW), f"not closed after GOAWAY:{c.describe()}"


def expect_reset(c, sid, code, timeout=5.0):
    """Stream sid gets RST_STREAM with `code` (a stream error), no response,
    and the connection lives on (no GOAWAY; a PING is answered)."""
    s = c.response(sid, timeout * SLOW)
    assert s.reset is not None, \
        f"stream {sid}: no RST_STREAM (wanted {error_name(code)}), got {s}:{c.describe()}"
    assert s.reset == code, \
        f"stream {sid}: RST_STREAM {error_name(s.reset)}, wanted {error_name(code)}:{c.describe()}"
    assert s.status is None, f"stream {sid} got a response besides the reset: {s}:{c.describe()}"
    assert not c.goaways, f"a GOAWAY for a stream error:{c.describe()}"
    assert c.ping_roundtrip(timeout=timeout * SLOW), \
        f"the connection did not survive the stream error:{c.describe()}"


def expect_ok(c, sid, path, body=None, timeout=5.0):
    s = c.response(sid, timeout * SLOW)
    assert s.status == 200 and s.ended, f"stream {sid}: {s}:{c.describe()}"
    want = f"backend {path}".encode() if body is None else body
    assert bytes(s.data) == want, \
        f"stream {sid} body {bytes(s.data[:100])!r}, wanted {want[:100]!r}"
    return s


def goaway_case(raw, code, pairs=(), before=None):
    """A new connection sends raw (after `before`, if given) and gets GOAWAY code."""
    with conn(pairs=pairs) as c:
        if before:
            before(c)
        c.send(raw)
        expect_goaway(c, code)


def metrics():
    """{(name, frozenset of label pairs): value} from /metrics."""
    out = {}
    for line in metrics_text(ADMIN).splitlines():
        if not line or line.startswith("#") or "{" not in line:
            continue
        head, value = line.rsplit(" ", 1)
        name, labels = head.split("{", 1)
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p)
        out[(name, frozenset((k, v.strip('"')) for k, v in pairs))] = float(value)
    return out


def metric(name, **labels):
    """The sum of name's samples whose labels include `labels`; None if there is none."""
    want = set(labels.items())
    found = [v for (n, got), v in metrics().items() if n == name and want <= got]
    return sum(found) if found else None


class RssWatch:
    """Samples ringlb's VmRSS every 20 ms while an attack runs; growth = peak - start."""

    def __enter__(self):
        self.before = self.peak = LB.rss_bytes()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.stop.wait(0.02):
            try:
                self.peak = max(self.peak, LB.rss_bytes())
            except OSError:
                return

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        try:
            self.peak = max(self.peak, LB.rss_bytes())
        except OSError:
            pass

    @property
    def growth(self):
        return self.peak - self.before


def curl_h2(tag):
    """One GET with curl --http2-prior-knowledge on a new connection; returns the seconds."""
    path = f"/after-{tag}"
    start = time.monotonic()
    r = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-m", str(5 * SLOW),
                        "-w", "\n%{http_code} %{http_version}", f"http://127.0.0.1:{H2C}{path}"],
                       capture_output=True, timeout=30)
    took = time.monotonic() - start
    body, _, tail = r.stdout.decode("latin-1").rpartition("\n")
    assert r.returncode == 0 and tail == "200 2" and body == f"backend {path}", \
        f"curl after {tag}: exit {r.returncode}, {r.stdout[-200:]!r} {r.stderr[-300:]!r}"
    return took


def check_after_attack(tag, watch, note=""):
    """RSS growth bounded, and a normal client is served within 1 s."""
    took = curl_h2(tag)
    print(f"  {tag}: {note}; RSS +{watch.growth / (1 << 20):.1f} MiB "
          f"(peak {watch.peak >> 20} MiB); curl after it {took * 1000:.0f} ms", flush=True)
    assert watch.growth < RSS_LIMIT, \
        f"ringlb's RSS grew by {watch.growth >> 20} MiB during the {tag} attack"
    assert took < 1.0 * SLOW, f"curl after the {tag} attack took {took:.2f}s"


# TCP states (include/net/tcp_states.h)
TCP_ESTABLISHED, TCP_CLOSE, TCP_CLOSE_WAIT = 1, 7, 8


def proxy_let_go(sock, proxy_port):
    """True once ringlb closed its end of our connection, whether or not we
    read: our socket saw its FIN or reset, or ringlb's socket (in
    /proc/net/tcp) left ESTABLISHED (a FIN queued behind unread data) or is gone."""
    own = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    if own in (TCP_CLOSE, TCP_CLOSE_WAIT):
        return True
    local_port = sock.getsockname()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], int(fields[3], 16)
            if int(local.split(":")[1], 16) == proxy_port and \
                    int(remote.split(":")[1], 16) == local_port:
                return state != TCP_ESTABLISHED
    return True


# ---------------------------------------------------------------- preface, SETTINGS, PING

def test_preface_and_settings_exchange():
    with conn(start=False) as c:
        c.send(PREFACE + h2.settings([(INITIAL_WINDOW_SIZE, 65535), (MAX_FRAME_SIZE, 16384)]))
        c.read_until(lambda: c.server_settings is not None and c.settings_acks, 5 * SLOW)
        assert c.frames, f"nothing came back:{c.describe()}"
        first = c.frames[0]
        # §3.4: the server's connection preface is a SETTINGS frame, the first frame it sends.
        assert first.type == SETTINGS and not first.flags & ACK and first.stream == 0, \
            f"the first frame is not a SETTINGS:{c.describe()}"
        assert c.server_settings.get(MAX_CONCURRENT_STREAMS) == 100, \
            f"MAX_CONCURRENT_STREAMS: {c.server_settings}:{c.describe()}"
        acks = [f for f in c.frames if f.type == SETTINGS and f.flags & ACK]
        assert len(acks) == 1 and acks[0].payload == b"" and acks[0].stream == 0, \
            f"our SETTINGS was not acked once with an empty ACK:{c.describe()}"
        assert c.ping_roundtrip(), f"the connection does not work:{c.describe()}"


def test_server_settings_are_the_documented_ones():
    with conn() as c:
        want_increment = (4 << 20) - h2.DEFAULT_WINDOW  # a 4 MiB connection receive window
        c.read_until(lambda: c.conn_window_increments >= want_increment, 1.0 * SLOW)
        s = c.server_settings
        problems = []
        if s.get(INITIAL_WINDOW_SIZE) != 262144:
            problems.append(f"INITIAL_WINDOW_SIZE {s.get(INITIAL_WINDOW_SIZE)}, not 262144")
        if s.get(MAX_HEADER_LIST_SIZE) != MAX_HEADER_SIZE:
            problems.append(f"MAX_HEADER_LIST_SIZE {s.get(MAX_HEADER_LIST_SIZE)}, not "
                            f"max_header_size {MAX_HEADER_SIZE}")
        if s.get(h2.ENABLE_PUSH, 0) != 0:  # §6.5.2: a server MUST NOT set it to 1
            problems.append(f"ENABLE_PUSH {s.get(h2.ENABLE_PUSH)}")
        if c.conn_window_increments != want_increment:
            problems.append(f"connection WINDOW_UPDATEs add {c.conn_window_increments}, not "
                            f"{want_increment} (1 MiB)")
        assert not problems, f"{problems}:{c.describe()}"


def test_ping_is_acked_with_the_same_payload():
    with conn() as c:
        opaque = bytes([1, 2, 3, 4, 0xfd, 0xfe, 0xff, 0])
        c.send(h2.ping(opaque))
        c.read_until(lambda: c.ping_acks, 5 * SLOW)
        acks = [f for f in c.frames if f.type == PING]
        assert len(acks) == 1 and acks[0].flags == ACK and acks[0].stream == 0 and \
            acks[0].payload == opaque, f"PING not acked with its payload:{c.describe()}"


# ---------------------------------------------------------------- requests

def test_get_gets_200_headers_then_data_with_end_stream():
    with conn() as c:
        c.request(1, "/get")
        s = expect_ok(c, 1, "/get")
        mine = [f for f in c.frames if f.stream == 1]
        assert mine[0].type == HEADERS, f"the first frame of stream 1 is not HEADERS:{c.describe()}"
        assert mine[-1].type == DATA and mine[-1].flags & END_STREAM, \
            f"stream 1 does not end with DATA + END_STREAM:{c.describe()}"
        assert all(f.type in (HEADERS, DATA) for f in mine), c.describe()
        assert s.header("content-length") in (None, str(len(b"backend /get"))), s.blocks


def test_several_streams_on_one_connection():
    with conn() as c:
        paths = {sid: f"/multi-{sid}" for sid in (1, 3, 5, 7)}
        c.send(b"".join(h2.headers(sid, h2.request_block(p)) for sid, p in paths.items()))
        for sid, p in paths.items():
            expect_ok(c, sid, p)
        c.request(9, "/multi-9")  # and one more after them (HPACK state kept in step)
        expect_ok(c, 9, "/multi-9")


def test_http11_is_still_served_on_the_h2c_listener():
    with socket.create_connection(("127.0.0.1", H2C), timeout=5 * SLOW) as s:
        s.sendall(b"GET /h1 HTTP/1.1\r\nHost: app\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        resp = read_http_response(s, timeout=5 * SLOW)
    assert resp.status == 200 and resp.complete and resp.body == b"backend /h1", resp
    seen = backend_saw("/h1")
    assert seen and seen[0].header("upgrade") is None, \
        f"the backend got Upgrade: {seen[0].headers if seen else 'nothing'}"


def test_bad_preface_closes_the_connection():
    with conn(start=False) as c:
        c.parse = False
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + h2.settings())
        closed = c.wait_closed(5 * SLOW)
        raw = bytes(c.raw)
        assert closed, f"still open after a bad preface; got {raw[:200]!r}"
        if raw.startswith(b"HTTP/1."):  # read as an HTTP/1.1 request: an error answer is fine
            status = int(raw.split(b" ", 2)[1])
            assert status >= 400, raw[:200]
        elif raw:
            # §3.4: PROTOCOL_ERROR, though the GOAWAY MAY be omitted (the peer is not
            # speaking HTTP/2); the server's own preface (SETTINGS) may come first.
            frames, _ = h2.split_frames(raw)
            got = [h2.describe(f) for f in frames]
            assert frames, f"neither frames nor HTTP/1.1: {raw[:100]!r}"
            assert all(f.type in (SETTINGS, h2.WINDOW_UPDATE, GOAWAY) for f in frames), got
            assert all(int.from_bytes(f.payload[4:8], "big") == PROTOCOL_ERROR
                       for f in frames if f.type == GOAWAY), got


# ---------------------------------------------------------------- connection errors (§5.4.1)

def test_data_on_stream_0_is_a_protocol_error():
    goaway_case(h2.data(0, b"hello"), PROTOCOL_ERROR)


def test_headers_on_an_even_stream_is_a_protocol_error():
    goaway_case(h2.headers(2, h2.request_block("/even")), PROTOCOL_ERROR)


def test_a_frame_larger_than_max_frame_size_is_a_frame_size_error():
    # §4.2: a too large frame carrying a field block MUST be a connection error.
    block = h2.request_block("/big-frame")
    block += h2.filler_field(16385 - len(block))
    assert len(block) == 16385
    goaway_case(h2.headers(1, block), FRAME_SIZE_ERROR)


def test_window_update_of_0_on_the_connection_is_a_protocol_error():
    goaway_case(h2.window_update(0, 0), PROTOCOL_ERROR)


def test_connection_window_overflow_is_a_flow_control_error():
    goaway_case(h2.window_update(0, MAX_WINDOW), FLOW_CONTROL_ERROR)


def test_settings_with_a_bad_length_is_a_frame_size_error():
    goaway_case(h2.frame(SETTINGS, 0, 0, b"\0\x04\0\0\x40"), FRAME_SIZE_ERROR)


def test_settings_ack_with_a_payload_is_a_frame_size_error():
    goaway_case(h2.frame(SETTINGS, ACK, 0, b"\0\x04\0\0\x40\0"), FRAME_SIZE_ERROR)


def test_initial_window_size_above_2_31_is_a_flow_control_error():
    goaway_case(h2.settings([(INITIAL_WINDOW_SIZE, 1 << 31)]), FLOW_CONTROL_ERROR)


def test_enable_push_2_is_a_protocol_error():
    goaway_case(h2.settings([(h2.ENABLE_PUSH, 2)]), PROTOCOL_ERROR)


def test_max_frame_size_below_16384_is_a_protocol_error():
    goaway_case(h2.settings([(MAX_FRAME_SIZE, 16383)]), PROTOCOL_ERROR)


def test_ping_with_a_bad_length_is_a_frame_size_error():
    goaway_case(h2.frame(PING, 0, 0, b"1234567"), FRAME_SIZE_ERROR)


def test_window_update_with_a_bad_length_is_a_frame_size_error():
    goaway_case(h2.frame(h2.WINDOW_UPDATE, 0, 0, b"\0\0\x01"), FRAME_SIZE_ERROR)


def test_continuation_without_headers_is_a_protocol_error():
    goaway_case(h2.continuation(1, h2.request_block("/cont-alone")), PROTOCOL_ERROR)


def test_another_frame_inside_a_field_block_is_a_protocol_error():
    goaway_case(h2.headers(1, h2.request_block("/interleaved"), end_headers=False)
                + h2.ping(b"12345678"), PROTOCOL_ERROR)


def test_rst_stream_on_an_idle_stream_is_a_protocol_error():
    goaway_case(h2.rst_stream(1, CANCEL), PROTOCOL_ERROR)


def test_data_on_an_idle_stream_is_a_protocol_error():
    goaway_case(h2.data(1, b"x", end_stream=True), PROTOCOL_ERROR)


def test_a_stream_id_lower_than_a_previous_one_is_a_protocol_error():
    def stream_5(c):
        c.request(5, "/s5")
        expect_ok(c, 5, "/s5")
    goaway_case(h2.headers(3, h2.request_block("/s3")), PROTOCOL_ERROR, before=stream_5)


def test_unknown_frame_types_are_ignored():
    with conn() as c:
        c.send(h2.frame(0x20, 0xff, 0, b"something") + h2.frame(0xfa, 0, 1, b"x" * 100))
        assert c.ping_roundtrip(b"after-xx"), f"no PING ACK after unknown frames:{c.describe()}"
        c.request(1, "/after-unknown")
        expect_ok(c, 1, "/after-unknown")
        assert not c.goaways, c.describe()


# ---------------------------------------------------------------- stream errors (§5.4.2)

def open_stream(c, sid, path):
    """A POST whose body never ends (the backend holds /hang... unanswered)."""
    c.request(sid, path, "POST", end_stream=False)


def test_window_update_of_0_on_a_stream_is_a_protocol_error():
    # RFC 9113 section 6.9 makes it a stream error; section 5.4.1 lets an
    # endpoint treat a stream error as a connection error, which nghttp2 does.
    goaway_case(h2.window_update(1, 0), PROTOCOL_ERROR,
                before=lambda c: open_stream(c, 1, "/hang-wu0"))


def test_stream_window_overflow_resets_the_stream_with_flow_control_error():
    with conn() as c:
        open_stream(c, 1, "/hang-wu-overflow")
        c.send(h2.window_update(1, MAX_WINDOW))
        expect_reset(c, 1, FLOW_CONTROL_ERROR)


# ---------------------------------------------------------------- request translation (§8)

def rejected(extra=(), path="/rejected", fields=None, code=PROTOCOL_ERROR):
    """A request with `extra` fields (or exactly `fields`) gets RST_STREAM code and
    never reaches the backend."""
    with conn() as c:
        block = h2.encode(fields) if fields is not None else h2.request_block(path, extra=extra)
        c.send(h2.headers(1, block))
        expect_reset(c, 1, code)
        c.request(3, f"{path}-next")  # the connection still serves
        expect_ok(c, 3, f"{path}-next")
    assert not [r for r in backend_saw(path) if r.target == path], \
        f"the backend got the rejected request {path}"


def test_connection_header_resets_the_stream():
    rejected([("connection", "keep-alive")], "/conn-keep-alive")


def test_keep_alive_proxy_connection_transfer_encoding_upgrade_reset_the_stream():
    for name, value in (("keep-alive", "timeout=5"), ("proxy-connection", "keep-alive"),
                        ("transfer-encoding", "chunked"), ("upgrade", "websocket")):
        rejected([(name, value)], f"/hop-{name}")


def test_te_other_than_trailers_resets_the_stream():
    rejected([("te", "gzip")], "/te-gzip")


def test_te_trailers_is_allowed():
    with conn() as c:
        c.request(1, "/te-trailers", extra=[("te", "trailers")])
        expect_ok(c, 1, "/te-trailers")


def test_uppercase_header_name_resets_the_stream():
    rejected([("X-Upper", "1")], "/uppercase")


def test_missing_path_resets_the_stream():
    rejected(fields=[(":method", "GET"), (":scheme", "http"), (":authority", "localhost")],
             path="/missing-path")


def test_pseudo_header_after_a_regular_one_resets_the_stream():
    rejected(fields=[(":method", "GET"), (":scheme", "http"), ("x-a", "1"),
                     (":path", "/late-pseudo"), (":authority", "localhost")], path="/late-pseudo")


def test_body_shorter_than_content_length_resets_the_stream():
    with conn() as c:
        block = h2.request_block("/cl-short", "POST", [("content-length", "10")])
        c.send(h2.headers(1, block, end_stream=False) + h2.data(1, b"12345", end_stream=True))
        expect_reset(c, 1, PROTOCOL_ERROR)
    time.sleep(1.0 * SLOW)  # time for a complete request to reach the backend, if it would
    complete = [r for r in backend_saw("/cl-short") if r.complete]
    assert not complete, f"the backend got a complete request: {complete[0].body!r}"


def test_post_body_authority_and_cookie_crumbs_reach_the_backend():
    with conn() as c:
        extra = [("content-length", "11"), ("cookie", "a=1"), ("cookie", "b=2")]
        block = h2.request_block("/post-body", "POST", extra, authority="app.example")
        c.send(h2.headers(1, block, end_stream=False) + h2.data(1, b"hello ")
               + h2.data(1, b"world", end_stream=True))
        expect_ok(c, 1, "/post-body")
    seen = backend_saw("/post-body")
    assert len(seen) == 1, seen
    r = seen[0]
    assert r.method == "POST" and r.complete and r.body == b"hello world", (r.headers, r.body)
    assert r.header("host") == "app.example", r.headers
    assert r.values("cookie") == ["a=1; b=2"], r.headers


def test_connect_is_not_supported():
    with conn() as c:
        c.send(h2.headers(1, h2.encode([(":method", "CONNECT"), (":authority", "db:5432")]),
                          end_stream=False))
        s = c.response(1, 5 * SLOW)
        # As over HTTP/1.1, a reverse proxy listener does not tunnel: 405.
        assert s.status == 405, f"CONNECT: {s} {bytes(s.data[:100])!r}:{c.describe()}"
        assert not c.goaways, c.describe()
    assert not backend_saw("db:5432"), "the CONNECT reached the backend"


def test_header_list_above_max_header_size_gets_431():
    # 6000 bytes of header value, Huffman-coded: 3750 bytes on the wire, so the
    # raw field block stays within max_header_size and only the decoded list is over.
    with conn() as c:
        block = h2.request_block("/big-head", extra=[("x-big", "a" * 6000)], huffman=True)
        assert len(block) < MAX_HEADER_SIZE, len(block)
        c.send(h2.headers(1, block))
        s = c.response(1, 5 * SLOW)
        assert s.status == 431 and s.ended, f"{s}:{c.describe()}"
        assert not c.goaways, c.describe()
        c.request(3, "/after-431")
        expect_ok(c, 3, "/after-431")
    assert not backend_saw("/big-head"), "the backend got the request with the 6000-byte header"


def test_a_6000_byte_literal_header_gets_431_or_enhance_your_calm():
    # Raw, the block itself (6000+ bytes) is over max_header_size: the spec's
    # header_block limit may close the connection instead of answering 431.
    with conn() as c:
        c.send(h2.headers(1, h2.request_block("/big-literal", extra=[("x-big", "a" * 6000)])))
        s = c.response(1, 5 * SLOW)
        if c.goaways:
            assert c.goaway[1] == ENHANCE_YOUR_CALM, c.describe()
            outcome = "GOAWAY ENHANCE_YOUR_CALM"
        else:
            assert s.status == 431 and s.ended, f"{s}:{c.describe()}"
            outcome = "431"
        print(f"  a raw 6000-byte header: {outcome}", flush=True)
    assert not backend_saw("/big-literal"), "the backend got the request with the big header"


# ---------------------------------------------------------------- flow control (§5.2, §6.9)

def test_response_data_stops_at_the_stream_window_until_window_update():
    with conn(pairs=[(INITIAL_WINDOW_SIZE, 16384)]) as c:
        c.auto_window = False
        c.request(1, "/big-stream-window")
        s = c.stream(1)
        c.read_until(lambda: len(s.data) >= 16384 or s.done, 5 * SLOW)
        c.read_for(0.5 * SLOW)
        assert len(s.data) == 16384 and not s.done, \
            f"{len(s.data)} bytes before any WINDOW_UPDATE, not 16384: {s}:{c.describe()}"
        c.send(h2.window_update(0, 1 << 20) + h2.window_update(1, 1 << 20))
        c.read_until(lambda: s.done, 5 * SLOW)
        assert s.status == 200 and s.ended and bytes(s.data) == BIG, f"{s}:{c.describe()}"
        big = [f for f in c.frames if len(f.payload) > 16384]
        assert not big, f"frames above our MAX_FRAME_SIZE: {[h2.describe(f) for f in big]}"


def test_response_data_stops_at_the_connection_window_until_window_update():
    # SETTINGS_INITIAL_WINDOW_SIZE is only the streams' window; the connection's stays 65535.
    with conn(pairs=[(INITIAL_WINDOW_SIZE, 1 << 20)]) as c:
        c.auto_window = False
        c.request(1, "/big-conn-window")
        s = c.stream(1)
        c.read_until(lambda: len(s.data) >= h2.DEFAULT_WINDOW or s.done, 5 * SLOW)
        c.read_for(0.5 * SLOW)
        assert len(s.data) == h2.DEFAULT_WINDOW and not s.done, \
            f"{len(s.data)} bytes before any WINDOW_UPDATE, not 65535: {s}:{c.describe()}"
        c.send(h2.window_update(0, 1 << 20))
        c.read_until(lambda: s.done, 5 * SLOW)
        assert s.status == 200 and s.ended and bytes(s.data) == BIG, f"{s}:{c.describe()}"


# ---------------------------------------------------------------- idle and preface timeouts

def test_idle_connection_gets_goaway_no_error():
    start = time.monotonic()
    with conn(IDLE) as c:
        c.read_until(lambda: c.goaways, 5 * SLOW)
        took = time.monotonic() - start
        assert c.goaways, f"no GOAWAY after {took:.1f}s idle:{c.describe()}"
        last, code, _ = c.goaway
        assert code == NO_ERROR and last == 0, c.describe()
        assert 0.8 <= took <= 2.5 * SLOW, f"GOAWAY after {took:.2f}s with idle_timeout 1s"
        assert c.wait_closed(2 * SLOW), f"not closed after the idle GOAWAY:{c.describe()}"
        took = c.closed_at - start
        assert took <= 3.0 * SLOW, f"closed {took:.2f}s after connecting"


def test_a_client_that_stops_reading_is_closed_after_idle_timeout():
    # Large windows and many large answers, never read: the proxy's send queue
    # fills, no byte leaves for idle_timeout (1 s), and the connection closes.
    c = conn(IDLE, pairs=[(INITIAL_WINDOW_SIZE, MAX_WINDOW)], rcvbuf=4096)
    try:
        c.send(h2.window_update(0, MAX_WINDOW - h2.DEFAULT_WINDOW))
        c.send(b"".join(h2.headers(sid, h2.request_block(f"/big-stall-{sid}"))
                        for sid in range(1, 80, 2)))
        start = time.monotonic()
        wait_until(lambda: metric("ringlb_connections_active", listener="idle") == 0,
                   timeout=6 * SLOW, what="the unread connection closed")
        took = time.monotonic() - start
        print(f"  closed {took:.2f}s after the requests (idle_timeout 1s)", flush=True)
        assert took >= 0.8, f"closed after {took:.2f}s, before idle_timeout"
    finally:
        c.close()


def test_an_open_stream_keeps_the_connection_past_idle_timeout():
    with conn(IDLE) as c:
        # Answered after 1.5 s: longer than idle_timeout, and not a multiple of it.
        c.request(1, "/delay-idle")
        s = c.stream(1)
        c.read_until(lambda: s.done or c.closed, 6 * SLOW)
        assert s.status == 200 and s.ended, f"the stream did not outlive idle_timeout: {s}:" \
            f"{c.describe()}"
        c.read_until(lambda: c.goaways, 5 * SLOW)  # and now it is idle
        assert c.goaways and c.goaway[1] == NO_ERROR and c.goaway[0] == 1, c.describe()
        end = next(i for i, f in enumerate(c.frames) if f.stream == 1 and f.flags & END_STREAM)
        goaway = next(i for i, f in enumerate(c.frames) if f.type == GOAWAY)
        idle = c.frame_times[goaway] - c.frame_times[end]
        assert goaway > end, f"GOAWAY while the stream was open:{c.describe()}"
        print(f"  GOAWAY NO_ERROR {idle:.2f}s after the stream ended", flush=True)
        assert 0.8 <= idle <= 2.5 * SLOW, \
            f"GOAWAY {idle:.2f}s after the stream ended, with idle_timeout 1s:{c.describe()}"
        assert c.wait_closed(2 * SLOW), c.describe()


def preface_timeout(sent):
    start = time.monotonic()
    with conn(IDLE, start=False) as c:
        c.parse = False
        if sent:
            c.send(sent)
        closed = c.wait_closed(5 * SLOW)
        took = time.monotonic() - start
        assert closed, f"still open {took:.1f}s after connecting with {sent!r}"
        assert 0.8 <= took <= 2.5 * SLOW, \
            f"closed after {took:.2f}s with header_timeout 1s (got {bytes(c.raw[:100])!r})"


def test_no_preface_is_closed_after_header_timeout():
    preface_timeout(b"")


def test_a_partial_preface_is_closed_after_header_timeout():
    preface_timeout(PREFACE[:18])


# ---------------------------------------------------------------- attacks

def test_attack_concurrent_streams():
    # Past SETTINGS_MAX_CONCURRENT_STREAMS once our SETTINGS were acknowledged
    # (conn() acknowledges them): a connection error, PROTOCOL_ERROR (RFC 9113
    # section 5.1.2 allows it or REFUSED_STREAM; nghttp2 refuses streams only
    # before the acknowledgement). The 100 streams before were taken.
    c = conn()
    try:
        with RssWatch() as w:
            c.send(b"".join(h2.headers(sid, h2.request_block(f"/hang-cs-{sid}", "POST"),
                                       end_stream=False) for sid in range(1, 203, 2)))  # 101
            c.read_until(lambda: c.goaways, 5 * SLOW)
            closed = c.wait_closed(5 * SLOW)
        assert c.goaways, f"no GOAWAY for 101 open streams:{c.describe()}"
        assert c.goaway[1] == PROTOCOL_ERROR, c.describe()
        assert c.goaway[0] == 199, f"the last stream taken should be 199:{c.describe()}"
        assert closed, f"not closed after the GOAWAY:{c.describe()}"
        check_after_attack("concurrent-streams", w, "GOAWAY PROTOCOL_ERROR at the 101st")
    finally:
        c.close()


def test_attack_rapid_reset():
    c = conn()
    try:
        with RssWatch() as w:
            block = h2.request_block("/rapid-reset")
            pairs = 0
            while pairs < 1000 and not c.goaways and not c.closed:
                raw = b"".join(h2.headers(sid, block) + h2.rst_stream(sid, CANCEL)
                               for sid in range(2 * pairs + 1, 2 * (pairs + 50) + 1, 2))
                if not c.send(raw):
                    break
                pairs += 50
                c.pump(0)
            c.read_until(lambda: c.goaways, 5 * SLOW)
            closed = c.wait_closed(5 * SLOW)
        assert c.goaways, f"no GOAWAY after {pairs} HEADERS + RST_STREAM pairs:{c.describe()}"
        assert c.goaway[1] == ENHANCE_YOUR_CALM, c.describe()
        assert closed, f"not closed after the GOAWAY:{c.describe()}"
        check_after_attack("rapid-reset", w, f"GOAWAY {error_name(c.goaway[1])} after sending "
                           f"{pairs} pairs")
    finally:
        c.close()


def test_attack_continuation_flood():
    filler = b"".join(h2.filler_field(1024, name=f"x-flood-{i:02}") for i in range(16))
    assert len(filler) == 16384
    c = conn()
    try:
        with RssWatch() as w:
            c.send(h2.headers(1, h2.request_block("/continuation"), end_headers=False))
            frames = 0
            while frames < 10000 and c.bytes_sent < 1 << 20:
                if c.goaways or c.closed or not c.send(h2.continuation(1, filler, False)):
                    break
                frames += 1
                c.pump(0.02)
            sent = c.bytes_sent
            c.read_until(lambda: c.goaways, 5 * SLOW)
            closed = c.wait_closed(5 * SLOW)
        assert c.goaways, f"no GOAWAY after {frames} CONTINUATION frames:{c.describe()}"
        assert c.goaway[1] in (ENHANCE_YOUR_CALM, COMPRESSION_ERROR, PROTOCOL_ERROR), c.describe()
        assert closed, f"not closed after the GOAWAY:{c.describe()}"
        assert sent < 1 << 20, f"{sent} bytes sent before the connection was cut:{c.describe()}"
        check_after_attack("continuation-flood", w, f"GOAWAY {error_name(c.goaway[1])} after "
                           f"{frames} CONTINUATION frames ({sent} bytes sent)")
    finally:
        c.close()


def test_attack_hpack_bomb():
    c = conn()
    try:
        with RssWatch() as w:
            # One ~3.9 kB field into ringlb's dynamic table (its request may get 431
            # itself: the decoded list is a little over 4096 counted as §4.1 does).
            insert = h2.request_block("/bomb-insert") + h2.literal("x-bomb", "b" * 3900,
                                                                   indexing=True)
            assert len(insert) < MAX_HEADER_SIZE
            c.send(h2.headers(1, insert))
            first = c.response(1, 5 * SLOW)
            bomb = None
            if not c.goaways and not c.closed:
                # 1000 references to it: 1000 bytes that decode to 3.9 MB.
                c.send(h2.headers(3, h2.request_block("/bomb") + h2.indexed(62) * 1000))
                bomb = c.response(3, 5 * SLOW)
        assert bomb is None or bomb.status != 200, f"the bomb got a 200: {bomb}:{c.describe()}"
        assert bomb is None or bomb.status == 431 or bomb.reset is not None or c.goaways, \
            f"no 431, RST_STREAM or GOAWAY for the bomb: {bomb}:{c.describe()}"
        huge = [r for r in backend_saw("/bomb") if sum(len(k) + len(v) for k, v in r.headers)
                > MAX_HEADER_SIZE * 2]
        assert not huge, f"the backend got a head of {len(huge)} huge requests"
        assert not [r for r in backend_saw("/bomb") if r.target == "/bomb"], \
            "the bomb reached the backend"
        outcome = (f"GOAWAY {error_name(c.goaway[1])}" if c.goaways
                   else f"stream 3: {bomb}")
        check_after_attack("hpack-bomb", w, f"insert stream: {first}; {outcome}")
    finally:
        c.close()


def flood(tag, make, setup=None, count=10000, batch=50):
    """count frames make(i), batch by batch, reading what comes between
    batches; GOAWAY ENHANCE_YOUR_CALM and a closed connection expected."""
    c = conn()
    try:
        if setup:
            setup(c)
        with RssWatch() as w:
            sent = 0
            while sent < count and not c.goaways and not c.closed:
                if not c.send(b"".join(make(sent + i) for i in range(batch))):
                    break
                sent += batch
                c.pump(0)
            c.read_until(lambda: c.goaways, 5 * SLOW)
            closed = c.wait_closed(5 * SLOW)
        assert c.goaways, f"no GOAWAY after {sent} frames:{c.describe()}"
        assert c.goaway[1] == ENHANCE_YOUR_CALM, c.describe()
        assert closed, f"not closed after the GOAWAY:{c.describe()}"
        check_after_attack(tag, w, f"GOAWAY {error_name(c.goaway[1])} after sending {sent} "
                           f"frames, {len(c.frames)} frames received")
    finally:
        c.close()


def test_attack_settings_flood():
    flood("settings-flood", lambda i: h2.settings([(h2.HEADER_TABLE_SIZE, 4096)]))


def test_attack_ping_flood():
    flood("ping-flood", lambda i: h2.ping(i.to_bytes(8, "big")))


def test_attack_priority_flood():
    flood("priority-flood", lambda i: h2.priority(2 * i + 1, depends_on=0, weight=1 + i % 256))


def test_attack_empty_data_flood():
    flood("empty-data-flood", lambda i: h2.data(1, b""),
          setup=lambda c: open_stream(c, 1, "/hang-empty-data"))


def test_attack_pings_never_read():
    # A small receive buffer, and no read at all: the ACKs pile up in ringlb.
    c = conn(rcvbuf=4096)
    try:
        with RssWatch() as w:
            c.timeout = 2.0 * SLOW  # a send blocked this long counts as ringlb not reading
            batch = h2.ping(b"noread!!") * 100
            sent, deadline = 0, time.monotonic() + 20 * SLOW
            while sent < 100000 and time.monotonic() < deadline:
                if proxy_let_go(c.sock, H2C) or not c.send(batch):
                    break
                sent += 100
            deadline = time.monotonic() + 5 * SLOW
            while not proxy_let_go(c.sock, H2C) and time.monotonic() < deadline:
                time.sleep(0.02)
            let_go = proxy_let_go(c.sock, H2C)
        assert let_go, f"ringlb still holds the connection after {sent} unread PINGs " \
            f"(send: {c.send_error})"
        c.timeout = 5.0 * SLOW
        c.auto_ack = False
        c.wait_closed(5 * SLOW)  # now read what it sent before closing
        acks = len(c.ping_acks)
        check_after_attack("pings-never-read", w, f"closed after {sent} PINGs sent; then read "
                           f"{acks} ACKs and GOAWAY {[error_name(g[1]) for g in c.goaways]}")
    finally:
        c.close()


# ---------------------------------------------------------------- metrics, exit

def test_zz_metrics_count_the_limits_and_enhance_your_calm():
    want = [("ringlb_http2_limit_hits_total", {"limit": "rapid_reset"}),
            ("ringlb_http2_limit_hits_total", {"limit": "control_flood"}),
            ("ringlb_http2_limit_hits_total", {"limit": "header_block"}),
            ("ringlb_http2_goaways_total", {"side": "sent", "code": "enhance_your_calm"})]
    missing = [(name, labels, metric(name, listener="h2c", **labels)) for name, labels in want
               if (metric(name, listener="h2c", **labels) or 0) < 1]
    assert not missing, f"metrics not counted (name, labels, value): {missing}"


def test_zz_metrics_count_the_other_codes_and_streams_drain():
    want = [("ringlb_http2_limit_hits_total", "h2c", {"limit": "concurrent_streams"}),
            ("ringlb_http2_resets_total", "h2c", {"side": "sent", "code": "protocol_error"}),
            ("ringlb_http2_resets_total", "h2c", {"side": "received", "code": "cancel"}),
            ("ringlb_http2_goaways_total", "h2c", {"side": "sent", "code": "protocol_error"}),
            ("ringlb_http2_goaways_total", "idle", {"side": "sent", "code": "no_error"})]
    problems = [f"{name}{{listener={listener},{labels}}} = {value}"
                for name, listener, labels in want
                for value in [metric(name, listener=listener, **labels)] if (value or 0) < 1]
    # Every client connection of this test is closed by now: no stream is left open.
    for listener in ("h2c", "idle"):
        try:
            wait_until(lambda: metric("ringlb_http_streams_active", listener=listener) == 0,
                       timeout=10 * SLOW, what="no open stream")
        except AssertionError:
            problems.append(f"ringlb_http_streams_active{{listener={listener}}} = "
                            f"{metric('ringlb_http_streams_active', listener=listener)} after 10s")
    assert not problems, f"metrics not as expected: {problems}"


def test_zz_sigterm_exits_zero():
    assert LB.stop(timeout=10) == 0, LB.stderr()
    assert "Assertion" not in LB.stderr() and "ERROR: AddressSanitizer" not in LB.stderr(), \
        LB.stderr()


if __name__ == "__main__":
    run_module(globals(), LB.close, BACKEND.stop)
