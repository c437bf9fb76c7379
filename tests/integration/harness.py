"""Shared pieces of the integration tests: start the real ringlb binary with a
config, wait for readiness by polling its ports (never by sleeping), run
small backend servers on loopback, and stop everything at the end.

Every test talks only to 127.0.0.1 and bounds its loops in count and time."""

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ringlb", required=True, help="path to the ringlb binary")
    return parser.parse_args()


def ephemeral_range():
    """The kernel's range for the local ports of outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


PORTS_GIVEN = set()  # never hand out one port twice in a process
LOWEST_PORT = 10000


def free_port(host="127.0.0.1"):
    """A port free for TCP and UDP on host, from below the ephemeral range:
    a port from that range can be taken, between this check and ringlb's
    bind, by an outgoing connection of a test running beside (ctest -j2),
    and ringlb would then exit with "address in use"."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low, _ = ephemeral_range()
    if low - 1 > LOWEST_PORT + 1000:
        for _ in range(1000):
            port = random.randint(LOWEST_PORT, low - 1)
            if port in PORTS_GIVEN:
                continue
            try:
                with socket.socket(family, socket.SOCK_STREAM) as t, \
                        socket.socket(family, socket.SOCK_DGRAM) as u:
                    t.bind((host, port))
                    u.bind((host, port))
            except OSError:
                continue
            PORTS_GIVEN.add(port)
            return port
    with socket.socket(family) as s:  # no room below the range: the kernel's pick
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, host="127.0.0.1", exited=None):
    """Polls until something accepts on host:port; `exited` (a process's
    poll) ends the wait at once if the process that should listen is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            code = exited() if exited else None
            if code is not None:
                raise AssertionError(f"exited with {code} before listening on {host}:{port}")
            time.sleep(0.02)
    raise AssertionError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Ringlb:
    """A running ringlb process with its config file and captured stderr."""

    def __init__(self, binary, config_text, ports_to_wait=()):
        self.dir = tempfile.TemporaryDirectory(prefix="ringlb-it-")
        self.config_path = os.path.join(self.dir.name, "ringlb.toml")
        self.write_config(config_text)
        self.log_path = os.path.join(self.dir.name, "stderr.log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen([binary, "run", "-c", self.config_path],
                                     stdout=self.log, stderr=self.log)
        for port in ports_to_wait:
            try:
                wait_for_port(port, exited=self.proc.poll)
            except AssertionError as e:
                raise AssertionError(f"{e}; ringlb's stderr:\n{self.stderr()}") from None

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stderr(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ringlb did not exit after SIGTERM:\n" + self.stderr())

    def signal(self, sig):
        """Sends sig (e.g. signal.SIGTERM) and returns the monotonic time it was sent."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        return sent

    def wait_log(self, text, timeout=5.0):
        """Polls stderr until it contains text (e.g. "SIGTERM received")."""
        wait_until(lambda: text in self.stderr(), timeout=timeout, what=f"{text!r} in ringlb's log")

    def wait_exit(self, timeout):
        """Waits up to timeout seconds; returns the exit code, or None if it still runs."""
        try:
            return self.proc.wait(timeout=max(timeout, 0))
        except subprocess.TimeoutExpired:
            return None

    def cpu_seconds(self):
        """User + system CPU time the process used so far (from /proc)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.dir.cleanup()


def start_ringlb(binary, config_text, ports=(), host="127.0.0.1", timeout=10.0, connect=None):
    """Starts ringlb and polls host:port for each port; fails at once with its
    stderr if the process exits during start-up (a rejected config, say).
    `connect(host, port)`, when given, opens the probe connection instead of
    socket.create_connection (inside a network namespace, say); `ports` may
    then hold (host, port) pairs too."""
    lb = Ringlb(binary, config_text)
    deadline = time.monotonic() + timeout
    connect = connect or (lambda h, p: socket.create_connection((h, p), timeout=0.5))
    try:
        for target in ports:
            target_host, port = target if isinstance(target, tuple) else (host, target)
            while True:
                if lb.proc.poll() is not None:
                    raise AssertionError(f"ringlb exited with {lb.proc.returncode} at start-up:\n"
                                         + lb.stderr())
                try:
                    with connect(target_host, port):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"nothing listens on {target_host}:{port} after "
                                             f"{timeout}s:\n" + lb.stderr()) from None
                    time.sleep(0.02)
    except BaseException:
        lb.close()
        raise
    return lb


def is_sanitized(binary):
    """True for an AddressSanitizer build: it is 2-3x slower and needs memory
    headroom, so bounds on time and RSS are widened for it."""
    import mmap
    with open(binary, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b"__asan_init") != -1


def metrics_text(admin_port, timeout=5.0):
    """GET /metrics on the admin listener; returns the body as text."""
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=timeout) as r:
        return r.read().decode()


class HttpRequest:
    """One request as a backend read it: headers keep their order and
    repetitions; complete is False when the connection ended inside the body."""

    def __init__(self, method, target, headers):
        self.method, self.target, self.headers = method, target, headers
        self.body = b""
        self.complete = False

    def values(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name, default=None):
        found = self.values(name)
        return found[0] if found else default


def read_http_request(rfile, on_body=None, on_head=None):
    """Reads one HTTP/1.1 request from a socket file (makefile("rb")).
    Returns None on EOF before a request line. on_head, if given, gets the
    request once its head is read, before the body (to answer Expect:
    100-continue). The body (Content-Length or chunked, whose trailer fields
    are read and dropped) is kept unless on_body is given, which then gets
    each piece."""
    line = rfile.readline(65536)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = rfile.readline(65536)
        if h in (b"\r\n", b"\n", b""):
            break
        k, v = h.decode("latin-1").split(":", 1)
        headers.append((k.strip(), v.strip()))
    req = HttpRequest(method, target, headers)
    if on_head:
        on_head(req)
    pieces = []
    take = on_body or pieces.append
    if (req.header("transfer-encoding") or "").lower() == "chunked":
        while True:
            size_line = rfile.readline(1024)
            if not size_line.strip():
                break  # EOF inside the body
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                req.complete = True
                break
            data = rfile.read(size)
            take(data)
            if len(data) < size or rfile.readline(1024) != b"\r\n":
                break
    else:
        left = int(req.header("content-length") or 0)
        while left > 0:
            data = rfile.read1(min(left, 1 << 20))
            if not data:
                break
            take(data)
            left -= len(data)
        req.complete = left == 0
    req.body = b"".join(pieces)
    return req


class HttpResponse:
    """What a client read: status (None if no head came), headers, body,
    received (body bytes seen, kept in body or not), complete (the framing's
    end was seen), closed (EOF or reset seen), timed_out (nothing more came
    before the deadline)."""

    def __init__(self):
        self.status, self.headers, self.head = None, [], b""
        self.body, self.rest, self.received = b"", b"", 0
        self.complete = self.closed = self.timed_out = False

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def __repr__(self):
        return (f"<response status={self.status} received={self.received} complete={self.complete} "
                f"closed={self.closed} timed_out={self.timed_out} head={self.head[:200]!r}>")


class _ResponseStream:
    """The socket side of read_http_response: recv with a deadline that notes
    EOF, reset and timeout in the response instead of raising."""

    def __init__(self, sock, resp, timeout, buf):
        self.sock, self.resp, self.buf = sock, resp, buf
        self.deadline = time.monotonic() + timeout

    def more(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.resp.timed_out = True
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            self.resp.timed_out = True
            return False
        except OSError:
            data = b""
        if not data:
            self.resp.closed = True
            return False
        self.buf += data
        return True

    def until(self, marker):
        while marker not in self.buf:
            if not self.more():
                return False
        return True

    def at_least(self, n):
        while len(self.buf) < n:
            if not self.more():
                return False
        return True


def read_http_response(sock, timeout=10.0, buf=b"", keep_body=True, head_only=False):
    """Reads one response (Content-Length, chunked, or up to EOF) from a raw
    socket within timeout seconds. Never raises on EOF, reset or timeout: it
    records them in the returned HttpResponse. Interim 1xx responses are
    returned like any other. keep_body=False only counts body bytes;
    head_only=True reads no body (answers to HEAD, or CONNECT's 2xx)."""
    resp = HttpResponse()
    st = _ResponseStream(sock, resp, timeout, buf)
    body = []

    def take(data):
        resp.received += len(data)
        if keep_body:
            body.append(data)

    def finish(complete):
        resp.complete = complete
        resp.body = b"".join(body)
        return resp

    if not st.until(b"\r\n\r\n"):
        resp.rest = st.buf
        return resp
    head, st.buf = st.buf.split(b"\r\n\r\n", 1)
    resp.head = head
    lines = head.decode("latin-1").split("\r\n")
    resp.status = int(lines[0].split(" ")[1])
    for line in lines[1:]:
        k, v = line.split(":", 1)
        resp.headers.append((k.strip(), v.strip()))
    if head_only or 100 <= resp.status < 200 or resp.status in (204, 304):
        resp.rest = st.buf
        return finish(True)
    if (resp.header("transfer-encoding") or "").lower() == "chunked":
        while True:
            if not st.until(b"\r\n"):
                return finish(False)
            size_line, st.buf = st.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if not st.at_least(size + 2):
                take(st.buf[:size])
                return finish(False)
            if size == 0:
                resp.rest = st.buf[2:]
                return finish(True)
            take(st.buf[:size])
            st.buf = st.buf[size + 2:]
    length = resp.header("content-length")
    if length is None:  # delimited by the end of the connection
        while st.more():
            take(st.buf)
            st.buf = b""
        take(st.buf)
        return finish(resp.closed)
    length = int(length)
    while True:
        piece = st.buf[:length - resp.received]
        take(piece)
        st.buf = st.buf[len(piece):]
        if resp.received >= length:
            resp.rest = st.buf
            return finish(True)
        if not st.more():
            return finish(False)


class ScriptedServer:
    """A TCP backend that runs script(conn, rfile, server) in a thread per
    accepted connection. Counts connections; host may be "::1"."""

    def __init__(self, script, host="127.0.0.1", backlog=128):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.script = script
        self.lock = threading.Lock()
        self.connections = 0
        self.notes = []  # whatever scripts record, in order
        self.changed = threading.Condition(self.lock)
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def address(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.changed.notify_all()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        rfile = conn.makefile("rb")
        try:
            self.script(conn, rfile, self)
        except OSError:
            pass
        finally:
            rfile.close()
            conn.close()

    def note(self, item):
        with self.lock:
            self.notes.append(item)
            self.changed.notify_all()

    def wait_notes(self, predicate, timeout=10.0, what="the backend"):
        """Waits until predicate(notes) is true; returns a copy of the notes."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.notes):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; notes: {self.notes[-5:]}")
                self.changed.wait(left)
            return list(self.notes)

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FixedBodyServer:
    """An HTTP/1.1 keep-alive backend on loopback that answers every GET with
    the same 200 body, head and body in one write (two small writes would
    wait for a delayed ACK, 40 ms a request). `seen` records each request as
    (path, fields dict, the peer's IP)."""

    def __init__(self, body, host="127.0.0.1", port=0):
        import http.server

        server_self = self
        self.body = body if isinstance(body, bytes) else body.encode()
        self.seen = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's naming
                with server_self.lock:
                    server_self.seen.append((self.path, dict(self.headers),
                                             self.client_address[0]))
                b = server_self.body
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b)
                self.wfile.write(head + b)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client gone mid-answer (slow readers, resets) is not news

        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.address = f"{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class EchoServer:
    """A TCP echo backend: echoes bytes back, answers a half-close with a
    half-close once everything was echoed."""

    def __init__(self, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopped:
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
            while True:
                data = conn.recv(262144)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def run_module(namespace, *cleanups):
    """Runs a test module's test_* functions (namespace: its globals()) in the
    order they are defined, then every cleanup, even after a failure."""
    try:
        run_tests([(name, fn) for name, fn in list(namespace.items()) if name.startswith("test_")])
    finally:
        for cleanup in cleanups:
            cleanup()


def run_tests(tests):
    """Runs each (name, function) and prints a closing 'N passed, N failed' line."""
    passed = failed = 0
    for name, fn in tests:
        start = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"PASS {name} ({time.monotonic() - start:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
