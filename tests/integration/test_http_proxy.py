"""The http listener mode end to end: real ringlb, raw sockets and http.client
against hand-written HTTP/1.1 backends on loopback (every byte they receive is
recorded, so a test can assert that a rejected request reached nobody)."""

import hashlib
import http.client
import socket
import threading
import time

from harness import Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()
BLOCK = bytes(range(256)) * 256  # 64 KiB of known content
BIG_BLOCKS = 1600  # 100 MiB
# ringlb must stream, not buffer: its RSS grows by less than this during a
# 100 MiB transfer (the growth, not the whole RSS: what earlier tests left,
# ASan's quarantine above all, is not the transfer's).
RSS_LIMIT = 48 << 20
# Under AddressSanitizer freed memory sits in a quarantine and every byte has
# shadow: buffering 100 MiB still would not fit.
RSS_LIMIT_SANITIZED = 96 << 20


def rss_limit(pid):
    with open(f"/proc/{pid}/maps") as f:
        return RSS_LIMIT_SANITIZED if "libasan" in f.read() else RSS_LIMIT


class Backend:
    """A threaded HTTP/1.1 server. mode: normal | garbage (invalid status
    line) | closer (reads the request, closes without answering) | oneshot
    (answers as if keep-alive, then closes the connection anyway) | dying
    (answers its first request only, then closes on every later one, like a
    backend that was just killed)."""

    def __init__(self, name, mode="normal"):
        self.name, self.mode = name, mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []  # (method, path, headers)
        self.bytes_received = 0
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

    def _readline(self, f):
        line = f.readline(65536)
        with self.lock:
            self.bytes_received += len(line)
        return line

    def _read(self, f, n):
        data = f.read(n)
        with self.lock:
            self.bytes_received += len(data)
        return data

    def _serve(self, conn):
        f = conn.makefile("rb")
        try:
            while self._serve_one(conn, f):
                pass
        except OSError:
            pass
        finally:
            f.close()  # the socket really closes only once its file is closed too
            conn.close()

    def _serve_one(self, conn, f):
        line = self._readline(f)
        if not line:
            return False
        method, path, _ = line.decode().split(" ")
        headers = {}
        while True:
            h = self._readline(f)
            if h in (b"\r\n", b""):
                break
            k, v = h.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        with self.lock:
            self.requests.append((method, path, headers))
        if self.mode == "closer" or (self.mode == "dying" and len(self.requests) > 1):
            return False
        if headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        digest, length = hashlib.sha256(), 0
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self._readline(f).split(b";")[0], 16)
                if size == 0:
                    self._readline(f)
                    break
                data = self._read(f, size)
                digest.update(data)
                length += len(data)
                self._readline(f)
        elif "content-length" in headers:
            data = self._read(f, int(headers["content-length"]))
            digest.update(data)
            length = len(data)
        if self.mode == "garbage":
            conn.sendall(b"HTTP/1.1 2000 Nope\r\n\r\n")
            return False
        return self._respond(conn, f, method, path, headers, digest, length)

    def _respond(self, conn, f, method, path, headers, digest, length):
        if path.startswith("/sleep"):
            time.sleep(1.5)
        if path == "/ws" and headers.get("upgrade") == "websocket":
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\n\r\n")
            while True:  # echo raw bytes until the client closes
                data = f.read1(65536)
                if not data:
                    return False
                conn.sendall(data)
        if path == "/download":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(BIG_BLOCKS):
                conn.sendall(b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
            return True
        if path == "/upload":
            body = f"{length} {digest.hexdigest()}".encode()
        elif path == "/headers":
            body = repr(headers).encode()
        else:
            body = f"{self.name} {method} {path}".encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        conn.sendall(head + (b"" if method == "HEAD" else body))
        return self.mode != "oneshot"

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def stop(self):
        self.sock.close()


def read_response(sock, buf=b""):
    """Reads one Content-Length response from sock; returns (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise AssertionError(f"connection closed mid-head: {buf!r}")
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        k, v = line.split(":", 1)
        if k.lower() == "content-length":
            length = int(v)
    while len(buf) < length:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    return status, buf[:length], buf[length:]


class RssWatch:
    """Samples ringlb's VmRSS from /proc while a transfer runs; .peak in bytes."""

    def __init__(self, pid):
        self.pid, self.peak, self.base, self.done = pid, 0, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self.base = self._rss()  # what earlier tests left (ASan's quarantine) is not this one's
        self.thread.start()
        return self

    def growth(self):
        return self.peak - self.base

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def raw_exchange(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        status, body, _ = read_response(s)
        return status, body


def get(port, path, host="x.test", method="GET", body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


# ---------------------------------------------------------------- the setup

A, B, C = Backend("A"), Backend("B"), Backend("C")
SLOW, BAD, CLOSER, GOOD = Backend("slow"), Backend("bad", "garbage"), Backend("closer", "closer"), Backend("good")
ONESHOT = Backend("oneshot", "oneshot")
DYING, SURVIVOR = Backend("dying", "dying"), Backend("survivor")
LIMITED = Backend("limited")
PORTS = {name: free_port() for name in ("main", "slow", "bad", "down", "retry", "refused", "routed", "oneshot",
                                        "limits", "dying")}
DEAD = free_port()  # nothing listens here

CONFIG = f"""
[global]
workers = 1
drain_timeout = "2s"

[pools.a]
backends = ["127.0.0.1:{A.port}"]
[pools.b]
backends = ["127.0.0.1:{B.port}"]
[pools.c]
backends = ["127.0.0.1:{C.port}"]
[pools.slow]
backends = ["127.0.0.1:{SLOW.port}"]
[pools.bad]
backends = ["127.0.0.1:{BAD.port}"]
[pools.down]
backends = ["127.0.0.1:{DEAD}"]
[pools.down.health]
check = "tcp"
interval = "100ms"
timeout = "100ms"
fall = 1
rise = 1
[pools.retry]
backends = ["127.0.0.1:{CLOSER.port}", "127.0.0.1:{GOOD.port}"]
# The closer must stay in the pool for the retry tests: no passive ejection.
passive_failures = 0
[pools.oneshot]
backends = ["127.0.0.1:{ONESHOT.port}"]
[pools.limited]
backends = ["127.0.0.1:{LIMITED.port}"]
[pools.dying]
# Weighted so that a retry that forgot the failed backend would pick it again.
backends = [{{ address = "127.0.0.1:{DYING.port}", weight = 9 }}, "127.0.0.1:{SURVIVOR.port}"]
passive_failures = 0
[pools.refused]
backends = ["127.0.0.1:{DEAD}", "127.0.0.1:{GOOD.port}"]
connect_timeout = "1s"

[listeners.main]
bind = "127.0.0.1:{PORTS['main']}"
mode = "http"
pool = "a"
[[listeners.main.routes]]
host = "api.test"
pool = "b"
[[listeners.main.routes]]
host = "*.wild.test"
pool = "c"
[[listeners.main.routes]]
path_prefix = "/static"
pool = "c"
[[listeners.main.routes]]
path = "/exact"
pool = "b"

[listeners.routed]
bind = "127.0.0.1:{PORTS['routed']}"
mode = "http"
[[listeners.routed.routes]]
host = "only.test"
pool = "a"

[listeners.oneshot]
bind = "127.0.0.1:{PORTS['oneshot']}"
mode = "http"
pool = "oneshot"

[listeners.slow]
bind = "127.0.0.1:{PORTS['slow']}"
mode = "http"
pool = "slow"
header_timeout = "300ms"
response_timeout = "500ms"

[listeners.bad]
bind = "127.0.0.1:{PORTS['bad']}"
mode = "http"
pool = "bad"

[listeners.down]
bind = "127.0.0.1:{PORTS['down']}"
mode = "http"
pool = "down"

[listeners.retry]
bind = "127.0.0.1:{PORTS['retry']}"
mode = "http"
pool = "retry"

[listeners.refused]
bind = "127.0.0.1:{PORTS['refused']}"
mode = "http"
pool = "refused"

[listeners.dying]
bind = "127.0.0.1:{PORTS['dying']}"
mode = "http"
pool = "dying"

[listeners.limits]
bind = "127.0.0.1:{PORTS['limits']}"
mode = "http"
pool = "limited"
max_request_line = 1024
max_header_size = 2048
max_header_fields = 10
"""

LB = Ringlb(ARGS.ringlb, CONFIG, PORTS.values())
MAIN = PORTS["main"]


# ---------------------------------------------------------------- the tests

def test_routes_by_host_and_path_then_the_listener_pool():
    assert get(MAIN, "/", host="api.test")[1] == b"B GET /"
    assert get(MAIN, "/", host="API.test:80")[1] == b"B GET /"
    assert get(MAIN, "/", host="a.wild.test")[1] == b"C GET /"
    assert get(MAIN, "/static/x.css")[1] == b"C GET /static/x.css"
    assert get(MAIN, "/exact")[1] == b"B GET /exact"
    assert get(MAIN, "/exact/not")[1] == b"A GET /exact/not"
    assert get(MAIN, "/other", host="wild.test")[1] == b"A GET /other"


def test_forwarding_headers_are_set_and_hop_by_hop_ones_removed():
    _, body = get(MAIN, "/headers", headers={"X-Forwarded-For": "203.0.113.9",
                                             "Connection": "X-Secret", "X-Secret": "1"})
    headers = eval(body)  # noqa: S307 - our own backend's repr of a dict
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1", headers
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "x.test"
    assert headers["forwarded"] == "for=127.0.0.1;host=x.test;proto=http"
    assert len(headers["x-request-id"]) == 32
    assert "x-secret" not in headers and "connection" not in headers


def test_keep_alive_reuses_backend_connections():
    before = A.connections
    for _ in range(10):
        conn = http.client.HTTPConnection("127.0.0.1", MAIN, timeout=10)
        for i in range(10):
            conn.request("GET", f"/ka{i}", headers={"Host": "x.test"})
            r = conn.getresponse()
            assert r.status == 200 and r.read() == f"A GET /ka{i}".encode()
        conn.close()
    assert A.connections - before <= 2, f"{A.connections - before} backend connections for 100 requests"


def test_pipelined_requests_are_answered_in_order():
    requests = b"".join(b"GET /p%d HTTP/1.1\r\nHost: x.test\r\n\r\n" % i for i in range(10))
    with socket.create_connection(("127.0.0.1", MAIN), timeout=10) as s:
        s.sendall(requests)
        rest = b""
        for i in range(10):
            status, body, rest = read_response(s, rest)
            assert (status, body) == (200, b"A GET /p%d" % i), (i, status, body)


def expected_big_digest():
    digest = hashlib.sha256()
    for _ in range(BIG_BLOCKS):
        digest.update(BLOCK)
    return digest.hexdigest()


def test_chunked_upload_of_100_mib_arrives_intact_in_bounded_memory():
    blocks = (BLOCK for _ in range(BIG_BLOCKS))
    conn = http.client.HTTPConnection("127.0.0.1", MAIN, timeout=60)
    with RssWatch(LB.proc.pid) as rss:
        conn.request("POST", "/upload", body=blocks, encode_chunked=True, headers={"Host": "x.test"})
        r = conn.getresponse()
        answer = r.read().decode()
    assert answer == f"{len(BLOCK) * BIG_BLOCKS} {expected_big_digest()}"
    print(f"rss: peak {rss.peak >> 20} MiB, growth {rss.growth() >> 20} MiB", flush=True)
    assert rss.peak > 0 and rss.growth() < rss_limit(LB.proc.pid), \
        f"ringlb RSS peaked at {rss.peak >> 20} MiB, {rss.growth() >> 20} MiB over its start"


def test_chunked_download_of_100_mib_arrives_intact_in_bounded_memory():
    conn = http.client.HTTPConnection("127.0.0.1", MAIN, timeout=60)
    with RssWatch(LB.proc.pid) as rss:
        conn.request("GET", "/download", headers={"Host": "x.test"})
        r = conn.getresponse()
        assert r.getheader("Transfer-Encoding") == "chunked"
        digest, total = hashlib.sha256(), 0
        while chunk := r.read(1 << 20):
            digest.update(chunk)
            total += len(chunk)
    assert total == len(BLOCK) * BIG_BLOCKS
    assert digest.hexdigest() == expected_big_digest()
    print(f"rss: peak {rss.peak >> 20} MiB, growth {rss.growth() >> 20} MiB", flush=True)
    assert rss.peak > 0 and rss.growth() < rss_limit(LB.proc.pid), \
        f"ringlb RSS peaked at {rss.peak >> 20} MiB, {rss.growth() >> 20} MiB over its start"


def test_expect_100_continue_is_relayed_before_the_body():
    body = b"x" * 100000
    with socket.create_connection(("127.0.0.1", MAIN), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x.test\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        status, _, rest = read_response(s)
        assert status == 100
        s.sendall(body)
        status, answer, _ = read_response(s, rest)
        assert status == 200 and answer == f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()


def test_websocket_upgrade_tunnels_after_101():
    with socket.create_connection(("127.0.0.1", MAIN), timeout=10) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, rest = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"upgrade: websocket" in head.lower()
        for i in range(5):
            msg = b"frame %d " % i * 1000
            s.sendall(msg)
            got = rest
            while len(got) < len(msg):
                got += s.recv(65536)
            assert got == msg
            rest = b""


REJECTIONS = [
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\nHost: x\n\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 40000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\nx", 400),  # invalid Content-Length
    (b"GET / HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n", 400),  # bare CR
    (b"GET / HTTP/1.1\r\nHost: x\r\nX@A: 1\r\n\r\n", 400),  # invalid field name
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),  # invalid field value
    # Body framing errors: the head waits with its first body bytes, so nothing leaves.
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"fffffffffffffffffffff\r\n", 400),  # chunk size overflow
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
]


def test_each_rejection_rule_answers_and_forwards_nothing():
    before, bytes_before = A.request_count(), A.bytes_received
    for raw, expected in REJECTIONS:
        status, body = raw_exchange(MAIN, raw)
        assert status == expected, (raw[:60], status)
        assert str(expected).encode() in body
    assert A.request_count() == before and A.bytes_received == bytes_before


def limited_request(target_len=10, field_count=0, field_bytes=0):
    line = b"GET /" + b"a" * (target_len - 1) + b" HTTP/1.1\r\n"
    fields = b"Host: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(field_count))
    if field_bytes:
        fields += b"X-Big: " + b"b" * field_bytes + b"\r\n"
    return line + fields + b"\r\n"


def assert_limited_backend_untouched(raw, expected):
    before, bytes_before = LIMITED.request_count(), LIMITED.bytes_received
    status, body = raw_exchange(PORTS["limits"], raw)
    assert status == expected and str(expected).encode() in body, (status, body)
    assert (LIMITED.request_count(), LIMITED.bytes_received) == (before, bytes_before)


def test_configured_limits_let_requests_within_them_through():
    # 1000-byte line, 9 fields (Host + 8), header section well under 2048 bytes.
    raw = limited_request(target_len=1000 - len(" HTTP/1.1"), field_count=8)
    assert raw_exchange(PORTS["limits"], raw)[0] == 200
    assert LIMITED.request_count() == 1


def test_configured_request_line_limit_is_414_and_forwards_nothing():
    assert_limited_backend_untouched(limited_request(target_len=1100), 414)


def test_configured_header_size_limit_is_431_and_forwards_nothing():
    assert_limited_backend_untouched(limited_request(field_bytes=2100), 431)


def test_configured_header_count_limit_is_431_and_forwards_nothing():
    assert_limited_backend_untouched(limited_request(field_count=10), 431)


def test_unmatched_request_is_404_when_the_listener_has_no_pool():
    before = A.request_count()
    assert get(PORTS["routed"], "/", host="only.test") == (200, b"A GET /")
    status, body = get(PORTS["routed"], "/", host="other.test")
    assert status == 404 and b"404" in body
    assert A.request_count() == before + 1


def test_connect_is_refused_by_a_reverse_proxy():
    status, _ = raw_exchange(MAIN, b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n")
    assert status == 405


def test_backend_closing_its_keep_alive_connections_is_harmless():
    conn = http.client.HTTPConnection("127.0.0.1", PORTS["oneshot"], timeout=10)
    for i in range(20):
        conn.request("GET", f"/o{i}", headers={"Host": "x.test"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, f"oneshot GET /o{i}".encode())
    conn.close()


def test_invalid_backend_response_is_502():
    assert get(PORTS["bad"], "/")[0] == 502


def test_no_backend_up_is_503():
    def answered_503():
        return get(PORTS["down"], "/")[0] == 503
    wait_until(answered_503, timeout=10, what="the dead backend to be marked down")


def test_slow_backend_is_504():
    start = time.monotonic()
    assert get(PORTS["slow"], "/sleep")[0] == 504
    assert time.monotonic() - start < 1.4


def test_slow_request_head_is_408():
    with socket.create_connection(("127.0.0.1", PORTS["slow"]), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        status, body, _ = read_response(s)
        assert status == 408 and b"408" in body


def test_idempotent_request_is_retried_when_a_backend_closes_without_answering():
    for i in range(6):
        assert get(PORTS["retry"], f"/r{i}") == (200, f"good GET /r{i}".encode())
    assert CLOSER.request_count() > 0


def test_non_idempotent_request_is_not_retried():
    statuses = {get(PORTS["retry"], "/post", method="POST", body=b"x")[0] for _ in range(6)}
    assert statuses == {200, 502}, statuses


def test_refused_connection_is_retried_on_another_backend():
    for i in range(6):
        assert get(PORTS["refused"], f"/c{i}", method="POST", body=b"y") == (200, f"good POST /c{i}".encode())


def test_a_reused_connection_that_fails_is_retried_on_another_backend():
    # The first request leaves a keep-alive connection to DYING in the pool;
    # every later request that reaches DYING (reused or fresh) fails, and must
    # be retried elsewhere, not on DYING again.
    answered_by = []
    for i in range(20):
        status, body = get(PORTS["dying"], f"/d{i}")
        assert status == 200, (i, status, body)
        answered_by.append(body.split(b" ")[0])
    assert answered_by.count(b"dying") == 1, answered_by  # only its very first request
    assert DYING.request_count() > 2


def test_zz_sigterm_closes_pooled_connections_and_exits_zero():
    # Runs last: idle keep-alive connections must not hold the drain up.
    assert get(MAIN, "/last")[0] == 200
    assert LB.stop(timeout=10) == 0, LB.stderr()
    assert "Assertion" not in LB.stderr()


if __name__ == "__main__":
    run_module(globals(), LB.close)
