#!/usr/bin/env python3
"""Bulk TCP transfer through a proxy: a backend sends SIZE bytes per
connection, a client reads them through the proxy; prints MB/s and the
proxy's CPU seconds per GB (from /proc/PID/stat of the proxy).

Usage: bulk_tcp.py --proxy-pid PID --connect PORT --backend-port PORT [--size MB] [--rounds N]
With --serve-only it only runs the backend (for use by bench/compare)."""

import argparse
import os
import socket
import threading
import time

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def backend(port, size, ready):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    ready.set()
    block = b"x" * (1 << 20)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, size, block), daemon=True).start()


def serve(conn, size, block):
    try:
        if not conn.recv(16):  # one request byte per transfer; none: a readiness probe
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


def fetch(port, size):
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    got = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"g")
        while True:
            n = s.recv_into(view)
            if n == 0:
                break
            got += n
    if got != size:
        raise SystemExit(f"short transfer: {got} of {size}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proxy-pid", type=int)
    p.add_argument("--connect", type=int)
    p.add_argument("--backend-port", type=int, required=True)
    p.add_argument("--size", type=int, default=100, help="MB per transfer")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--serve-only", action="store_true")
    p.add_argument("--client-only", action="store_true", help="the backend runs elsewhere")
    p.add_argument("--no-warmup", action="store_true",
                   help="no unmeasured first transfer (the caller measures CPU around the whole run)")
    a = p.parse_args()
    size = a.size * 1000 * 1000
    if not a.client_only:
        ready = threading.Event()
        t = threading.Thread(target=backend, args=(a.backend_port, size, ready), daemon=True)
        t.start()
        ready.wait()
        if a.serve_only:
            t.join()
            return
    if not a.no_warmup:
        fetch(a.connect, size)  # warm-up
    cpu0 = cpu_seconds(a.proxy_pid) if a.proxy_pid else 0
    t0 = time.monotonic()
    for _ in range(a.rounds):
        fetch(a.connect, size)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(a.proxy_pid) - cpu0) if a.proxy_pid else 0
    gb = size * a.rounds / 1e9
    print(f"MB/s={size * a.rounds / 1e6 / elapsed:.0f} GB={gb:.3f} cpu_s_per_GB={cpu / gb:.3f}")


if __name__ == "__main__":
    main()
