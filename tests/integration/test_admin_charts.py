"""The admin page's charts (GET / with GET /status/history) drawn by a real
browser: ringlb with an http listener, a live backend and a route to a dead
one carries load; headless Chromium loads the page, runs its script and
dumps the DOM, which must hold charts with data for the listener (rate,
5xx errors, latency percentiles) and both backends. The page must load
nothing from anywhere but the admin address: its Content-Security-Policy
says so, its HTML names no other host, and Chromium's net log of the page
shows no request elsewhere. Without JavaScript the tables are still there.
Set RINGLB_CHARTS_SCREENSHOT=/path.png to keep a screenshot of the page.
Skips (exit 77) when Chromium is not installed."""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from html.parser import HTMLParser

from harness import FixedBodyServer, Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def config(admin_port, listen_port, backend_port, dead_port):
    return f"""
[global]
workers = 1
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{admin_port}"

[pools.web]
backends = ["127.0.0.1:{backend_port}"]

[pools.dead]
backends = ["127.0.0.1:{dead_port}"]
connect_timeout = "1s"

[listeners.front]
bind = "127.0.0.1:{listen_port}"
mode = "http"
pool = "web"

[[listeners.front.routes]]
path_prefix = "/broken"
pool = "dead"
"""


class Load:
    """Requests to the listener from one thread until stopped: GET / (the
    live backend answers 200) and every 10th GET /broken (nothing listens on
    the dead backend's port: a 5xx)."""

    def __init__(self, port):
        self.port = port
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn = None
        while not self.stopping.is_set():
            path = "/broken" if self.sent % 10 == 9 else "/"
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            self.sent += 1
        if conn is not None:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=15)


class Setup:
    """One ringlb, its backend and the load, shared by the tests."""

    def __init__(self):
        self.backend = FixedBodyServer(b"hello\n")
        self.admin, self.port, self.dead = free_port(), free_port(), free_port()
        self.lb = Ringlb(ARGS.ringlb, config(self.admin, self.port, self.backend.port, self.dead),
                         [self.admin, self.port])
        self.base = f"http://127.0.0.1:{self.admin}"
        self.web = f"web/{self.backend.address}"
        self.dead_backend = f"dead/127.0.0.1:{self.dead}"
        self.load = Load(self.port)

    def close(self):
        self.load.stop()
        self.lb.close()
        self.backend.stop()


SETUP = None


def setup():
    global SETUP
    if SETUP is None:
        SETUP = Setup()
    return SETUP


def cleanup():
    if SETUP is not None:
        SETUP.close()


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers, r.read()


def history(s):
    return json.loads(get(s.base + "/status/history")[2])


def nonzero(values):
    return [v for v in values if v]


def history_has_data(s):
    """The listener's series have a few seconds of traffic, errors and
    latency, and each backend its requests or failed connects."""
    h = history(s)
    front = next((l for l in h["listeners"] if l["name"] == "front"), None)
    backends = {f'{b["pool"]}/{b["address"]}': b for b in h["backends"]}
    return (front is not None and len(nonzero(front["rate"])) >= 3
            and nonzero(front["errors"]) and nonzero(front["p99_ms"])
            and nonzero(backends[s.web]["rate"]) and nonzero(backends[s.dead_backend]["errors"]))


def chromium(url, *extra, timeout=90):
    """Runs headless Chromium on url with `extra` options in a fresh profile;
    returns (stdout, stderr, the net log's events as a list, its event types)."""
    with tempfile.TemporaryDirectory(prefix="ringlb-chromium-") as tmp:
        netlog = os.path.join(tmp, "net.json")
        out = subprocess.run(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-logging=stderr", "--v=0", f"--user-data-dir={os.path.join(tmp, 'profile')}",
             f"--log-net-log={netlog}", *extra, url],
            capture_output=True, text=True, timeout=timeout, check=True)
        with open(netlog) as f:
            log = json.load(f)
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return out.stdout, out.stderr, log["events"], types


class Dom(HTMLParser):
    """From a DOM dump: the #charts section's attributes, each chart (svg) as
    {(kind, name, chart): {series: path attributes}}, the backend table rows."""

    def __init__(self):
        super().__init__()
        self.section = None
        self.charts = {}
        self.rows = set()
        self.status = ""
        self._chart = None
        self._in_status = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("id") == "charts":
            self.section = a
        elif tag == "svg" and "data-chart" in a:
            self._chart = self.charts.setdefault(
                (a["data-kind"], a["data-name"], a["data-chart"]), {})
        elif tag == "path" and self._chart is not None and "data-series" in a:
            self._chart[a["data-series"]] = a
        elif tag == "tr" and "data-backend" in a:
            self.rows.add(f'{a["data-pool"]}/{a["data-backend"]}')
        self._in_status = tag == "p" and a.get("id") == "charts-status"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg":
            self._chart = None

    def handle_endtag(self, tag):
        if tag == "svg":
            self._chart = None
        elif tag == "p":
            self._in_status = False

    def handle_data(self, data):
        if self._in_status:
            self.status += data


def parse_dom(text):
    dom = Dom()
    dom.feed(text)
    return dom


def page_requests(events, types, site="http://127.0.0.1"):
    """URLs of the requests the page made (its frame's site in the network
    isolation key, or it as initiator), apart from Chromium's own."""
    urls = []
    for e in events:
        if types.get(e["type"]) != "URL_REQUEST_START_JOB":
            continue
        p = e.get("params") or {}
        if "url" not in p:
            continue
        if p.get("network_isolation_key", "").startswith(site) or \
                p.get("initiator", "").startswith(site):
            urls.append(p["url"])
    return urls


def test_history_json_has_series_for_listeners_and_backends():
    s = setup()
    wait_until(lambda: history_has_data(s), timeout=40, what="a few seconds of chart data")
    h = history(s)
    assert h["interval_seconds"] == 1 and h["capacity"] == 300, h
    front = next(l for l in h["listeners"] if l["name"] == "front")
    assert front["mode"] == "http" and front["latency"] is True, front
    for key in ("rate", "errors", "p50_ms", "p95_ms", "p99_ms"):
        assert len(front[key]) == len(h["t"]), (key, len(front[key]), len(h["t"]))
        assert all(v is None or v >= 0 for v in front[key]), (key, front[key])
    assert h["t"] == sorted(h["t"]), h["t"]


def test_the_browser_draws_the_charts_with_data():
    s = setup()
    wait_until(lambda: history_has_data(s), timeout=40, what="a few seconds of chart data")
    # The virtual time budget lets the page's script run its fetches and a
    # few 2 s refreshes before the DOM is dumped.
    dom_text, stderr, _, _ = chromium(s.base + "/", "--virtual-time-budget=5000", "--dump-dom")
    dom = parse_dom(dom_text)
    assert dom.section is not None, dom_text[:2000]
    assert int(dom.section["data-draws"]) >= 2, (dom.section, dom.status, stderr[-3000:])
    assert int(dom.section["data-points"]) > 0, dom.section
    assert not dom.status.startswith("Update failed"), dom.status

    def line(kind, name, chart, series):
        assert (kind, name, chart) in dom.charts, (kind, name, chart, sorted(dom.charts))
        assert series in dom.charts[(kind, name, chart)], dom.charts[(kind, name, chart)]
        return dom.charts[(kind, name, chart)][series]

    def drawn(path, points):
        return int(path["data-points"]) >= points and float(path["data-max"]) > 0 and \
            path["d"].count("L") >= points - 1

    rate = line("listener", "front", "rate", "rate")
    assert drawn(rate, 3), rate
    assert drawn(line("listener", "front", "errors", "errors"), 1)
    for p in ("p50", "p95", "p99"):
        assert drawn(line("listener", "front", "latency", p), 1), p
    assert drawn(line("backend", s.web, "rate", "rate"), 3)
    assert drawn(line("backend", s.dead_backend, "errors", "errors"), 1)
    # The tables are still there, refreshed in place.
    assert {s.web, s.dead_backend} <= dom.rows, dom.rows
    # No CSP violation reported on the console (Chromium logs them to stderr).
    assert "Content Security Policy" not in stderr and "Refused to" not in stderr, stderr[-3000:]


class Loads(HTMLParser):
    """Every URL-valued attribute and the text of <style> and <script>."""

    URL_ATTRS = {"src", "href", "action", "data", "poster", "srcset", "formaction", "xlink:href",
                 "background", "manifest", "ping"}

    def __init__(self):
        super().__init__()
        self.urls = []
        self.tags = []
        self.inline = ""
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [(tag, k, v) for k, v in attrs if k in self.URL_ATTRS]
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.inline += data


def test_the_page_loads_nothing_from_elsewhere():
    s = setup()
    status, headers, body = get(s.base + "/")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert csp is not None and csp.startswith("default-src 'none';"), csp
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["connect-src"] == "'self'", csp
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", directives["script-src"]), csp
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", directives["style-src"]), csp
    assert "unsafe" not in csp and "http" not in csp and "*" not in csp, csp

    page = Loads()
    page.feed(body.decode())
    assert "link" not in page.tags and "img" not in page.tags and "iframe" not in page.tags
    for tag, attr, value in page.urls:
        assert tag == "a" and attr == "href", (tag, attr, value)
        assert value.startswith("/") and not value.startswith("//"), (tag, attr, value)
    assert "url(" not in page.inline and "@import" not in page.inline
    assert not re.search(r"\b(https?:)?//[A-Za-z0-9.-]+[:/]", page.inline), \
        re.search(r"\b(https?:)?//[A-Za-z0-9.-]+[:/]", page.inline)

    _, _, events, types = chromium(s.base + "/", "--virtual-time-budget=5000", "--dump-dom")
    urls = page_requests(events, types)
    assert s.base + "/status/history" in urls, urls
    others = [u for u in urls if not u.startswith(s.base + "/")]
    assert not others, others


def test_without_javascript_the_page_keeps_its_tables_and_reloads_itself():
    # (Chromium's --dump-dom needs script, so this reads what a browser
    # without it gets: the served HTML, its tables and the <noscript> refresh.)
    s = setup()
    body = get(s.base + "/")[2].decode()
    dom = parse_dom(body)
    assert {s.web, s.dead_backend} <= dom.rows, dom.rows
    assert not dom.charts, sorted(dom.charts)
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in body
    assert "reloads itself every 2 s" in body


def test_a_screenshot_of_the_charts():
    s = setup()
    wait_until(lambda: history_has_data(s), timeout=40, what="a few seconds of chart data")
    keep = os.environ.get("RINGLB_CHARTS_SCREENSHOT")
    with tempfile.TemporaryDirectory(prefix="ringlb-shot-") as tmp:
        path = os.path.join(tmp, "charts.png")
        chromium(s.base + "/", "--virtual-time-budget=5000", "--hide-scrollbars",
                 "--window-size=1200,1500", f"--screenshot={path}")
        with open(path, "rb") as f:
            png = f.read()
        assert png.startswith(b"\x89PNG") and len(png) > 20_000, len(png)
        if keep:
            shutil.copyfile(path, keep)


if __name__ == "__main__":
    if CHROMIUM is None:
        print("SKIP: chromium is not installed (apt-get install chromium)")
        sys.exit(77)
    run_module(globals(), cleanup)
