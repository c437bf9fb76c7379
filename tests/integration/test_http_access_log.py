"""The access log (`global.access_log`): one JSON object per request, valid
JSON even for hostile request targets, and re-opened on SIGHUP so that a
rotated file stops growing and a new one starts."""

import http.client
import json
import os
import shutil
import socket
import tempfile

from harness import FixedBodyServer, Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()


BACKEND = FixedBodyServer("hello")
PORT = free_port()


def config(log_path):
    return f"""
[global]
workers = 2
drain_timeout = "2s"
access_log = "{log_path}"

[pools.app]
backends = ["127.0.0.1:{BACKEND.port}"]

[listeners.web]
bind = "127.0.0.1:{PORT}"
mode = "http"
pool = "app"
[[listeners.web.routes]]
path_prefix = "/routed"
pool = "app"
"""


LOG_DIR = tempfile.mkdtemp(prefix="ringlb-access-")
LOG = os.path.join(LOG_DIR, "access.log")
LB = Ringlb(ARGS.ringlb, config(LOG), [PORT])


def lines(path=LOG):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()]


def wait_for_lines(count, path=LOG):
    wait_until(lambda: len(lines(path)) >= count, timeout=5, what=f"{count} access log lines")
    return lines(path)


def get(path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    conn.request("GET", path, headers={"Host": "x.test", **(headers or {})})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status


def raw(data):
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
        s.sendall(data)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
        return reply


def test_each_request_is_one_json_line_with_every_field():
    before = len(lines())
    assert get("/routed/a?b=1", headers={"X-Request-Id": "rid-1"}) == 200
    entry = wait_for_lines(before + 1)[-1]
    assert entry["method"] == "GET" and entry["path"] == "/routed/a?b=1", entry
    assert entry["status"] == 200 and entry["listener"] == "web"
    assert entry["route"] == "routes[0]" and entry["pool"] == "app"
    assert entry["backend"] == f"127.0.0.1:{BACKEND.port}"
    assert entry["client"].startswith("127.0.0.1:")
    assert entry["request_id"] == "rid-1"
    assert entry["bytes_out"] > 5 and entry["bytes_in"] > 20
    assert entry["duration_ms"] >= entry.get("upstream_response_ms", 0) >= 0
    assert "upstream_response_ms" in entry
    assert entry["time"].endswith("Z") and "T" in entry["time"] and "." in entry["time"]


def test_generated_request_id_is_logged():
    before = len(lines())
    assert get("/other") == 200
    entry = wait_for_lines(before + 1)[-1]
    assert entry["route"] == "-" and len(entry["request_id"]) == 32, entry


def test_rejected_request_is_logged_with_its_status_and_no_backend():
    before = len(lines())
    assert b" 400 " in raw(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    entry = wait_for_lines(before + 1)[-1]
    assert entry["status"] == 400 and entry["backend"] == "-", entry
    assert entry["error"] == "bad_request", entry


def test_a_successful_request_has_no_error_key():
    before = len(lines())
    assert get("/fine") == 200
    entry = wait_for_lines(before + 1)[-1]
    assert "error" not in entry, entry


def test_hostile_targets_still_give_valid_json():
    before = len(lines())
    hostile = [b'/q"uote\\back', b"/ctl\x01\x1f\x7f", b"/bin\xff\xfe\xc3", b'/"}\n{"status":1']
    for target in hostile:
        raw(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    entries = wait_for_lines(before + len(hostile))  # json.loads accepted every line
    assert all(isinstance(e["status"], int) for e in entries[before:]), entries[before:]


def test_sighup_reopens_the_log_after_rotation():
    assert get("/before-rotation") == 200
    wait_until(lambda: any(e["path"] == "/before-rotation" for e in lines()), timeout=5,
               what="the line before rotation")
    rotated = LOG + ".1"
    os.rename(LOG, rotated)
    count = len(lines(rotated))
    LB.reload()
    # The reload is applied asynchronously: requests until one lands in the new file.
    def new_file_has_a_line():
        get("/after-rotation")
        return os.path.exists(LOG) and len(lines()) > 0
    wait_until(new_file_has_a_line, timeout=10, what="a line in the re-opened log")
    assert all(e["path"] == "/after-rotation" for e in lines())
    assert len(lines(rotated)) - count <= 10  # only lines from before the switch


def test_zz_exit_is_clean():
    assert LB.stop(timeout=10) == 0, LB.stderr()


if __name__ == "__main__":
    run_module(globals(), LB.close, BACKEND.stop, lambda: shutil.rmtree(LOG_DIR,
               ignore_errors=True))
