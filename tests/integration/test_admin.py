"""The admin endpoint end to end: real ringlb, traffic through a tcp listener,
then /metrics parsed with the Prometheus text parser (python3-prometheus-client),
/status JSON and /healthz checked against what was sent."""

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's package lives in the system interpreter; another python3 may come first in PATH.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
            os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: python3-prometheus-client is not installed")
    sys.exit(77)

from harness import EchoServer, Ringlb, free_port, parse_args, run_module, wait_for_port, wait_until

ARGS = parse_args()


def config(admin_port, listen_port, backends, listener="front", workers=2, health=""):
    backend_list = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    return f"""
[global]
workers = {workers}
drain_timeout = "5s"

[admin]
bind = "127.0.0.1:{admin_port}"

[pools.echo]
backends = [{backend_list}]
connect_timeout = "1s"
{health}

[listeners.{listener}]
bind = "127.0.0.1:{listen_port}"
mode = "tcp"
pool = "echo"
"""


def get(port, path, method="GET"):
    """(status, headers, body) of one request to the admin endpoint."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def metrics(port):
    """{(sample name, sorted label items): value} from GET /metrics."""
    status, headers, body = get(port, "/metrics")
    assert status == 200, status
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"]
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def status_json(port):
    status, headers, body = get(port, "/status")
    assert status == 200, status
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


def echo_once(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
    assert got == payload
    return len(payload)


class Setup:
    """An echo backend and ringlb with an admin endpoint and a tcp listener."""

    def __init__(self, extra_backends=(), health=""):
        self.echo = EchoServer()
        self.admin = free_port()
        self.port = free_port()
        self.backends = [self.echo.port, *extra_backends]
        # Only the admin port is probed: it opens after the listeners' sockets
        # are bound, and a probe of the tcp port would be a stray connection
        # that the counters see at some later moment.
        self.lb = Ringlb(ARGS.ringlb, config(self.admin, self.port, self.backends, health=health),
                         [self.admin])

    def close(self):
        self.lb.close()
        self.echo.stop()


def test_healthz_answers_ok():
    s = Setup()
    try:
        status, _, body = get(s.admin, "/healthz")
        assert (status, body) == (200, b"ok\n"), (status, body)
    finally:
        s.close()


def test_metrics_count_the_connections_and_bytes_sent_through_a_tcp_listener():
    s = Setup()
    try:
        label = {"listener": "front"}
        backend = {"pool": "echo", "backend": f"127.0.0.1:{s.echo.port}"}
        idle = lambda: value(metrics(s.admin), "ringlb_connections_active", **label) == 0
        # Sessions finish on the workers just after the client sees EOF.
        wait_until(idle, what="connections_active at 0")
        before = metrics(s.admin)
        sizes = [1000 + i * 517 for i in range(20)]
        for n in sizes:
            echo_once(s.port, os.urandom(n))
        wait_until(idle, what="connections_active back to 0")
        m = metrics(s.admin)

        def delta(name, **labels):
            return value(m, name, **labels) - value(before, name, **labels)

        assert delta("ringlb_connections_accepted_total", **label) == len(sizes)
        assert delta("ringlb_bytes_total", direction="in", **label) == sum(sizes), \
            (delta("ringlb_bytes_total", direction="in", **label), sum(sizes))
        assert delta("ringlb_bytes_total", direction="out", **label) == sum(sizes)
        assert value(m, "ringlb_backend_up", **backend) == 1
        assert value(m, "ringlb_backend_active", **backend) == 0
        assert delta("ringlb_backend_requests_total", **backend) == len(sizes)
        assert value(m, "ringlb_backend_health_changes_total", **backend) == 0
        assert delta("ringlb_upstream_connect_duration_seconds_count", **backend) == len(sizes)
        assert delta("ringlb_upstream_connect_duration_seconds_bucket", le="+Inf",
                     **backend) == len(sizes)
        assert value(m, "ringlb_reloads_total", result="ok") == 0
        assert value(m, "ringlb_rejected_total", reason="no_backend", **label) == 0
        assert value(m, "ringlb_workers") == 2
    finally:
        s.close()


def test_active_connections_are_counted_while_open():
    s = Setup()
    try:
        clients = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(3)]
        for c in clients:  # one echo each proves the session is proxying
            c.sendall(b"x")
            assert c.recv(1) == b"x"
        m = metrics(s.admin)
        assert value(m, "ringlb_connections_active", listener="front") == 3
        st = status_json(s.admin)
        assert st["listeners"][0]["active_connections"] == 3
        assert st["pools"][0]["backends"][0]["active_connections"] == 3
        for c in clients:
            c.close()
    finally:
        s.close()


def test_a_refused_connect_is_counted_on_that_backend():
    dead = free_port()  # nothing listens there
    s = Setup(extra_backends=[dead])
    try:
        for _ in range(4):  # round robin: some connections try the dead backend first
            echo_once(s.port, b"ping")
        wait_until(lambda: (value(metrics(s.admin), "ringlb_backend_connect_failures_total",
                                  pool="echo", backend=f"127.0.0.1:{dead}") or 0) >= 1,
                   what="a connect failure on the dead backend")
    finally:
        s.close()


def test_status_lists_listeners_pools_and_backend_state():
    s = Setup()
    try:
        st = status_json(s.admin)
        assert [(l["name"], l["bind"], l["mode"]) for l in st["listeners"]] == \
            [("front", f"127.0.0.1:{s.port}", "tcp")]
        assert [p["name"] for p in st["pools"]] == ["echo"]
        b = st["pools"][0]["backends"][0]
        assert b["address"] == f"127.0.0.1:{s.echo.port}"
        assert b["state"] == "up"
        assert b["active_connections"] == 0
        assert b["last_change"] is None
    finally:
        s.close()


def test_reload_counts_and_shows_only_the_new_listeners():
    s = Setup()
    try:
        echo_once(s.port, b"before reload")
        new_port = free_port()
        s.lb.write_config(config(s.admin, new_port, s.backends, listener="renamed"))
        s.lb.reload()
        wait_until(lambda: value(metrics(s.admin), "ringlb_reloads_total", result="ok") == 1,
                   what="reload counted")
        wait_for_port(new_port)
        st = status_json(s.admin)
        assert [l["name"] for l in st["listeners"]] == ["renamed"]
        m = metrics(s.admin)
        assert value(m, "ringlb_connections_accepted_total", listener="front") is None
        assert value(m, "ringlb_connections_accepted_total", listener="renamed") is not None
    finally:
        s.close()


def test_a_failed_reload_is_counted():
    s = Setup()
    try:
        s.lb.write_config("this is = = not toml")
        s.lb.reload()
        wait_until(lambda: value(metrics(s.admin), "ringlb_reloads_total", result="failed") == 1,
                   what="failed reload counted")
    finally:
        s.close()


def test_unknown_paths_are_404_and_other_methods_405():
    s = Setup()
    try:
        assert get(s.admin, "/nope")[0] == 404
        status, headers, _ = get(s.admin, "/metrics", method="POST")
        assert status == 405 and headers["Allow"] == "GET, HEAD", (status, dict(headers))
        status, headers, body = get(s.admin, "/status", method="HEAD")
        assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    finally:
        s.close()


def test_the_status_page_lists_each_backend():
    s = Setup()
    try:
        status, headers, body = get(s.admin, "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert f'data-backend="127.0.0.1:{s.echo.port}"'.encode() in body
        assert b'http-equiv="refresh"' in body
    finally:
        s.close()


def test_a_stalled_scraper_does_not_block_the_admin_endpoint_or_traffic():
    s = Setup()
    try:
        stalled = [socket.create_connection(("127.0.0.1", s.admin), timeout=10) for _ in range(20)]
        for c in stalled:
            c.sendall(b"GET /metrics HTTP/1.1\r\nHo")  # and never the rest
        assert get(s.admin, "/healthz")[0] == 200
        echo_once(s.port, b"traffic still flows")
        for c in stalled:
            c.close()
    finally:
        s.close()


def test_many_concurrent_scrapers_all_get_metrics():
    s = Setup()
    try:
        errors = []

        def scrape():
            try:
                for _ in range(5):
                    if value(metrics(s.admin), "ringlb_workers") != 2:
                        errors.append("bad scrape")
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=scrape) for _ in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[:3]
    finally:
        s.close()


def test_a_down_backend_shows_as_down():
    dead = free_port()
    health = '[pools.echo.health]\ncheck = "tcp"\ninterval = "100ms"\ntimeout = "100ms"\n' \
             'rise = 1\nfall = 1\n'
    s = Setup(extra_backends=[dead], health=health)
    try:
        def dead_backend():
            for b in status_json(s.admin)["pools"][0]["backends"]:
                if b["address"] == f"127.0.0.1:{dead}":
                    return b
            raise AssertionError("dead backend not listed")

        try:
            wait_until(lambda: dead_backend()["state"] == "down", timeout=10,
                       what="the dead backend marked down")
        except AssertionError:
            if not dead_backend()["checked"]:
                print("  (no health checker in this build: state check skipped)")
                return
            raise
        b = dead_backend()
        assert b["state"] == "down", b
        assert b["last_change"] is not None and b["last_change"].endswith("Z"), b
        m = metrics(s.admin)
        assert value(m, "ringlb_backend_up", pool="echo", backend=f"127.0.0.1:{dead}") == 0
        assert value(m, "ringlb_backend_health_changes_total", pool="echo",
                     backend=f"127.0.0.1:{dead}") >= 1
    finally:
        s.close()


def test_ringlb_exits_with_the_reason_when_the_admin_port_is_taken():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    admin = holder.getsockname()[1]
    echo = EchoServer()
    lb = Ringlb(ARGS.ringlb, config(admin, free_port(), [echo.port]))
    try:
        rc = lb.proc.wait(timeout=20)
        assert rc != 0
        err = lb.stderr()
        assert "admin" in err and "Address already in use" in err, err
    finally:
        lb.close()
        echo.stop()
        holder.close()


if __name__ == "__main__":
    run_module(globals())
