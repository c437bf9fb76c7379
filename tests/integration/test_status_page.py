"""The admin status page (GET /) rendered by a real browser: headless Chromium
loads it and dumps the DOM, and a backend that was taken down shows as down.
Skips (exit 77) when Chromium is not installed."""

import json
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from html.parser import HTMLParser

from harness import EchoServer, Ringlb, free_port, parse_args, run_tests, wait_until

ARGS = parse_args()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def config(admin_port, listen_port, backends):
    backend_list = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    return f"""
[global]
workers = 1
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{admin_port}"

[pools.web]
backends = [{backend_list}]

[pools.web.health]
check = "tcp"
interval = "200ms"
timeout = "100ms"
rise = 1
fall = 1

[listeners.front]
bind = "127.0.0.1:{listen_port}"
mode = "tcp"
pool = "web"
"""


class BackendStates(HTMLParser):
    """Collects {backend address: text of its state cell} from the page."""

    def __init__(self):
        super().__init__()
        self.states = {}
        self._row = None
        self._in_state = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-backend" in attrs:
            self._row = attrs["data-backend"]
        elif tag == "td" and self._row and "state" in (attrs.get("class") or "").split():
            self._in_state = True

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_state = False
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._in_state and self._row:
            self.states[self._row] = self.states.get(self._row, "") + data.strip()


def rendered_states(admin_port):
    """Backend states as Chromium renders GET /."""
    with tempfile.TemporaryDirectory(prefix="ringlb-chromium-") as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--dump-dom", f"http://127.0.0.1:{admin_port}/"],
            capture_output=True, text=True, timeout=60, check=True)
    parser = BackendStates()
    parser.feed(out.stdout)
    return parser.states


def json_state(admin_port, address):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/status", timeout=10) as r:
        status = json.load(r)
    for b in status["pools"][0]["backends"]:
        if b["address"] == address:
            return b["state"]
    return None


def test_a_backend_taken_down_shows_as_down_in_the_browser():
    keep, victim = EchoServer(), EchoServer()
    admin, port = free_port(), free_port()
    lb = Ringlb(ARGS.ringlb, config(admin, port, [keep.port, victim.port]), [admin, port])
    keep_addr, victim_addr = f"127.0.0.1:{keep.port}", f"127.0.0.1:{victim.port}"
    try:
        states = rendered_states(admin)
        assert states.get(keep_addr) == "up" and states.get(victim_addr) == "up", states
        victim.stop()  # its port now refuses: the health check marks it down
        wait_until(lambda: json_state(admin, victim_addr) == "down", timeout=15,
                   what="the stopped backend marked down")
        states = rendered_states(admin)
        assert states.get(victim_addr) == "down", states
        assert states.get(keep_addr) == "up", states
    finally:
        lb.close()
        keep.stop()


if __name__ == "__main__":
    if CHROMIUM is None:
        print("SKIP: chromium is not installed (apt-get install chromium)")
        sys.exit(77)
    run_tests([(name, fn) for name, fn in globals().items() if name.startswith("test_")])
