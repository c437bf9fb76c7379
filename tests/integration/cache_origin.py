"""A test origin for the cache tests: a threaded HTTP/1.1 server (on
harness.ScriptedServer) that counts the requests it gets per (host, target)
and answers each target with what the test chose for it.

    origin = Origin()
    origin.set("/c0/a", Reply(headers=[("Cache-Control", "max-age=60")], body=b"x"))
    origin.set("/c0/b", Reply(...first...), Reply(...second and later...))
    origin.count("/c0/a")            # requests seen for that target (any host)
    origin.requests("/c0/a")         # the Seen records, in arrival order

A Reply's body may be a function of the request (a Seen) instead of bytes.
A Reply may carry `not_modified`, the Reply sent instead when the request is
conditional and matches it (If-None-Match naming the reply's ETag, weakly
compared, or If-Modified-Since equal to its Last-Modified), and a `delay`
(seconds slept after the request is read, before the answer is sent).
stop() closes the listening socket and every open connection: new
connections are refused and kept-alive ones are reset."""

import socket
import threading
import time

from harness import ScriptedServer, read_http_request


class Reply:
    def __init__(self, status=200, headers=(), body=b"", delay=0.0, chunked=False,
                 not_modified=None, reason=None, chunk_size=16384):
        self.status, self.headers, self.body = status, list(headers), body
        self.delay, self.chunked, self.not_modified = delay, chunked, not_modified
        self.reason = reason or {200: "OK", 203: "Non-Authoritative Information",
                                 206: "Partial Content", 304: "Not Modified",
                                 404: "Not Found", 500: "Internal Server Error",
                                 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "X")
        self.chunk_size = chunk_size

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Seen:
    """One request as the origin read it."""

    def __init__(self, req, arrived):
        self.method, self.target, self.headers = req.method, req.target, req.headers
        self.host = (req.header("host") or "").lower()
        self.arrived = arrived  # time.monotonic() when its head was read
        self.answered = None    # time.monotonic() just before the answer was sent
        self.status = None      # the status sent

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def __repr__(self):
        return f"<{self.method} {self.host}{self.target} -> {self.status} {self.headers}>"


def _etags(value):
    """The entity-tags of an If-None-Match value, weak prefixes dropped."""
    out = []
    for part in (value or "").split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        if part:
            out.append(part)
    return out


def _matches(reply, seen):
    etag = reply.header("etag")
    inm = seen.header("if-none-match")
    if inm is not None:
        if etag is None:
            return False
        tags = _etags(inm)
        return "*" in tags or (etag[2:] if etag.startswith("W/") else etag) in tags
    ims = seen.header("if-modified-since")
    lm = reply.header("last-modified")
    return ims is not None and lm is not None and ims == lm


class Origin:
    def __init__(self):
        self.lock = threading.Lock()
        self.replies = {}   # target -> [Reply, ...]
        self.seen = []      # every Seen, in arrival order
        self.conns = set()
        self.changed = threading.Condition(self.lock)
        self.server = ScriptedServer(self._script, backlog=512)
        self.address = self.server.address

    # ---------------------------------------------------------------- the test's side

    def set(self, target, *replies):
        """The answers for target: the n-th request gets replies[n] (the last repeats);
        counting starts again at each set()."""
        assert replies
        with self.lock:
            self.replies[target] = (list(replies), len([s for s in self.seen if s.target == target]))

    def requests(self, target, host=None):
        with self.lock:
            return [s for s in self.seen
                    if s.target == target and (host is None or s.host == host.lower())]

    def count(self, target, host=None):
        return len(self.requests(target, host))

    def total(self):
        with self.lock:
            return len(self.seen)

    def wait_count(self, target, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            while len([s for s in self.seen if s.target == target]) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the origin saw fewer than {n} requests for {target}")
                self.changed.wait(left)

    def stop(self):
        self.server.stop()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ---------------------------------------------------------------- the server's side

    def _choose(self, seen):
        with self.lock:
            entry = self.replies.get(seen.target)
            if entry is None:
                return None
            replies, base = entry
            n = len([s for s in self.seen if s.target == seen.target]) - base - 1
            return replies[min(max(n, 0), len(replies) - 1)]

    def _script(self, conn, rfile, server):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.conns.add(conn)
        try:
            while True:
                req = read_http_request(rfile)
                if req is None:
                    return
                seen = Seen(req, time.monotonic())
                with self.lock:
                    self.seen.append(seen)
                    self.changed.notify_all()
                reply = self._choose(seen)
                if reply is None:
                    body = f"origin default for {seen.target}\n".encode()
                    reply = Reply(headers=[("Content-Type", "text/plain")], body=body)
                if callable(reply.body):  # a body made from the request (per variant, say)
                    reply = Reply(reply.status, reply.headers, reply.body(seen), reply.delay,
                                  reply.chunked, reply.not_modified, reply.reason, reply.chunk_size)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.not_modified is not None and _matches(reply, seen):
                    reply = reply.not_modified
                with self.lock:  # recorded before the answer leaves: a client may check at once
                    seen.status = reply.status
                    seen.answered = time.monotonic()
                self._send(conn, reply, head_only=req.method == "HEAD")
                if (req.header("connection") or "").lower() == "close":
                    return
        finally:
            with self.lock:
                self.conns.discard(conn)

    @staticmethod
    def _send(conn, reply, head_only):
        lines = [f"HTTP/1.1 {reply.status} {reply.reason}"]
        lines += [f"{k}: {v}" for k, v in reply.headers]
        bodyless = reply.status in (204, 304) or 100 <= reply.status < 200
        if not bodyless:
            if reply.chunked:
                lines.append("Transfer-Encoding: chunked")
            else:
                lines.append(f"Content-Length: {len(reply.body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if bodyless or head_only:
            conn.sendall(head)
            return
        if not reply.chunked:
            conn.sendall(head + reply.body)
            return
        conn.sendall(head)
        body = reply.body
        for i in range(0, len(body), reply.chunk_size):
            piece = body[i:i + reply.chunk_size]
            conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
