"""global.watch_config and the systemd notifications, with the real binary:
a listener added by editing the file in place, or by an editor's rename
over it, serves within 3 s; a broken edit is refused and the running config
stays; the notify socket (NOTIFY_SOCKET, as systemd sets it for
Type=notify) hears READY, RELOADING then READY, STATUS and STOPPING."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from harness import (FixedBodyServer, free_port, is_sanitized, parse_args, run_module,
                     wait_for_port, wait_until)

ARGS = parse_args()
SLOW = 3 if is_sanitized(ARGS.ringlb) else 1


class Setup:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ringlb-watch-")
        self.path = os.path.join(self.tmp.name, "ringlb.toml")
        self.origin = FixedBodyServer("origin")
        self.admin_port = free_port()
        self.ports = [free_port(), free_port(), free_port()]
        self.notify_path = os.path.join(self.tmp.name, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.2)
        self.messages = []
        self.write(self.config(1))
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        self.log = open(os.path.join(self.tmp.name, "stderr.log"), "w+")
        self.proc = subprocess.Popen([ARGS.ringlb, "run", "-c", self.path], stdout=self.log,
                                     stderr=self.log, env=env)
        wait_for_port(self.ports[0], exited=self.proc.poll)

    def config(self, listeners, extra=""):
        text = f"""
[global]
workers = 2
watch_config = true
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{self.admin_port}"

[pools.app]
backends = ["127.0.0.1:{self.origin.port}"]
"""
        for i in range(listeners):
            text += f"""
[listeners.web{i}]
bind = "127.0.0.1:{self.ports[i]}"
mode = "http"
pool = "app"
"""
        return text + extra

    def write(self, text):
        with open(self.path, "w") as f:
            f.write(text)

    def stderr(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def read_notify(self):
        while True:
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except socket.timeout:
                return self.messages

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.origin.stop()
        self.notify.close()
        self.log.close()
        self.tmp.cleanup()


SETUP = None


def setup():
    global SETUP
    if SETUP is None:
        SETUP = Setup()
    return SETUP


def serves(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def reloads():
    with urllib.request.urlopen(f"http://127.0.0.1:{setup().admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("ringlb_reloads_total{"):
            result = line.split('result="')[1].split('"')[0]
            out[result] = float(line.rsplit(" ", 1)[1])
    return out


def test_systemd_hears_ready_once_the_listeners_accept():
    s = setup()
    wait_until(lambda: any("READY=1" in m for m in s.read_notify()), timeout=5,
               what="READY=1 on the notify socket")
    ready = [m for m in s.messages if "READY=1" in m][0]
    assert "STATUS=1 listeners, " in ready and "connections open" in ready, ready
    assert serves(s.ports[0])


def test_a_listener_added_by_editing_the_file_in_place_serves_within_3s():
    s = setup()
    before = reloads().get("ok", 0)
    start = time.monotonic()
    s.write(s.config(2))  # in place: open, truncate, write
    wait_until(lambda: serves(s.ports[1]), timeout=3 * SLOW, what="the second listener")
    took = time.monotonic() - start
    assert took < 3 * SLOW, took
    wait_until(lambda: reloads().get("ok", 0) == before + 1, timeout=5,
               what="one reload counted")
    assert "the config file changed (watch_config): reloading" in s.stderr()


def test_a_listener_added_by_rename_over_the_file_serves_within_3s():
    s = setup()
    tmp = s.path + ".new"
    with open(tmp, "w") as f:
        f.write(s.config(3))
    start = time.monotonic()
    os.replace(tmp, s.path)
    wait_until(lambda: serves(s.ports[2]), timeout=3 * SLOW, what="the third listener")
    assert time.monotonic() - start < 3 * SLOW


def test_a_broken_edit_is_refused_and_the_running_config_stays():
    s = setup()
    before = reloads().get("failed", 0)
    s.write(s.config(3) + "\n[listeners.bad]\nmode = \"nope\"\n")
    wait_until(lambda: reloads().get("failed", 0) == before + 1, timeout=5 * SLOW,
               what="the refused reload")
    assert "reload refused, the running config stays in force" in s.stderr()
    assert all(serves(p) for p in s.ports), "a listener stopped after a refused reload"
    s.write(s.config(3))  # fixed again: accepted (content differs from the broken one)


def test_sighup_tells_systemd_reloading_then_ready():
    s = setup()
    s.read_notify()
    s.messages.clear()
    s.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: sum("READY=1" in m for m in s.read_notify()) >= 1, timeout=5,
               what="READY=1 after the reload")
    kinds = ["RELOADING" if "RELOADING=1" in m else "READY" if "READY=1" in m else "other"
             for m in s.messages]
    assert kinds.index("RELOADING") < kinds.index("READY"), s.messages
    reloading = [m for m in s.messages if "RELOADING=1" in m][0]
    assert "MONOTONIC_USEC=" in reloading, reloading


def test_sigterm_tells_systemd_stopping_and_exits_0():
    s = setup()
    s.messages.clear()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0, s.stderr()
    msgs = s.read_notify()
    assert any("STOPPING=1" in m and "STATUS=draining" in m for m in msgs), msgs


if __name__ == "__main__":
    run_module(globals(), lambda: SETUP and SETUP.close())
