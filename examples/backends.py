#!/usr/bin/env python3
"""Stand-in backends for the example configs, on 127.0.0.1 (Python standard library only).

    python3 examples/backends.py 9001 9002            # HTTP backends on :9001 and :9002
    python3 examples/backends.py 5433 udp:5301        # HTTP on :5433, UDP echo on :5301

An HTTP backend answers every request, whatever the method and path (/healthz included),
with 200 and the body "hello from backend PORT". It also accepts a PROXY protocol v1 or v2
header at the start of a connection (as sent by a tcp listener with `proxy_protocol`) and
then names the client address it carried. A UDP backend echoes each datagram back.

Runs until Ctrl-C; exits 1 with a message when a port is in use."""

import http.server
import socket
import socketserver
import struct
import sys
import threading

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def read_proxy_header(rfile):
    """Consumes a PROXY v1/v2 header if the connection starts with one; returns the client
    address it names ("" when there is none or it says LOCAL/UNKNOWN)."""
    start = rfile.peek(16)[:16]
    if start.startswith(b"PROXY "):
        fields = rfile.readline(108).decode("ascii", "replace").split()
        return f"{fields[2]}:{fields[4]}" if len(fields) == 6 else ""
    if len(start) >= 16 and start.startswith(PROXY_V2_SIGNATURE):
        head = rfile.read(16)
        body = rfile.read(struct.unpack("!H", head[14:16])[0])
        family = head[13] >> 4
        if family == 1 and len(body) >= 12:  # AF_INET: src, dst, src port, dst port
            port = struct.unpack("!H", body[8:10])[0]
            return f"{socket.inet_ntop(socket.AF_INET, body[0:4])}:{port}"
        if family == 2 and len(body) >= 36:  # AF_INET6
            port = struct.unpack("!H", body[32:34])[0]
            return f"[{socket.inet_ntop(socket.AF_INET6, body[0:16])}]:{port}"
    return ""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real backend

    def setup(self):
        super().setup()
        try:
            self.proxied_client = read_proxy_header(self.rfile)
        except (OSError, ValueError):
            self.proxied_client = ""

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        port = self.server.server_address[1]
        text = f"hello from backend {port}"
        if self.proxied_client:
            text += f" (client {self.proxied_client}, from the PROXY header)"
        body = (text + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", str(port))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = answer

    def log_message(self, *args):  # quiet: ringlb's own logs are the interesting ones
        pass


class HttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def udp_echo(sock):
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(data, peer)


def main(args):
    if not args or any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0 if args else 2
    threads = []
    for arg in args:
        udp = arg.startswith("udp:")
        port = int(arg[4:] if udp else arg)
        try:
            if udp:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", port))
                threads.append(threading.Thread(target=udp_echo, args=(sock,), daemon=True))
            else:
                server = HttpServer(("127.0.0.1", port), Handler)
                threads.append(threading.Thread(target=server.serve_forever, daemon=True))
        except OSError as e:
            print(f"backends.py: cannot listen on 127.0.0.1:{port} ({'udp' if udp else 'tcp'}): "
                  f"{e.strerror}", file=sys.stderr)
            return 1
        print(f"backends.py: {'udp echo' if udp else 'http'} on 127.0.0.1:{port}", flush=True)
    for t in threads:
        t.start()
    print("backends.py: ready; Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
