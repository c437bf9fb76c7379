"""max_connections, a listener's and the global one: beyond it new connections
wait in the backlog unserved, and each connection that ends lets the next one
in (tcp and http listeners, one worker)."""

import socket

from harness import (EchoServer, FixedBodyServer, Ringlb, free_port, parse_args,
                     read_http_response, run_module)

ARGS = parse_args()
WAIT_UNSERVED = 0.5  # how long a connection over the limit must stay unanswered


def config(port, backend_port, mode, listener_limit=10000, global_limit=100000):
    return f"""
[global]
workers = 1
max_connections = {global_limit}
drain_timeout = "2s"

[pools.back]
backends = ["127.0.0.1:{backend_port}"]

[listeners.front]
bind = "127.0.0.1:{port}"
mode = "{mode}"
pool = "back"
max_connections = {listener_limit}
"""


class Tcp:
    """Echo backend: a connection is served when what it sent comes back."""

    def backend(self):
        return EchoServer()

    def ask(self, sock, i):
        sock.sendall(b"ping %d." % i)

    def served(self, sock, i, timeout):
        want = b"ping %d." % i
        sock.settimeout(timeout)
        got = b""
        try:
            while len(got) < len(want):
                data = sock.recv(4096)
                if not data:
                    return False
                got += data
        except TimeoutError:
            return False
        return got == want


class Http:
    """HTTP backend: a connection is served when its GET gets the 200."""

    def backend(self):
        return FixedBodyServer(b"ok")

    def ask(self, sock, _i):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    def served(self, sock, _i, timeout):
        return read_http_response(sock, timeout=timeout).status == 200


def check_the_next_connection_waits_then_gets_in(port, proto, limit):
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(limit)]
    try:
        for i, s in enumerate(held):
            proto.ask(s, i)
            assert proto.served(s, i, 10), f"connection {i} under the limit was not served"
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)  # the kernel's backlog
        try:
            proto.ask(extra, 99)
            assert not proto.served(extra, 99, WAIT_UNSERVED), "served beyond max_connections"
            held.pop().close()
            # Taken in once a place is free; what it sent while waiting is served then.
            assert proto.served(extra, 99, 10), "the connection over the limit was never taken in"
        finally:
            extra.close()
    finally:
        for s in held:
            s.close()


def run_case(proto, listener_limit=10000, global_limit=100000, limit=2):
    backend = proto.backend()
    port = free_port()
    mode = "tcp" if isinstance(proto, Tcp) else "http"
    lb = Ringlb(ARGS.ringlb, config(port, backend.port, mode, listener_limit, global_limit),
                [port])
    try:
        check_the_next_connection_waits_then_gets_in(port, proto, limit)
        assert lb.stop() == 0, lb.stderr()
    finally:
        lb.close()
        backend.stop()


def test_tcp_listener_limit_lets_the_next_connection_in_when_one_ends():
    run_case(Tcp(), listener_limit=2)


def test_http_listener_limit_lets_the_next_connection_in_when_one_ends():
    run_case(Http(), listener_limit=2)


def test_tcp_global_limit_lets_the_next_connection_in_when_one_ends():
    run_case(Tcp(), global_limit=2)


def test_a_listener_limit_of_one_still_serves_connection_after_connection():
    run_case(Tcp(), listener_limit=1, limit=1)


if __name__ == "__main__":
    run_module(globals())
