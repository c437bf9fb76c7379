"""SIGHUP reloads under load, in tcp and http mode: no failed exchange, no
reset, an added backend gets traffic, an added listener opens, a bad file is
refused with its reason while traffic goes on."""

import http.client
import http.server
import socket
import threading
import time

from harness import EchoServer, Ringlb, free_port, parse_args, run_module, wait_for_port, wait_until

ARGS = parse_args()


def config(mode, port, backends, extra_listener_port=None):
    listed = ", ".join(f'"127.0.0.1:{b}"' for b in backends)
    text = f"""
[global]
workers = 2
drain_timeout = "5s"

[pools.main]
backends = [{listed}]
"""
    listeners = [("front", port)] + ([("extra", extra_listener_port)] if extra_listener_port else [])
    for name, listen_port in listeners:
        text += f"""
[listeners.{name}]
bind = "127.0.0.1:{listen_port}"
mode = "{mode}"
pool = "main"
"""
    return text


class LoadLoop:
    """Client threads, each running `session(i, count_one)` over and over
    until finish(); any exception is a failure. `count_one` counts one
    completed exchange."""

    def __init__(self, session, clients, deadline_s=60):
        self.session = session
        self.failures = []
        self.done = 0
        self.stop_flag = False
        self.deadline = time.monotonic() + deadline_s
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(clients)]
        for t in self.threads:
            t.start()

    def count_one(self):
        with self.lock:
            self.done += 1

    def running(self):
        return not self.stop_flag and time.monotonic() < self.deadline

    def run(self, i):
        while self.running():
            try:
                self.session(i, self)
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                self.failures.append(repr(e))

    def finish(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(30)


def echo_session(port):
    """One tcp connection, five echo round trips, then a new connection, so
    that new connections meet each new config."""

    def session(i, loop):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            for n in range(5):
                msg = b"client %d exchange %d" % (i, n)
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = s.recv(4096)
                    if not chunk:
                        raise ConnectionError("closed mid-exchange")
                    got += chunk
                if got != msg:
                    raise AssertionError(f"crossed data: {got!r} != {msg!r}")
                loop.count_one()

    return session


def keep_alive_session(port):
    """One HTTP/1.1 connection kept open for as long as the load runs."""

    def session(i, loop):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            n = 0
            while loop.running():
                conn.request("GET", f"/client{i}/{n}")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or not body.endswith(f"/client{i}/{n}".encode()):
                    raise AssertionError(f"{resp.status} {body!r}")
                n += 1
                loop.count_one()
        finally:
            conn.close()

    return session


class HttpBackend:
    """A keep-alive HTTP/1.1 backend that echoes the path and counts requests."""

    def __init__(self, name):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the stdlib's name
                body = f"{name} {self.path}".encode()
                with backend.lock:
                    backend.connections += 1  # counts requests: what "traffic" means here
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.connections = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def twenty_reloads(mode, make_backend, make_session, clients):
    a, b = make_backend("a"), make_backend("b")
    port, extra = free_port(), free_port()
    lb = Ringlb(ARGS.ringlb, config(mode, port, [a.port]), [port])
    load = LoadLoop(make_session(port), clients)
    try:
        for i in range(20):
            added = i % 2 == 0  # even: backend b and listener extra in; odd: out again
            lb.write_config(config(mode, port, [a.port, b.port] if added else [a.port],
                                   extra_listener_port=extra if added else None))
            before = lb.stderr().count("reload done")
            lb.reload()
            wait_until(lambda: lb.stderr().count("reload done") > before, what=f"reload {i}")
            if added:
                wait_for_port(extra)
                start = b.connections
                wait_until(lambda: b.connections > start, what="the added backend to get traffic")
            done = load.done
            wait_until(lambda: load.done > done + 20, what="traffic on the new config")
        load.finish()
        assert not load.failures, load.failures[:5]
        assert lb.stop() == 0
    finally:
        load.finish()
        lb.close()
        a.stop()
        b.stop()


def test_tcp_twenty_reloads_under_load_fail_nothing_and_new_backends_serve():
    twenty_reloads("tcp", lambda name: EchoServer(), echo_session, clients=8)


def test_http_keep_alive_survives_twenty_reloads_and_new_backends_serve():
    twenty_reloads("http", HttpBackend, keep_alive_session, clients=6)


def test_a_broken_config_is_refused_with_the_reason_and_traffic_goes_on():
    a = EchoServer()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, config("tcp", port, [a.port]), [port])
    load = LoadLoop(echo_session(port), clients=4)
    try:
        lb.write_config(config("tcp", port, [a.port]) + "\n[pools.broken]\nbalance = 42\n")
        lb.reload()
        # The refusal, then one line per problem: wait for the problem too.
        wait_until(lambda: "reload refused" in lb.stderr() and "balance" in lb.stderr(),
                   what="the refusal and its reason in the log")
        log = lb.stderr()
        assert "ringlb.toml:" in log, log
        done = load.done
        wait_until(lambda: load.done > done + 50, what="traffic after the refused reload")
        load.finish()
        assert not load.failures, load.failures[:5]
    finally:
        load.finish()
        lb.close()
        a.stop()


if __name__ == "__main__":
    run_module(globals())
