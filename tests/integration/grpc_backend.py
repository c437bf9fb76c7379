"""A gRPC test backend (Debian's python3-grpcio, no protobuf: every message is
raw bytes) for the tests of HTTP/2 pools: an insecure server (h2c) on
127.0.0.1 with a name tag, so a test can tell which backend answered.

Service test.Echo (paths /test.Echo/METHOD):
- Unary: answers INFO + b"\\n" + the request bytes, where INFO is JSON:
  backend (the tag), peer (the proxy's address and port: one per connection),
  metadata (the request's metadata as the server saw it), time_remaining
  (seconds left of the call's deadline, null without one), len and sha256 of
  the request. Trailing metadata: x-backend = tag, x-request-sha256.
- ServerStream: request JSON {"count": N, "size": M}: N messages of M bytes,
  message i = i as 4 big-endian bytes + (i % 251) repeated. Trailing
  metadata x-backend, x-sent = N.
- ClientStream: answers JSON {backend, count, len, sha256} of every message
  received, concatenated.
- Bidi: answers each message as it comes, prefixed with b"echo:".
- Slow: request JSON {"sleep": S}: waits up to S seconds (returning early
  when the call ends, e.g. its deadline passed or the client cancelled),
  records how it ended, answers INFO.
- Hold: waits until release() (or the call ends, or 30 s), counting calls
  held at once, per peer too; answers INFO.
- Fail: aborts with NOT_FOUND, details "no such widget: " + the request,
  trailing metadata x-backend and x-fail = widget (a trailers-only response).

Every call is noted (method, peer, metadata, time_remaining, and for Slow
and Hold how it ended) in Backend.calls, under Backend.lock, whose condition
`changed` is notified on every change.

Importable (Backend(tag, ...)) or runnable: python3 grpc_backend.py --tag B
--port P [--max-streams N] serves until killed, prints "listening PORT" once
it accepts, then one JSON line {"call": METHOD, "peer": PEER} as each call
starts."""

import argparse
import hashlib
import json
import sys
import threading
import time
from concurrent import futures

import grpc

SERVICE = "test.Echo"
HOLD_LIMIT = 30.0  # Hold and Slow never keep a thread longer than this


def stream_message(i, size):
    """Message i of ServerStream: i as 4 big-endian bytes, then i % 251 repeated."""
    head = i.to_bytes(4, "big")
    return (head + bytes([i % 251]) * max(size - 4, 0))[:size] if size >= 4 else head[:size]


class Backend:
    """A running gRPC server (see the module docstring). port=0 picks a free
    one; max_streams sets SETTINGS_MAX_CONCURRENT_STREAMS; workers bounds the
    calls run at once (a held call takes a worker); announce(note), if given,
    is called as each call starts."""

    def __init__(self, tag, port=0, host="127.0.0.1", max_streams=None, workers=64,
                 announce=None):
        self.tag = tag
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.calls = []
        self.held = 0
        self.max_held = 0
        self.held_by_peer = {}
        self.max_held_by_peer = {}
        self._release = threading.Event()
        self._waiters = []  # events of the calls waiting in Hold
        self.announce = announce
        options = [("grpc.so_reuseport", 0)]
        if max_streams is not None:
            options.append(("grpc.max_concurrent_streams", max_streams))
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                                  options=options)
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(self._unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(self._server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(self._client_stream),
            "Bidi": grpc.stream_stream_rpc_method_handler(self._bidi),
            "Slow": grpc.unary_unary_rpc_method_handler(self._slow),
            "Hold": grpc.unary_unary_rpc_method_handler(self._hold),
            "Fail": grpc.unary_unary_rpc_method_handler(self._fail),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"gRPC backend {tag}: cannot listen on {host}:{port}")
        self.address = f"{host}:{self.port}"
        self.server.start()

    # ------------------------------------------------------------ bookkeeping

    def _note(self, method, context, **extra):
        note = {"method": method, "backend": self.tag, "peer": context.peer(),
                "metadata": {k: v for k, v in context.invocation_metadata()
                             if isinstance(v, str)},
                "time_remaining": context.time_remaining(), "at": time.monotonic()}
        note.update(extra)
        with self.lock:
            self.calls.append(note)
            self.changed.notify_all()
        if self.announce:
            self.announce(note)
        return note

    def _update(self, note, **fields):
        with self.lock:
            note.update(fields)
            self.changed.notify_all()

    def notes(self, method=None):
        with self.lock:
            return [dict(c) for c in self.calls if method is None or c["method"] == method]

    def wait(self, predicate, timeout=10.0, what="the gRPC backend"):
        """Waits until predicate(self) is true (called under the lock)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.tag}: timed out waiting for {what}; "
                                         f"held={self.held} calls={len(self.calls)}")
                self.changed.wait(min(left, 0.2))

    def release(self):
        """Lets every held call (and any later Hold) answer at once."""
        with self.lock:
            self._release.set()
            for wake in self._waiters:
                wake.set()

    def rearm(self):
        """Hold waits again (after release()); resets the held maxima."""
        with self.lock:
            self._release.clear()
            self.max_held = 0
            self.max_held_by_peer = {}

    def stop(self):
        self.release()
        self.server.stop(0)

    @staticmethod
    def _info(note, request=b""):
        info = {k: note[k] for k in ("backend", "peer", "metadata", "time_remaining")}
        info.update(len=len(request), sha256=hashlib.sha256(request).hexdigest())
        info.update({k: note[k] for k in ("ended",) if k in note})
        return json.dumps(info).encode()

    # ------------------------------------------------------------ methods

    def _unary(self, request, context):
        note = self._note("Unary", context, len=len(request))
        context.set_trailing_metadata((("x-backend", self.tag),
                                       ("x-request-sha256", hashlib.sha256(request).hexdigest())))
        return self._info(note, request) + b"\n" + request

    def _server_stream(self, request, context):
        ask = json.loads(request)
        count, size = int(ask["count"]), int(ask["size"])
        self._note("ServerStream", context, count=count, size=size)
        context.set_trailing_metadata((("x-backend", self.tag), ("x-sent", str(count))))
        for i in range(count):
            yield stream_message(i, size)

    def _client_stream(self, request_iterator, context):
        note = self._note("ClientStream", context)
        digest, count, length = hashlib.sha256(), 0, 0
        for message in request_iterator:
            digest.update(message)
            count += 1
            length += len(message)
        self._update(note, count=count, len=length)
        return json.dumps({"backend": self.tag, "count": count, "len": length,
                           "sha256": digest.hexdigest()}).encode()

    def _bidi(self, request_iterator, context):
        note = self._note("Bidi", context)
        count = 0
        for message in request_iterator:
            count += 1
            self._update(note, count=count)
            yield b"echo:" + message

    def _wait_call(self, context, releasable, seconds):
        """Waits (without polling) until the call ends (its deadline passed, or
        the client cancelled: the callback fires), release() if releasable,
        or seconds: returns "call ended", "released" or "slept"."""
        wake = threading.Event()
        if not context.add_callback(wake.set):
            return "call ended"
        if releasable:
            with self.lock:
                self._waiters.append(wake)
            if self._release.is_set():
                wake.set()
        try:
            wake.wait(min(seconds, HOLD_LIMIT))
        finally:
            if releasable:
                with self.lock:
                    self._waiters.remove(wake)
        if not context.is_active():
            return "call ended"
        if releasable and self._release.is_set():
            return "released"
        return "slept"

    def _slow(self, request, context):
        seconds = float(json.loads(request or b"{}").get("sleep", 5))
        note = self._note("Slow", context)
        ended = self._wait_call(context, False, seconds)
        self._update(note, ended=ended, ended_at=time.monotonic())
        return self._info(note, request)

    def _hold(self, request, context):
        note = self._note("Hold", context)
        peer = note["peer"]
        with self.lock:
            self.held += 1
            self.max_held = max(self.max_held, self.held)
            now = self.held_by_peer.get(peer, 0) + 1
            self.held_by_peer[peer] = now
            self.max_held_by_peer[peer] = max(self.max_held_by_peer.get(peer, 0), now)
            self.changed.notify_all()
        try:
            ended = self._wait_call(context, True, HOLD_LIMIT)
        finally:
            with self.lock:
                self.held -= 1
                self.held_by_peer[peer] -= 1
                self.changed.notify_all()
        self._update(note, ended=ended, ended_at=time.monotonic())
        return self._info(note, request)

    def _fail(self, request, context):
        self._note("Fail", context)
        widget = request.decode("ascii", "replace")
        context.set_trailing_metadata((("x-backend", self.tag), ("x-fail", widget)))
        context.abort(grpc.StatusCode.NOT_FOUND, f"no such widget: {widget}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-streams", type=int, default=None)
    args = parser.parse_args()
    def announce(note):  # one JSON line per call, for a test reading stdout
        print(json.dumps({"call": note["method"], "peer": note["peer"]}), flush=True)

    backend = Backend(args.tag, port=args.port, host=args.host, max_streams=args.max_streams,
                      announce=announce)
    print(f"listening {backend.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        backend.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
