"""SIGHUP reloads under load (tcp mode): no failed exchange, no reset, new
backends get traffic, new listeners open, a bad file is refused."""

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
            time.sleep(0.05)  # let some exchanges run on each config
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


if __name__ == "__main__":
    run_tests([(name, fn) for name, fn in globals().items() if name.startswith("test_")])
