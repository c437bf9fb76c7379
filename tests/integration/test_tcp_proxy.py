"""The tcp listener mode end to end: real ringlb, real sockets, echo backends."""

import hashlib
import os
import socket
import struct
import threading

from harness import EchoServer, Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()


def tcp_config(listen_port, backends, extra_pool="", workers=2):
    backend_list = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    return f"""
[global]
workers = {workers}
drain_timeout = "10s"

[pools.echo]
backends = [{backend_list}]
connect_timeout = "1s"
{extra_pool}

[listeners.front]
bind = "127.0.0.1:{listen_port}"
mode = "tcp"
pool = "echo"
"""


def recv_all(sock, limit=1 << 30):
    chunks = []
    total = 0
    while total < limit:
        data = sock.recv(262144)
        if not data:
            break
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)


def echo_roundtrip(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = recv_all(s)
        sender.join()
    return got


def test_concurrent_clients_get_back_exactly_what_they_sent():
    echo = EchoServer()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, tcp_config(port, [echo.port]), [port])
    try:
        errors = []
        socket.setdefaulttimeout(60)

        def client(i):
            payload = os.urandom((1 << 20) - 500 + i)  # about 1 MiB, each a different size
            got = echo_roundtrip(port, payload)
            if hashlib.sha256(got).digest() != hashlib.sha256(payload).digest():
                errors.append(f"client {i}: {len(got)} bytes back of {len(payload)}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(1000)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "clients still running after 120 s"
        assert not errors, errors[:5]
        assert lb.stop() == 0
    finally:
        lb.close()
        echo.stop()


def test_half_close_from_the_client_still_lets_the_response_flow_back():
    echo = EchoServer()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, tcp_config(port, [echo.port]), [port])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"ping before half-close")
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b"ping before half-close"
    finally:
        lb.close()
        echo.stop()


def test_half_close_from_the_backend_still_lets_the_client_send():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    received = []

    def serve(conn):
        try:
            conn.sendall(b"greeting, then FIN")
            conn.shutdown(socket.SHUT_WR)
            data = recv_all(conn)
            if data:  # the readiness probe connects and sends nothing
                received.append(data)
        except OSError:
            pass
        finally:
            conn.close()

    def backend():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=backend, daemon=True).start()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, tcp_config(port, [srv.getsockname()[1]]), [port])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            assert recv_all(s) == b"greeting, then FIN"  # EOF reached the client
            s.sendall(b"the client still talks")
            s.shutdown(socket.SHUT_WR)
        wait_until(lambda: received, what="the backend to receive the client's data")
        assert received == [b"the client still talks"], received
    finally:
        lb.close()
        srv.close()


def test_a_refusing_backend_makes_the_next_backend_serve():
    echo = EchoServer()
    dead = free_port()  # nothing listens there: connect is refused
    port = free_port()
    lb = Ringlb(ARGS.ringlb, tcp_config(port, [dead, echo.port], workers=1), [port])
    try:
        for i in range(10):
            assert echo_roundtrip(port, b"hello %d" % i) == b"hello %d" % i
    finally:
        lb.close()
        echo.stop()


def test_a_backend_reset_reaches_the_client_as_a_reset():
    resetter = socket.socket()
    resetter.bind(("127.0.0.1", 0))
    resetter.listen(16)

    def reset_everything():
        while True:
            try:
                conn, _ = resetter.accept()
            except OSError:
                return
            conn.recv(100)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    threading.Thread(target=reset_everything, daemon=True).start()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, tcp_config(port, [resetter.getsockname()[1]]), [port])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"trigger")
            try:
                data = s.recv(100)
                assert False, f"expected a reset, got {data!r}"
            except ConnectionResetError:
                pass
    finally:
        lb.close()
        resetter.close()


def test_sigterm_refuses_new_connections_and_lets_open_ones_finish():
    echo = EchoServer()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, tcp_config(port, [echo.port]), [port])
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"first")
        assert s.recv(100) == b"first"
        lb.proc.send_signal(15)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return False
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:
                return False  # queued in the backlog as the listener closed: try again

        wait_until(refused, what="the listener to close")
        s.sendall(b"still open")  # the established connection goes on
        assert s.recv(100) == b"still open"
        assert lb.proc.poll() is None, "exited before the connection ended"
        s.close()
        assert lb.stop() == 0
        assert "SIGTERM received" in lb.stderr()
    finally:
        lb.close()
        echo.stop()


def test_a_second_stop_signal_aborts_the_drain_at_once():
    echo = EchoServer()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, tcp_config(port, [echo.port]).replace('"10s"', '"60s"'), [port])
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"open")
        assert s.recv(100) == b"open"
        lb.proc.send_signal(15)
        wait_until(lambda: "SIGTERM received" in lb.stderr(), what="the first signal")
        assert lb.proc.poll() is None, "the drain should wait for the open connection"
        lb.proc.send_signal(15)
        assert lb.proc.wait(timeout=5) == 0  # far below the 60 s drain_timeout
        assert "second stop signal" in lb.stderr()
        s.close()
    finally:
        lb.close()
        echo.stop()


if __name__ == "__main__":
    run_module(globals())
