"""The udp listener mode end to end: real ringlb, real UDP sockets on
127.0.0.1, Python echo backends that record which proxy socket spoke to them."""

import os
import selectors
import socket
import struct
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from harness import Ringlb, free_port, parse_args, run_tests

ARGS = parse_args()
MAX_DATAGRAM = 65507
REPLY_TIMEOUT = 2.0  # seconds before a client gives up on one datagram


class UdpEchoServer:
    """Echoes each datagram to its sender and remembers the senders' ports
    (the proxy's upstream sockets)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.datagrams = 0
        self.peers = []  # source ports, in order of first appearance
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        seen = set()
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
                self.sock.sendto(data, peer)
            except OSError:
                return
            with self.lock:
                self.datagrams += 1
                if peer[1] not in seen:
                    seen.add(peer[1])
                    self.peers.append(peer[1])

    def snapshot(self):
        with self.lock:
            return self.datagrams, list(self.peers)

    def stop(self):
        self.sock.close()


def udp_config(listen_port, backends, idle="30s", workers=2, max_connections=10000,
               admin_port=None):
    backend_list = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    admin = f'[admin]\nbind = "127.0.0.1:{admin_port}"\n' if admin_port else ""
    return f"""
[global]
workers = {workers}
drain_timeout = "5s"

{admin}

[pools.echo]
backends = [{backend_list}]

[listeners.dns]
bind = "127.0.0.1:{listen_port}"
mode = "udp"
pool = "echo"
idle_timeout = "{idle}"
max_connections = {max_connections}
"""


def wait_for_udp(port, timeout=10.0):
    """Polls with a probe datagram until the proxy answers (readiness)."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        while time.monotonic() < deadline:
            s.sendto(b"probe", ("127.0.0.1", port))
            try:
                if s.recv(65536) == b"probe":
                    return
            except OSError:
                pass
    raise AssertionError(f"no UDP answer on port {port} after {timeout}s")


def udp_metric(admin_port, name, **labels):
    """The value of one sample from ringlb's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"no sample {name}{labels} in /metrics")


def start(backends, **kwargs):
    port = free_port()
    kwargs.setdefault("admin_port", free_port())
    lb = Ringlb(ARGS.ringlb, udp_config(port, [b.port for b in backends], **kwargs))
    lb.admin_port = kwargs["admin_port"]
    try:
        wait_for_udp(port)
    except Exception:
        print(lb.stderr())
        lb.close()
        raise
    return lb, port


def roundtrip(sock, port, payload):
    sock.sendto(payload, ("127.0.0.1", port))
    data, peer = sock.recvfrom(65536)
    assert peer == ("127.0.0.1", port), f"reply came from {peer}, not the listener"
    return data


class Client:
    """One UDP client: sends `count` datagrams one after another, each
    carrying its id, a sequence number and random bytes, and checks that each
    reply is exactly the datagram it is waiting for."""

    def __init__(self, cid, count, port):
        self.cid = cid
        self.count = count
        self.port = port
        self.seq = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(("127.0.0.1", 0))
        self.expected = None
        self.sent_at = 0.0
        self.errors = []

    def send_next(self):
        body = os.urandom(16 + (self.cid * 7 + self.seq) % 200)
        self.expected = struct.pack("!II", self.cid, self.seq) + body
        self.sock.sendto(self.expected, ("127.0.0.1", self.port))
        self.sent_at = time.monotonic()

    def on_readable(self):
        """Returns True once the client has all its replies."""
        data, peer = self.sock.recvfrom(65536)
        if peer != ("127.0.0.1", self.port):
            self.errors.append(f"client {self.cid}: reply from {peer}")
        if data != self.expected:
            cid, seq = struct.unpack("!II", data[:8]) if len(data) >= 8 else (-1, -1)
            self.errors.append(f"client {self.cid} seq {self.seq}: got client {cid} seq {seq}")
            return True
        self.seq += 1
        if self.seq == self.count:
            return True
        self.send_next()
        return False


def run_clients(port, clients, per_client, deadline_s=60.0):
    sel = selectors.DefaultSelector()
    pending = {}
    for cid in range(clients):
        c = Client(cid, per_client, port)
        sel.register(c.sock, selectors.EVENT_READ, c)
        pending[cid] = c
        c.send_next()
    errors = []
    done = 0
    deadline = time.monotonic() + deadline_s
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            if c.on_readable():
                errors.extend(c.errors)
                done += 1
                sel.unregister(c.sock)
                c.sock.close()
                del pending[c.cid]
        now = time.monotonic()
        stuck = [c for c in pending.values() if now - c.sent_at > REPLY_TIMEOUT]
        for c in stuck:
            errors.append(f"client {c.cid}: no reply to seq {c.seq}")
            sel.unregister(c.sock)
            c.sock.close()
            del pending[c.cid]
    for c in pending.values():
        errors.append(f"client {c.cid}: unfinished at seq {c.seq}")
        c.sock.close()
    return done, errors


def test_500_clients_each_get_exactly_their_own_replies():
    backends = [UdpEchoServer(), UdpEchoServer()]
    lb, port = start(backends)
    try:
        started = time.monotonic()
        done, errors = run_clients(port, clients=500, per_client=100)
        elapsed = time.monotonic() - started
        assert not errors, f"{len(errors)} errors, first: {errors[:5]}"
        assert done == 500
        counts = [b.snapshot()[0] for b in backends]
        assert all(n > 0 for n in counts), f"a backend got nothing: {counts}"
        print(f"  50,000 request/replies in {elapsed:.2f}s; per backend {counts}", flush=True)
        assert lb.stop() == 0, lb.stderr()
    finally:
        lb.close()
        for b in backends:
            b.stop()


def test_largest_ipv4_datagram_arrives_intact_both_ways():
    backend = UdpEchoServer()
    lb, port = start([backend])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(REPLY_TIMEOUT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            payload = os.urandom(MAX_DATAGRAM)
            assert roundtrip(s, port, payload) == payload
            small = b"after the big one"
            assert roundtrip(s, port, small) == small
        assert lb.stop() == 0, lb.stderr()
    finally:
        lb.close()
        backend.stop()


def test_idle_session_expires_and_the_next_datagram_opens_a_new_one():
    backend = UdpEchoServer()
    lb, port = start([backend], idle="300ms")
    try:
        def sessions():
            return udp_metric(lb.admin_port, "ringlb_udp_sessions_total", listener="dns")

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(REPLY_TIMEOUT)
            assert roundtrip(s, port, b"one") == b"one"
            assert roundtrip(s, port, b"two") == b"two"
            before = sessions()
            # The thing under test is a timeout: let 300 ms of silence pass.
            time.sleep(0.8)
            assert roundtrip(s, port, b"three") == b"three"
            assert sessions() == before + 1, "expected a new session after the idle timeout"
        assert udp_metric(lb.admin_port, "ringlb_udp_sessions_closed_total", listener="dns",
                          reason="idle") >= 1
        assert lb.stop() == 0, lb.stderr()
    finally:
        lb.close()
        backend.stop()


def test_a_full_table_evicts_the_least_recently_used_session():
    backend = UdpEchoServer()
    lb, port = start([backend], workers=1, max_connections=2)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    try:
        for s in socks:
            s.settimeout(REPLY_TIMEOUT)
        a, b, c = socks
        assert roundtrip(a, port, b"a1") == b"a1"
        assert roundtrip(b, port, b"b1") == b"b1"
        assert roundtrip(a, port, b"a2") == b"a2"  # now b is the least recently used
        # Sessions are counted by ringlb, not by the backend's view of source
        # ports: a new session's socket may get the port an evicted one freed.
        def sessions():
            return udp_metric(lb.admin_port, "ringlb_udp_sessions_total", listener="dns")

        before = sessions()
        assert roundtrip(c, port, b"c1") == b"c1"  # evicts b
        assert roundtrip(a, port, b"a3") == b"a3"  # a kept its session
        assert sessions() == before + 1
        assert roundtrip(b, port, b"b2") == b"b2"  # b needs a new one
        assert sessions() == before + 2
        assert udp_metric(lb.admin_port, "ringlb_udp_sessions_closed_total", listener="dns",
                          reason="evicted") == 3
        # The probe, a, b, c, then b again: the probe, b and c were evicted.
        assert udp_metric(lb.admin_port, "ringlb_udp_sessions_total", listener="dns") == 5
        assert lb.stop() == 0, lb.stderr()
    finally:
        for s in socks:
            s.close()
        lb.close()
        backend.stop()


def test_a_refusing_backend_is_survived_and_the_flow_recovers():
    alive = UdpEchoServer()
    dead_port = free_port()  # nothing listens: the kernel answers ICMP port unreachable
    port = free_port()
    admin_port = free_port()
    lb = Ringlb(ARGS.ringlb, udp_config(port, [dead_port, alive.port], workers=1,
                                        admin_port=admin_port))
    try:
        wait_for_udp(port)
        # Clients whose session lands on the dead backend get no answer; the
        # ICMP error ends the session, so resending reaches a new pick.
        answered = 0
        for i in range(20):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                for attempt in range(6):
                    s.sendto(b"hello %d" % i, ("127.0.0.1", port))
                    try:
                        if s.recv(100) == b"hello %d" % i:
                            answered += 1
                            break
                    except socket.timeout:
                        continue
        assert answered == 20, f"only {answered} of 20 clients got through"
        assert udp_metric(admin_port, "ringlb_udp_icmp_errors_total", listener="dns") >= 1
        assert lb.proc.poll() is None, "ringlb died"
        assert lb.stop() == 0, lb.stderr()
    finally:
        lb.close()
        alive.stop()


if __name__ == "__main__":
    run_tests([
        ("500 clients x 100 datagrams: each gets exactly its own replies",
         test_500_clients_each_get_exactly_their_own_replies),
        ("a 65,507-byte datagram arrives intact both ways",
         test_largest_ipv4_datagram_arrives_intact_both_ways),
        ("an idle session expires; the next datagram opens a new one",
         test_idle_session_expires_and_the_next_datagram_opens_a_new_one),
        ("a full table evicts the least recently used session",
         test_a_full_table_evicts_the_least_recently_used_session),
        ("a refusing backend is survived and the flow recovers",
         test_a_refusing_backend_is_survived_and_the_flow_recovers),
    ])
