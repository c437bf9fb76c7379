"""Transparent mode (`transparent = true` on a tcp listener) end to end, in
three network namespaces this test creates and removes:

  client (10.201.1.2) ── ringlb (10.201.1.1 | 10.201.2.1) ── backend (10.201.2.2)

ringlb runs in the middle one (`ip netns exec`), with the return path of
docs/deploy.md ("Transparent mode"): packets of transparent sockets marked by
nftables and delivered locally by a policy rule. The backend's default route
points back through ringlb, as a transparent deployment needs; the ringlb
namespace does not forward packets, so only that return path can carry the
backend's answers to the client's address.

Checked: the backend sees the client's own address and port (or the PROXY
header's source with accept_proxy_protocol), the client gets the backend's
answer through ringlb, a plain tcp listener of the same config still shows
ringlb's own address, an address and port in use already falls back to
another port, and without CAP_NET_ADMIN the connection fails with one clear
log line and a counted connect failure.

Sockets of the test itself are made inside the namespaces (setns on the
test's thread, then back). Skipped (77) when not root, or when `ip netns` or
`nft` is not available."""

import contextlib
import ctypes
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import sys
import threading
import urllib.request

from harness import parse_args, run_tests, start_ringlb, wait_until

ARGS = parse_args()
SKIP = 77

TAG = str(os.getpid())
NS_CLIENT = f"ringlb-tp-c-{TAG}"
NS_LB = f"ringlb-tp-l-{TAG}"
NS_BACKEND = f"ringlb-tp-b-{TAG}"
NAMESPACES = (NS_CLIENT, NS_LB, NS_BACKEND)

CLIENT_IP = "10.201.1.2"
LB_FRONT_IP = "10.201.1.1"
LB_BACK_IP = "10.201.2.1"
BACKEND_IP = "10.201.2.2"
BACKEND_PORT = 8000
PORT_TRANSPARENT = 7001
PORT_TRANSPARENT_2 = 7002  # a second transparent listener: same client port, in-use fallback
PORT_PLAIN = 7003
PORT_PROXY = 7004  # transparent with accept_proxy_protocol
ADMIN_PORT = 9901  # on 127.0.0.1 in the ringlb namespace

CLONE_NEWNET = 0x40000000
LIBC = ctypes.CDLL(None, use_errno=True)

# The return path of docs/deploy.md, "Transparent mode".
NFT_RULES = """
table ip ringlb_transparent {
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    meta l4proto tcp socket transparent 1 meta mark set 1
  }
}
"""


def sh(*args, ns=None, stdin=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


@contextlib.contextmanager
def netns(name):
    """Runs the block in network namespace `name` (this thread only): the
    sockets made in it stay in that namespace afterwards."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if LIBC.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
        try:
            yield
        finally:
            if LIBC.setns(home, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns back: {os.strerror(err)}")
    finally:
        os.close(home)
        os.close(target)


def remove_namespaces():
    for ns in NAMESPACES:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def build_namespaces():
    for ns in NAMESPACES:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # Each veth is made with its ends in their namespaces at once (no name in
    # the test's own namespace).
    sh("ip", "link", "add", "vc", "netns", NS_CLIENT, "type", "veth", "peer", "name", "vlc",
       "netns", NS_LB)
    sh("ip", "link", "add", "vb", "netns", NS_BACKEND, "type", "veth", "peer", "name", "vlb",
       "netns", NS_LB)
    for ns, dev, address in ((NS_CLIENT, "vc", CLIENT_IP), (NS_LB, "vlc", LB_FRONT_IP),
                             (NS_LB, "vlb", LB_BACK_IP), (NS_BACKEND, "vb", BACKEND_IP)):
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", NS_CLIENT, "route", "add", "default", "via", LB_FRONT_IP)
    # The backend answers every address through ringlb's namespace.
    sh("ip", "-n", NS_BACKEND, "route", "add", "default", "via", LB_BACK_IP)
    # The return path: packets for a transparent socket are marked, and marked
    # packets are delivered locally whatever their destination.
    sh("ip", "-n", NS_LB, "rule", "add", "fwmark", "1", "lookup", "100")
    sh("ip", "-n", NS_LB, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
    sh("nft", "-f", "-", ns=NS_LB, stdin=NFT_RULES)
    forwarding = sh("cat", "/proc/sys/net/ipv4/ip_forward", ns=NS_LB).strip()
    assert forwarding == "0", f"ringlb's namespace forwards packets ({forwarding})"


class Backend:
    """A TCP server in the backend namespace: for each connection it reads a
    line, answers "peer IP PORT got LINE" and waits for the client's end.
    Records the peers of the connections that sent a line."""

    def __init__(self):
        with netns(NS_BACKEND):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((BACKEND_IP, BACKEND_PORT))
        self.sock.listen(64)
        self.lock = threading.Lock()
        self.peers = []  # (ip, port, line)
        self.accepted = 0
        self.conns = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _serve(self, conn, peer):
        try:
            conn.settimeout(20)
            f = conn.makefile("rb")
            line = f.readline().decode().strip()
            if not line:  # a readiness probe
                return
            with self.lock:
                self.peers.append((peer[0], peer[1], line))
            conn.sendall(f"peer {peer[0]} {peer[1]} got {line}\n".encode())
            while f.read(4096):  # until the client's end reaches us through ringlb
                pass
        except OSError:
            pass
        finally:
            conn.close()

    def peer_of(self, line):
        with self.lock:
            return next(((ip, port) for ip, port, got in self.peers if got == line), None)

    def stop(self):
        self.sock.close()
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.close()


def config(workers=2):
    backend = f'"{BACKEND_IP}:{BACKEND_PORT}"'
    return f"""
[global]
workers = {workers}
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{ADMIN_PORT}"

[pools.app]
backends = [{backend}]
connect_timeout = "2s"

[listeners.transparent]
bind = "{LB_FRONT_IP}:{PORT_TRANSPARENT}"
mode = "tcp"
pool = "app"
transparent = true

[listeners.transparent2]
bind = "{LB_FRONT_IP}:{PORT_TRANSPARENT_2}"
mode = "tcp"
pool = "app"
transparent = true

[listeners.plain]
bind = "{LB_FRONT_IP}:{PORT_PLAIN}"
mode = "tcp"
pool = "app"

[listeners.proxied]
bind = "{LB_FRONT_IP}:{PORT_PROXY}"
mode = "tcp"
pool = "app"
transparent = true
accept_proxy_protocol = true
"""


def start_lb(tmp, dropped_caps=False):
    """ringlb in its namespace (a wrapper script, so that harness.Ringlb runs
    it as is; `ip netns exec` execs ringlb: signals reach it). With
    `dropped_caps`, without CAP_NET_ADMIN and CAP_NET_RAW."""
    wrapper = os.path.join(tmp, "ringlb-in-netns-caps" if dropped_caps else "ringlb-in-netns")
    drop = ("setpriv --bounding-set=-net_admin,-net_raw --inh-caps=-net_admin,-net_raw "
            if dropped_caps else "")
    with open(wrapper, "w") as f:
        binary = os.path.abspath(ARGS.ringlb)
        f.write(f'#!/bin/sh\nexec ip netns exec {NS_LB} {drop}"{binary}" "$@"\n')
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
    targets = [(LB_FRONT_IP, port)
               for port in (PORT_TRANSPARENT, PORT_TRANSPARENT_2, PORT_PLAIN, PORT_PROXY)]
    return start_ringlb(wrapper, config(), ports=targets + [("127.0.0.1", ADMIN_PORT)],
                        connect=probe_connect)


def probe_connect(host, port):
    """A connect that a listener accepts (it sends no line): the listeners
    from the client's namespace, the admin port from ringlb's own."""
    with netns(NS_LB if host == "127.0.0.1" else NS_CLIENT):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect((host, port))
    except OSError:
        probe.close()
        raise
    return probe


def client_socket(bind_port=None):
    with netns(NS_CLIENT):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    if bind_port is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((CLIENT_IP, bind_port))
    return s


def ask(s, port, line, prefix=b""):
    """Connects s to a listener, sends a line and returns the answer's line."""
    s.connect((LB_FRONT_IP, port))
    s.sendall(prefix + line.encode() + b"\n")
    answer = b""
    while not answer.endswith(b"\n"):
        data = s.recv(4096)
        if not data:
            break
        answer += data
    return answer.decode().strip()


def metric(name, labels):
    with netns(NS_LB):
        with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN_PORT}/metrics", timeout=5) as r:
            text = r.read().decode()
    total = 0
    for m in re.finditer(rf"^{name}{{([^}}]*)}} (\d+)$", text, re.M):
        if all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            total += int(m.group(2))
    return total


STATE = {}


def test_the_backend_sees_the_clients_address_and_port():
    backend, lb = STATE["backend"], STATE["lb"]
    with client_socket() as s:
        answer = ask(s, PORT_TRANSPARENT, "t1")
        own = s.getsockname()
        assert own[0] == CLIENT_IP, own
        assert answer == f"peer {CLIENT_IP} {own[1]} got t1", \
            f"answer {answer!r}, client {own}\n{lb.stderr()}"
    assert backend.peer_of("t1") == (CLIENT_IP, own[1])


def test_a_plain_listener_of_the_same_config_shows_ringlbs_own_address():
    backend = STATE["backend"]
    with client_socket() as s:
        answer = ask(s, PORT_PLAIN, "p1")
    peer = backend.peer_of("p1")
    assert peer is not None and peer[0] == LB_BACK_IP, (peer, answer)
    assert answer == f"peer {LB_BACK_IP} {peer[1]} got p1"


def test_the_proxy_headers_source_is_the_address_used():
    backend = STATE["backend"]
    header = f"PROXY TCP4 10.201.1.77 {LB_FRONT_IP} 40555 {PORT_PROXY}\r\n".encode()
    with client_socket() as s:
        answer = ask(s, PORT_PROXY, "x1", prefix=header)
    assert answer == "peer 10.201.1.77 40555 got x1", answer
    assert backend.peer_of("x1") == ("10.201.1.77", 40555)


def test_an_address_and_port_in_use_falls_back_to_another_port():
    # The same client address and port towards two transparent listeners:
    # the second backend connection cannot bind it and takes another port.
    backend = STATE["backend"]
    with client_socket(0) as first:
        port = first.getsockname()[1]
        assert ask(first, PORT_TRANSPARENT, "f1") == f"peer {CLIENT_IP} {port} got f1"
        with client_socket(port) as second:  # while the first is still open
            answer = ask(second, PORT_TRANSPARENT_2, "f2")
    peer = backend.peer_of("f2")
    assert peer is not None and peer[0] == CLIENT_IP and peer[1] != port, (peer, port)
    assert answer == f"peer {CLIENT_IP} {peer[1]} got f2"


def test_many_connections_in_a_row_all_show_the_client():
    backend = STATE["backend"]
    for i in range(20):
        with client_socket() as s:
            answer = ask(s, PORT_TRANSPARENT, f"m{i}")
            own = s.getsockname()
        assert answer == f"peer {CLIENT_IP} {own[1]} got m{i}", (i, answer)
    assert backend.peer_of("m19") is not None


def test_without_cap_net_admin_the_connection_fails_with_one_clear_log_line():
    backend = STATE["backend"]
    STATE["lb"].stop()
    STATE["lb"].close()
    STATE["lb"] = lb = start_lb(STATE["tmp"], dropped_caps=True)

    def failures():
        return metric("ringlb_backend_connect_failures_total", {"pool": "app"})

    # The readiness probes of start_lb failed alike (the two transparent
    # listeners without accept_proxy_protocol; the other waits for a header).
    wait_until(lambda: failures() == 2, timeout=5, what="the probes' 2 connect failures")
    before = backend.accepted
    for _ in range(3):
        with client_socket() as s:
            s.connect((LB_FRONT_IP, PORT_TRANSPARENT))
            s.sendall(b"e1\n")
            try:  # closed without an answer: an end or, with "e1" unread, a reset
                got = s.recv(4096)
            except ConnectionResetError:
                got = b""
            assert got == b"", f"an answer without the capability: {got!r}"
    wanted = "listener transparent: transparent = true needs CAP_NET_ADMIN"
    wait_until(lambda: failures() == 5, timeout=5, what="3 more connect failures counted")
    log = lb.stderr()
    assert log.count(wanted) == 1, f"once per listener, not {log.count(wanted)}:\n{log}"
    assert backend.accepted == before, "nothing reached the backend"
    # A plain listener of the same process still works.
    with client_socket() as s:
        assert ask(s, PORT_PLAIN, "e2").startswith(f"peer {LB_BACK_IP} ")
    assert lb.stop() == 0


def main():
    if os.geteuid() != 0:
        print("SKIP: transparent mode needs root (network namespaces, IP_TRANSPARENT)",
              flush=True)
        sys.exit(SKIP)
    for tool in ("ip", "nft", "setpriv"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is not installed", flush=True)
            sys.exit(SKIP)
    probe = f"ringlb-tp-probe-{TAG}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"SKIP: ip netns is not available here: {r.stderr.strip()}", flush=True)
        sys.exit(SKIP)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    tmp = tempfile.TemporaryDirectory(prefix="ringlb-tp-")
    try:
        build_namespaces()
        STATE["tmp"] = tmp.name
        STATE["backend"] = Backend()
        STATE["lb"] = start_lb(tmp.name)
        run_tests([(name, fn) for name, fn in list(globals().items())
                   if name.startswith("test_")])
    finally:
        if "lb" in STATE:
            STATE["lb"].close()
        if "backend" in STATE:
            STATE["backend"].stop()
        remove_namespaces()
        tmp.cleanup()


if __name__ == "__main__":
    main()
