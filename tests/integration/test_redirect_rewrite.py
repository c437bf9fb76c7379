"""Route redirects and prefix rewrites (issue 19's first two request phases),
seen by curl over HTTP/1.1 and HTTP/2: a redirect route answers itself with
its code and Location and sends nothing upstream; rewrite_prefix replaces the
matched path_prefix in the target the backend gets; the access log names the
redirect's status with no backend."""

import json
import os
import subprocess
import tempfile

from harness import (ScriptedServer, free_port, parse_args, read_http_request, run_module,
                     start_ringlb, wait_until)

ARGS = parse_args()
TMP = tempfile.TemporaryDirectory(prefix="ringlb-redirect-")
ACCESS_LOG = os.path.join(TMP.name, "access.log")


def backend_script(conn, rfile, server):
    while True:
        req = read_http_request(rfile)
        if req is None:
            return
        server.note(req.target)
        body = f"backend saw {req.target}\n".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


BACKEND = ScriptedServer(backend_script)
PORT = free_port()
CONFIG = f"""
[global]
workers = 1
access_log = "{ACCESS_LOG}"

[pools.app]
backends = ["{BACKEND.address}"]

[listeners.web]
bind = "127.0.0.1:{PORT}"
mode = "http"
pool = "app"
protocols = ["h2c", "http/1.1"]

[[listeners.web.routes]]
path_prefix = "/secure"
redirect = "https"

[[listeners.web.routes]]
path_prefix = "/moved"
redirect = "https://new.example.com/base/"
redirect_code = 308

[[listeners.web.routes]]
path_prefix = "/api/"
rewrite_prefix = "/v2/"
pool = "app"
"""
LB = start_ringlb(ARGS.ringlb, CONFIG, ports=[PORT])


def curl(path, *extra):
    r = subprocess.run(["curl", "-sS", "-o", "-", "-D", "-", "-w", "\n%{http_code} %{http_version}",
                        *extra, f"http://127.0.0.1:{PORT}{path}", "-H", "Host: shop.example:8080"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout


def location(out):
    for line in out.splitlines():
        if line.lower().startswith("location:"):
            return line.split(":", 1)[1].strip()
    return None


def test_https_redirect_keeps_host_without_port_and_target():
    for proto in ([], ["--http2-prior-knowledge"]):
        seen = len(BACKEND.notes)
        out = curl("/secure/cart?id=3", *proto)
        assert out.endswith("301 " + ("2" if proto else "1.1")), out
        assert location(out) == "https://shop.example/secure/cart?id=3", out
        assert len(BACKEND.notes) == seen, "a redirect sent something upstream"


def test_url_prefix_redirect_with_its_code_and_head():
    out = curl("/moved/a?b=1")
    assert out.endswith("308 1.1"), out
    assert location(out) == "https://new.example.com/base/moved/a?b=1", out
    out = curl("/moved/a", "-I", "--http2-prior-knowledge")
    assert out.endswith("308 2") and location(out) == "https://new.example.com/base/moved/a", out


def test_rewrite_prefix_changes_the_upstream_target_only():
    for proto in ([], ["--http2-prior-knowledge"]):
        out = curl("/api/users?x=1", *proto)
        assert "backend saw /v2/users?x=1" in out, out
    out = curl("/other")
    assert "backend saw /other" in out, out


def test_x_access_log_names_the_redirect_without_a_backend():
    # A writer thread appends the lines after the responses went out: the
    # redirect's line may be in the file before the later rewritten request's.
    def logged():
        text = open(ACCESS_LOG).read() if os.path.exists(ACCESS_LOG) else ""
        return "/moved/a" in text and "/api/users" in text

    wait_until(logged, what="the access log lines of the redirect and the rewrite")
    lines = [json.loads(x) for x in open(ACCESS_LOG).read().splitlines() if x.strip()]
    red = [x for x in lines if x["path"].startswith("/moved/a")]
    assert red and red[0]["status"] == 308 and red[0]["backend"] == "-", red
    assert "error" not in red[0], red[0]
    api = [x for x in lines if x["path"].startswith("/api/users")]
    assert api and api[0]["path"] == "/api/users?x=1", "the log shows the client's path"


def test_zz_sigterm_exits_zero():
    assert LB.stop(timeout=10) == 0, LB.stderr()


if __name__ == "__main__":
    run_module(globals(), LB.close, TMP.cleanup)
