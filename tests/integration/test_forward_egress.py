"""The finished egress proxy end to end with curl: proxy login (users_file:
407 flows for plain requests and CONNECT, wrong passwords, the slow-down of a
client that keeps failing, the file re-read on SIGHUP), rules after login,
the audit log, `source`, max_connections_per_client, the forward metrics,
and slowhttptest through the proxy while normal clients go on."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from dns_responder import DnsResponder
from harness import (FixedBodyServer, Ringlb, free_port, is_sanitized, parse_args, run_module,
                     wait_until)

ARGS = parse_args()
SLOW = 3 if is_sanitized(ARGS.ringlb) else 1


def sha512_crypt(password):
    out = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


class Setup:
    def __init__(self):
        self.origin = FixedBodyServer("origin says hi\n")
        self.origin_port = self.origin.port
        self.dns = DnsResponder()
        self.dns.add("origin.test", ["127.0.0.1"], ttl=60)
        self.dns.add("rebind.test", ["127.0.0.66"], ttl=60)  # into a denied address
        self.dns.add("slow.test", ["127.0.0.1"], ttl=60, delay=2.0)
        # Two addresses: nothing listens on the first one the proxy tries.
        self.dns.add("two.test", ["127.0.0.77", "127.0.0.1"], ttl=60)
        self.port = free_port()
        self.admin_port = free_port()
        self.open_port = free_port()  # a second listener without login (slowhttptest)
        self.tmp = tempfile.TemporaryDirectory(prefix="ringlb-egress-")
        self.users = os.path.join(self.tmp.name, "proxy-users.htpasswd")
        self.access = os.path.join(self.tmp.name, "access.log")
        self.write_users({"alice": "wonderland", "bob": "builder"})
        self.lb = Ringlb(ARGS.ringlb, self.config(), [self.port, self.admin_port, self.open_port])

    def write_users(self, users):
        with open(self.users + ".tmp", "w") as f:
            for user, password in users.items():
                f.write(f"{user}:{sha512_crypt(password)}\n")
        os.replace(self.users + ".tmp", self.users)

    def config(self):
        return f"""
[global]
workers = 2
drain_timeout = "5s"
access_log = "{self.access}"
resolvers = ["127.0.0.1:{self.dns.port}"]

[admin]
bind = "127.0.0.1:{self.admin_port}"

[listeners.egress]
bind = "127.0.0.1:{self.port}"
mode = "forward"
users_file = "{self.users}"
allow = ["127.0.0.0/8", "*.test"]
deny = ["blocked.example.com", "127.0.0.66"]
connect_ports = [{self.origin_port}]
source = "127.0.0.2"
max_connections_per_client = 4

[listeners.open]
bind = "127.0.0.1:{self.open_port}"
mode = "forward"
allow = ["127.0.0.1"]
connect_ports = [{self.origin_port}]
header_timeout = "2s"
max_connections_per_client = 200
"""

    def close(self):
        try:
            code = self.lb.stop()
            assert code == 0, f"exit code {code}:\n{self.lb.stderr()}"
        finally:
            self.lb.close()
            self.origin.stop()
            self.dns.stop()
            self.tmp.cleanup()


SETUP = None


def setup():
    global SETUP
    if SETUP is None:
        SETUP = Setup()
    return SETUP


def curl(url, user=None, tunnel=False, port=None, interface="127.0.0.9", extra=()):
    """curl -x through the egress listener; returns (status, headers text, body)."""
    s = setup()
    proxy = f"http://127.0.0.1:{port or s.port}"
    cmd = ["curl", "-sS", "--max-time", str(10 * SLOW), "-D", "-", "-x", proxy,
           "--interface", interface]
    if user:
        cmd += ["--proxy-user", user]
    if tunnel:
        cmd += ["-p"]
    cmd += list(extra) + [url]
    r = subprocess.run(cmd, capture_output=True, timeout=30 * SLOW)
    out = r.stdout.decode("latin-1")
    # With -p, the proxy's CONNECT answer comes first, then the origin's.
    blocks = out.split("\r\n\r\n")
    heads = [b for b in blocks if b.startswith("HTTP/")]
    last = heads[-1] if heads else ""
    status = int(last.split()[1]) if last else 0
    body = blocks[-1] if blocks else ""
    return status, "\r\n\r\n".join(heads), body, r


def origin_url(path):
    return f"http://127.0.0.1:{setup().origin_port}{path}"


def metric(name, labels):
    url = f"http://127.0.0.1:{setup().admin_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def access_lines():
    try:
        with open(setup().access) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait_line(pred, what):
    wait_until(lambda: any(pred(x) for x in access_lines()), timeout=5 * SLOW, what=what)
    return [x for x in access_lines() if pred(x)][-1]


def test_a_request_without_login_gets_407_with_proxy_authenticate():
    status, heads, _, _ = curl(origin_url("/nologin"))
    assert status == 407, heads
    assert "HTTP/1.1 407 Proxy Authentication Required" in heads, heads
    assert 'Proxy-Authenticate: Basic realm="ringlb proxy"' in heads, heads
    assert not any(p == "/nologin" for p, _, _ in setup().origin.seen), "it reached the origin"
    status, heads, _, _ = curl(origin_url("/nologin"), tunnel=True)
    assert status == 407 and "Proxy-Authenticate: Basic" in heads, heads


def test_curl_logs_in_for_plain_requests_and_connect_tunnels():
    status, heads, body, _ = curl(origin_url("/plain"), user="alice:wonderland")
    assert status == 200 and body == "origin says hi\n", (heads, body)
    path, fields, peer = [x for x in setup().origin.seen if x[0] == "/plain"][-1]
    assert "Proxy-Authorization" not in fields, f"the login reached the origin: {fields}"
    assert fields.get("Via") == "1.1 ringlb", fields
    assert peer == "127.0.0.2", f"source = 127.0.0.2 not used: the origin saw {peer}"
    status, heads, body, _ = curl(origin_url("/tunnelled"), user="bob:builder", tunnel=True)
    assert "200 Connection established" in heads and status == 200, heads
    assert body == "origin says hi\n", body
    assert [x for x in setup().origin.seen if x[0] == "/tunnelled"][-1][2] == "127.0.0.2"


def test_curl_keeps_one_connection_for_several_requests_and_proxy_fields_stay_behind():
    s = setup()
    urls = [origin_url(f"/ka{i}") for i in range(3)]
    status, heads, body, r = curl(urls[0], user="alice:wonderland",
                                  extra=["-H", "Proxy-Trace: secret"] + urls[1:])
    out = r.stdout.decode("latin-1")
    assert r.returncode == 0 and out.count("HTTP/1.1 200 OK") == 3, out
    lines = [wait_line(lambda x, p=f"/ka{i}": x.get("path") == p, f"/ka{i}'s line")
             for i in range(3)]
    assert len({x["client"] for x in lines}) == 1, \
        f"curl's three requests came on more than one connection: {[x['client'] for x in lines]}"
    for path, fields, _ in [x for x in setup().origin.seen if x[0].startswith("/ka")]:
        assert not any(k.lower().startswith("proxy-") for k in fields), (path, fields)
    assert out.count("Via: 1.1 ringlb") == 3, "no Via on the answers"


def test_a_wrong_password_is_407_and_counted():
    before = metric("ringlb_auth_failures_total",
                    {"listener": "egress", "route": "proxy", "reason": "bad_credentials"})
    status, heads, _, _ = curl(origin_url("/wrong"), user="alice:guess", interface="127.0.0.10")
    assert status == 407, heads
    status, _, _, _ = curl(origin_url("/wrong"), user="mallory:x", interface="127.0.0.10")
    assert status == 407
    wait_until(lambda: metric("ringlb_auth_failures_total",
                              {"listener": "egress", "route": "proxy",
                               "reason": "bad_credentials"}) == before + 1,
               timeout=5, what="the bad_credentials count")
    assert not any(p == "/wrong" for p, _, _ in setup().origin.seen)


def test_rules_apply_after_login_and_name_nothing_before_it():
    status, heads, body, _ = curl("http://blocked.example.com/", user="alice:wonderland")
    assert status == 403 and 'deny rule "blocked.example.com"' in body, (heads, body)
    # Without a login the answer is 407: the rules are not shown to strangers.
    status, _, body, _ = curl("http://blocked.example.com/")
    assert status == 407 and "blocked" not in body, body
    status, _, body, _ = curl("http://127.0.0.66:80/", user="alice:wonderland", tunnel=False)
    assert status == 403, body
    wait_until(lambda: metric("ringlb_forward_denied_total",
                              {"listener": "egress", "rule": "blocked.example.com"}) >= 1,
               timeout=5, what="ringlb_forward_denied_total{rule=blocked.example.com}")
    assert metric("ringlb_forward_denied_total", {"listener": "egress", "rule": "127.0.0.66"}) >= 1


def test_names_resolve_through_the_configured_dns_server():
    status, heads, body, _ = curl(f"http://origin.test:{setup().origin_port}/named",
                                  user="alice:wonderland")
    assert status == 200 and body == "origin says hi\n", (heads, body)
    assert setup().dns.count("origin.test") >= 1, "global.resolvers was not asked"
    for i in range(6):
        assert curl(f"http://origin.test:{setup().origin_port}/named{i}",
                    user="alice:wonderland")[0] == 200
    # Each worker (2) asks once for A and once for AAAA, then keeps the answer (TTL 60 s).
    assert setup().dns.count("origin.test") <= 4, \
        f"{setup().dns.count('origin.test')} queries: the TTL was not kept"


def test_a_name_that_resolves_into_a_denied_address_is_refused():
    status, _, body, _ = curl(f"http://rebind.test:{setup().origin_port}/", user="alice:wonderland")
    assert status == 403 and 'deny rule "127.0.0.66"' in body, body
    status, heads, _, _ = curl(f"http://rebind.test:{setup().origin_port}/",
                               user="alice:wonderland", tunnel=True)
    assert "403" in heads, heads


def test_a_refused_connect_goes_on_to_the_names_next_address():
    status, _, body, _ = curl(f"http://two.test:{setup().origin_port}/second",
                              user="alice:wonderland")
    assert status == 200 and body == "origin says hi\n", body
    x = wait_line(lambda x: x.get("path") == "/second", "the two-address request's line")
    assert x["backend"] == f"127.0.0.1:{setup().origin_port}", x


def test_a_slow_name_does_not_delay_other_names():
    result = {}

    def slow():
        start = time.monotonic()
        result["slow"] = curl(f"http://slow.test:{setup().origin_port}/slowname",
                              user="alice:wonderland")[0]
        result["slow_time"] = time.monotonic() - start

    t = threading.Thread(target=slow)
    t.start()
    wait_until(lambda: setup().dns.count("slow.test") >= 1, timeout=5, what="the slow query")
    # Same client address, same worker count: the fast name must not queue behind it.
    fast_times = []
    for i in range(3):
        start = time.monotonic()
        status = curl(f"http://127.0.0.1:{setup().origin_port}/fast{i}", user="alice:wonderland")[0]
        assert status == 200
        name_status = curl(f"http://origin.test:{setup().origin_port}/fastname{i}",
                           user="alice:wonderland")[0]
        assert name_status == 200
        fast_times.append(time.monotonic() - start)
    assert "slow" not in result, "the fast lookups finished only after the slow one"
    assert max(fast_times) < 1.0 * SLOW, fast_times
    t.join(30)
    assert result.get("slow") == 200 and result["slow_time"] >= 1.9, result


def test_the_audit_log_names_user_destination_rule_bytes_and_verdict():
    curl(origin_url("/audited"), user="alice:wonderland")
    x = wait_line(lambda x: x.get("path") == "/audited" and x.get("status") == 200,
                  "the audited request's line")
    assert x["user"] == "alice" and x["verdict"] == "allowed", x
    assert x["destination"] == f"127.0.0.1:{setup().origin_port}", x
    assert x["acl"] == 'allowed by "127.0.0.0/8"', x
    assert x["bytes_in"] > 0 and x["bytes_out"] > 0 and "duration_ms" in x, x
    assert x["client"].startswith("127.0.0.9:"), x
    x = wait_line(lambda x: x.get("destination") == "blocked.example.com:80"
                  and x.get("verdict") == "denied", "the denied request's line")
    assert x["user"] == "alice" and x["status"] == 403, x
    x = wait_line(lambda x: x.get("verdict") == "login_required"
                  and x.get("auth_failure") == "bad_credentials", "a refused login's line")
    assert x["status"] == 407 and "user" not in x, x
    # A tunnel's line comes when it ends, with what it carried.
    x = wait_line(lambda x: x.get("method") == "CONNECT" and x.get("user") == "bob",
                  "the tunnel's line")
    assert x["status"] == 200 and x["bytes_in"] > 0 and x["bytes_out"] > 0, x


def test_a_tunnel_shows_in_the_gauge_while_open():
    s = socket.create_connection(("127.0.0.1", setup().port), timeout=10)
    try:
        import base64
        token = base64.b64encode(b"alice:wonderland").decode()
        target = f"127.0.0.1:{setup().origin_port}"
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                  f"Proxy-Authorization: Basic {token}\r\n\r\n".encode())
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
        wait_until(lambda: metric("ringlb_forward_tunnels_active", {"listener": "egress"}) == 1,
                   timeout=5, what="one tunnel open")
    finally:
        s.close()
    wait_until(lambda: metric("ringlb_forward_tunnels_active", {"listener": "egress"}) == 0,
               timeout=5, what="the tunnel closed")
    assert metric("ringlb_forward_tunnel_bytes_total",
                  {"listener": "egress", "direction": "in"}) > 0


def test_sighup_rereads_the_users_file():
    setup().write_users({"alice": "new-password"})
    setup().lb.reload()
    wait_until(lambda: curl(origin_url("/hup"), user="alice:new-password")[0] == 200,
               timeout=10 * SLOW, what="the new password after SIGHUP")
    status, _, _, _ = curl(origin_url("/hup"), user="alice:wonderland")
    assert status == 407, "the old password still works after the reload"
    status, _, _, _ = curl(origin_url("/hup"), user="bob:builder")
    assert status == 407, "a user removed from the file still gets in"
    setup().write_users({"alice": "wonderland", "bob": "builder"})
    setup().lb.reload()
    wait_until(lambda: curl(origin_url("/hup"), user="bob:builder")[0] == 200,
               timeout=10 * SLOW, what="the restored file")


def test_a_client_that_keeps_failing_is_slowed_down():
    """20 failures at once, then 429 + Retry-After before anything is checked,
    even for the right password; other clients are not affected."""
    statuses = [curl(origin_url("/guess"), user=f"alice:guess{i}", interface="127.0.0.11")[0]
                for i in range(22)]
    assert statuses[:20] == [407] * 20 and statuses[-1] == 429, statuses
    status, heads, _, _ = curl(origin_url("/guess"), user="alice:wonderland",
                               interface="127.0.0.11")
    assert status == 429 and "Retry-After:" in heads, heads
    assert curl(origin_url("/guess"), user="alice:wonderland")[0] == 200, "another client"


def test_max_connections_per_client_closes_the_extra_connection_at_once():
    socks = []
    try:
        accepted_before = metric("ringlb_connections_accepted_total", {"listener": "egress"})
        for _ in range(4):
            s = socket.socket()
            s.bind(("127.0.0.12", 0))
            s.connect(("127.0.0.1", setup().port))
            socks.append(s)
        # connect() returns once the kernel queued the connection; ringlb
        # counts it when a worker accepts it, and the workers' accepts are not
        # ordered: the fifth must come after the first four were counted.
        wait_until(lambda: metric("ringlb_connections_accepted_total",
                                  {"listener": "egress"}) >= accepted_before + 4,
                   timeout=5, what="the four connections accepted")
        before = metric("ringlb_rejected_total", {"listener": "egress", "reason": "client_limit"})
        extra = socket.socket()
        extra.bind(("127.0.0.12", 0))
        extra.connect(("127.0.0.1", setup().port))
        extra.settimeout(5)
        assert extra.recv(100) == b"", "the fifth connection was not closed"
        extra.close()
        wait_until(lambda: metric("ringlb_rejected_total",
                                  {"listener": "egress", "reason": "client_limit"}) == before + 1,
                   timeout=5, what="the client_limit count")
        # Another address is not limited by this one's connections.
        assert curl(origin_url("/other"), user="alice:wonderland")[0] == 200
        # One closes: a new one is accepted again.
        socks.pop().close()

        def accepted():
            s = socket.socket()
            s.bind(("127.0.0.12", 0))
            s.connect(("127.0.0.1", setup().port))
            s.settimeout(0.3)
            try:
                return s.recv(1) != b""
            except socket.timeout:
                socks.append(s)
                return True
        wait_until(accepted, timeout=5, what="a connection accepted after one closed")
    finally:
        for s in socks:
            s.close()


def test_slowhttptest_through_the_proxy_does_not_stop_normal_clients():
    tool = shutil.which("slowhttptest")
    assert tool, "slowhttptest is not installed (.ci/install-deps.sh installs it)"
    s = setup()
    url = f"http://127.0.0.1:{s.origin_port}/slow"
    attacks = []
    for mode in ("-H", "-B", "-X"):
        extra = ["-k", "1", "-n", "1", "-w", "10", "-y", "20", "-z", "32"] if mode == "-X" else []
        attacks.append(subprocess.Popen(
            [tool, mode, "-c", "300", "-r", "150", "-i", "1", "-l", str(8 * SLOW), "-s", "8192",
             "-d", f"127.0.0.1:{s.open_port}", "-u", url,
             "-p", "3"] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        time.sleep(1.5)  # the attack connections are opening (150 per second)
        slowest = 0.0
        for i in range(10):
            start = time.monotonic()
            status, _, body, _ = curl(origin_url(f"/during{i}"), port=s.open_port)
            slowest = max(slowest, time.monotonic() - start)
            assert status == 200 and body == "origin says hi\n", (status, body)
        assert slowest < 3 * SLOW, f"a normal request took {slowest:.2f}s under slowhttptest"
    finally:
        for a in attacks:
            try:
                a.wait(timeout=30 * SLOW)
            except subprocess.TimeoutExpired:
                a.kill()
                a.wait()
    assert s.lb.proc.poll() is None, "ringlb died under slowhttptest"
    # The slow heads were cut by header_timeout (2 s), not left to pile up.
    timeouts = metric("ringlb_rejected_total", {"listener": "open", "reason": "header_timeout"})
    assert timeouts >= 100, f"the attack never reached the proxy ({timeouts} header timeouts)"
    wait_until(lambda: metric("ringlb_connections_active", {"listener": "open"}) == 0,
               timeout=10 * SLOW, what="the attack's connections closed")


if __name__ == "__main__":
    run_module(globals(), lambda: SETUP and SETUP.close())
