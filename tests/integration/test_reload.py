"""SIGHUP reloads under load (tcp mode): no failed exchange, no reset, new
backends get traffic, new listeners open, a bad file is refused."""

import http.client
import http.server
import socket
import threading
import time

from harness import EchoServer, Ringlb, free_port, parse_args, run_tests, wait_for_port, wait_until

ARGS = parse_args()


def config(port, backends, extra_listener_port=None):
    listed = ", ".join(f'"127.0.0.1:{b}"' for b in backends)
    text = f"""
[global]
workers = 2
drain_timeout = "5s"

[pools.echo]
backends = [{listed}]

[listeners.front]
bind = "127.0.0.1:{port}"
mode = "tcp"
pool = "echo"
"""
    if extra_listener_port:
        text += f"""
[listeners.extra]
bind = "127.0.0.1:{extra_listener_port}"
mode = "tcp"
pool = "echo"
"""
    return text


class LoadLoop:
    """Clients that each keep one connection and do echo round trips, and
    reconnect every few exchanges so that new connections see new configs."""

    def __init__(self, port, clients=8, deadline_s=60):
        self.port = port
        self.failures = []
        self.exchanges = 0
        self.stop_flag = False
        self.deadline = time.monotonic() + deadline_s
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(clients)]
        for t in self.threads:
            t.start()

    def run(self, i):
        n = 0
        while not self.stop_flag and time.monotonic() < self.deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    for _ in range(5):
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
                        n += 1
                        with self.lock:
                            self.exchanges += 1
            except Exception as e:  # noqa: BLE001
                self.failures.append(repr(e))

    def finish(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(30)


def test_twenty_reloads_under_load_fail_nothing_and_new_backends_serve():
    a, b = EchoServer(), EchoServer()
    port = free_port()
    extra = free_port()
    lb = Ringlb(ARGS.ringlb, config(port, [a.port]), [port])
    load = LoadLoop(port)
    try:
        for i in range(20):
            if i % 2 == 0:
                lb.write_config(config(port, [a.port, b.port], extra_listener_port=extra))
            else:
                lb.write_config(config(port, [a.port]))
            before = lb.stderr().count("reload done")
            lb.reload()
            wait_until(lambda: lb.stderr().count("reload done") > before, what=f"reload {i}")
            if i % 2 == 0:
                wait_for_port(extra)
                start = b.connections
                wait_until(lambda: b.connections > start, what="the added backend to get traffic")
            done = load.exchanges
            wait_until(lambda: load.exchanges > done + 20, what="exchanges on the new config")
        load.finish()
        assert not load.failures, load.failures[:5]
        assert load.exchanges > 100, load.exchanges
        assert lb.stop() == 0
    finally:
        load.finish()
        lb.close()
        a.stop()
        b.stop()


def test_a_broken_config_is_refused_with_the_reason_and_traffic_goes_on():
    a = EchoServer()
    port = free_port()
    lb = Ringlb(ARGS.ringlb, config(port, [a.port]), [port])
    load = LoadLoop(port, clients=4)
    try:
        lb.write_config(config(port, [a.port]) + "\n[pools.broken]\nbalance = 42\n")
        lb.reload()
        wait_until(lambda: "reload refused" in lb.stderr(), what="the refusal in the log")
        log = lb.stderr()
        assert "balance" in log and "ringlb.toml:" in log, log
        done = load.exchanges
        wait_until(lambda: load.exchanges > done + 50, what="traffic after the refused reload")
        load.finish()
        assert not load.failures, load.failures[:5]
    finally:
        load.finish()
        lb.close()
        a.stop()


class HttpBackend:
    """A keep-alive HTTP/1.1 backend that names itself and counts requests."""

    def __init__(self, name):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the stdlib's name
                body = f"{name} {self.path}".encode()
                with backend.lock:
                    backend.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.requests = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def http_config(port, backends, extra_listener_port=None):
    listed = ", ".join(f'"127.0.0.1:{b}"' for b in backends)
    text = f"""
[global]
workers = 2
drain_timeout = "5s"

[pools.web]
backends = [{listed}]

[listeners.front]
bind = "127.0.0.1:{port}"
mode = "http"
pool = "web"
"""
    if extra_listener_port:
        text += f"""
[listeners.extra]
bind = "127.0.0.1:{extra_listener_port}"
mode = "http"
pool = "web"
"""
    return text


class KeepAliveGets:
    """Clients that each keep one HTTP/1.1 connection open and send GETs on
    it; any failed request, reset or reconnect is recorded."""

    def __init__(self, port, clients=6, deadline_s=60):
        self.port = port
        self.failures = []
        self.requests = 0
        self.stop_flag = False
        self.deadline = time.monotonic() + deadline_s
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(clients)]
        for t in self.threads:
            t.start()

    def run(self, i):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        n = 0
        while not self.stop_flag and time.monotonic() < self.deadline:
            try:
                conn.request("GET", f"/client{i}/{n}")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or not body.endswith(f"/client{i}/{n}".encode()):
                    self.failures.append(f"{resp.status} {body!r}")
                n += 1
                with self.lock:
                    self.requests += 1
            except Exception as e:  # noqa: BLE001
                self.failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.close()

    def finish(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(30)


def test_http_keep_alive_survives_twenty_reloads_and_new_backends_serve():
    a, b = HttpBackend("a"), HttpBackend("b")
    port = free_port()
    extra = free_port()
    lb = Ringlb(ARGS.ringlb, http_config(port, [a.port]), [port])
    load = KeepAliveGets(port)
    try:
        for i in range(20):
            if i % 2 == 0:
                lb.write_config(http_config(port, [a.port, b.port], extra_listener_port=extra))
            else:
                lb.write_config(http_config(port, [a.port]))
            before = lb.stderr().count("reload done")
            lb.reload()
            wait_until(lambda: lb.stderr().count("reload done") > before, what=f"reload {i}")
            if i % 2 == 0:
                wait_for_port(extra)
                start = b.requests
                wait_until(lambda: b.requests > start, what="the added backend to get requests")
            done = load.requests
            wait_until(lambda: load.requests > done + 20, what="requests on the new config")
        load.finish()
        assert not load.failures, load.failures[:5]
        assert load.requests > 400, load.requests
        assert lb.stop() == 0
    finally:
        load.finish()
        lb.close()
        a.stop()
        b.stop()


if __name__ == "__main__":
    run_tests([(name, fn) for name, fn in globals().items() if name.startswith("test_")])
