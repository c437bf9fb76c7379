#!/usr/bin/env python3
"""Bulk TCP transfer through a proxy: a backend sends SIZE bytes per
connection, a client reads them through the proxy; prints MB/s and the
proxy's CPU seconds per GB (from /proc/PID/stat of the proxy).

Usage: bulk_tcp.py --proxy-pid PID --connect PORT --backend-port PORT [--size MB] [--rounds N]
                   [--clients N] [--direction down|up|both] [--via-connect]
With --serve-only it only runs the backend (for use by bench/compare).

The backend reads one command byte per connection: "p" (upload) makes it read
SIZE bytes from the client (the bytes after the "p" count) and answer one "k"
byte once they are all in; any other byte makes it send SIZE bytes and close
(a download; the only kind before uploads existed). A connection that sends
nothing is a readiness probe.

--clients N runs N transfers at once, each on a connection of its own, per
round (--rounds rounds, so N x rounds transfers in all). --direction both: the
odd-numbered clients upload, the even-numbered ones download. --via-connect:
each connection first asks the proxy at --connect for a tunnel with
`CONNECT 127.0.0.1:BACKEND_PORT HTTP/1.1` (an HTTP forward proxy) and the
transfer starts after its 200 answer. Any failure (a refused tunnel, a short
transfer) exits non-zero with the reason on stderr."""

import argparse
import os
import socket
import threading
import time

CLK = os.sysconf("SC_CLK_TCK")
BLOCK = 1 << 20


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def backend(port, size, ready):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(256)
    ready.set()
    block = b"x" * BLOCK
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, size, block), daemon=True).start()


def serve(conn, size, block):
    try:
        first = conn.recv(16)
        if not first:  # one request byte per transfer; none: a readiness probe
            return
        if first[:1] == b"p":  # an upload: take size bytes, then say so
            sink(conn, size - (len(first) - 1))
            conn.sendall(b"k")
            return
        left = size
        while left > 0:
            n = min(left, len(block))
            conn.sendall(block[:n] if n < len(block) else block)
            left -= n
    except OSError:
        pass  # the client went away
    finally:
        conn.close()


def sink(conn, left):
    """Reads `left` bytes (raises on an early end)."""
    view = memoryview(bytearray(BLOCK))
    while left > 0:
        n = conn.recv_into(view, min(left, BLOCK))
        if n == 0:
            raise OSError(f"the connection ended {left} bytes short")
        left -= n


def open_tunnel(s, target_port):
    """CONNECT through the HTTP proxy `s` is connected to; returns the bytes
    that came after the 200 answer's head (the start of the tunnel's data)."""
    target = f"127.0.0.1:{target_port}"
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"the proxy closed before answering CONNECT ({head[:200]!r})")
        head += chunk
        if len(head) > 65536:
            raise SystemExit("the proxy's CONNECT answer head is over 64 KiB")
    head, rest = head.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise SystemExit(f"CONNECT {target} refused: {head.decode(errors='replace')[:300]!r}")
    return rest


def fetch(port, size, via_connect=None, upload=False):
    """One transfer of `size` bytes on a new connection to `port` (through a
    CONNECT tunnel to port `via_connect` when given): a download, or an upload
    when `upload`."""
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    got = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        early = open_tunnel(s, via_connect) if via_connect else b""
        if upload:
            if early:
                raise SystemExit(f"{len(early)} unexpected bytes before the upload")
            block = b"y" * BLOCK
            s.sendall(b"p")
            left = size
            while left > 0:
                n = min(left, BLOCK)
                s.sendall(block if n == BLOCK else block[:n])
                left -= n
            ack = s.recv(1)
            if ack != b"k":
                raise SystemExit(f"upload of {size} bytes not acknowledged ({ack!r})")
            return
        got = len(early)
        s.sendall(b"g")
        while True:
            n = s.recv_into(view)
            if n == 0:
                break
            got += n
    if got != size:
        raise SystemExit(f"short transfer: {got} of {size}")


def transfer_round(a, size):
    """a.clients transfers at once; the first failure is re-raised here."""
    if a.clients == 1:
        fetch(a.connect, size, a.via_connect, a.direction == "up")
        return
    failures = []

    def one(i):
        up = a.direction == "up" or (a.direction == "both" and i % 2 == 1)
        try:
            fetch(a.connect, size, a.via_connect, up)
        except (SystemExit, OSError) as e:
            failures.append(f"client {i} ({'up' if up else 'down'}): {e}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} of {a.clients} transfers failed; " + failures[0])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proxy-pid", type=int)
    p.add_argument("--connect", type=int)
    p.add_argument("--backend-port", type=int, required=True)
    p.add_argument("--size", type=int, default=100, help="MB per transfer")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=1,
                   help="transfers at once per round, each on its own connection")
    p.add_argument("--direction", choices=("down", "up", "both"), default="down",
                   help="down: the backend sends; up: the client sends; both: odd clients send")
    p.add_argument("--via-connect", action="store_true",
                   help="--connect is an HTTP forward proxy: CONNECT to the backend first")
    p.add_argument("--serve-only", action="store_true")
    p.add_argument("--client-only", action="store_true", help="the backend runs elsewhere")
    p.add_argument("--no-warmup", action="store_true",
                   help="no unmeasured first transfer (the caller measures CPU around the whole run)")
    a = p.parse_args()
    size = a.size * 1000 * 1000
    a.via_connect = a.backend_port if a.via_connect else None
    if not a.client_only:
        ready = threading.Event()
        t = threading.Thread(target=backend, args=(a.backend_port, size, ready), daemon=True)
        t.start()
        ready.wait()
        if a.serve_only:
            t.join()
            return
    if not a.no_warmup:
        fetch(a.connect, size, a.via_connect)  # warm-up
    cpu0 = cpu_seconds(a.proxy_pid) if a.proxy_pid else 0
    t0 = time.monotonic()
    for _ in range(a.rounds):
        transfer_round(a, size)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(a.proxy_pid) - cpu0) if a.proxy_pid else 0
    total = size * a.rounds * a.clients
    gb = total / 1e9
    print(f"MB/s={total / 1e6 / elapsed:.0f} GB={gb:.3f} cpu_s_per_GB={cpu / gb:.3f}")


if __name__ == "__main__":
    main()
