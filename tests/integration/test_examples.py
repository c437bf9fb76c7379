"""examples/*.toml work as their headers say.

Every example passes `ringlb check`. Each one's leading comment block lists, indented by
three spaces, the commands to type from the top of the repo:

    #   python3 examples/backends.py PORT... udp:PORT...     (stand-in backends)
    #   build/ringlb check -c examples/NAME.toml
    #   build/ringlb run -c examples/NAME.toml
    #   curl ...  /  echo ... | nc ...                         (what to try)

This test runs exactly those: it starts the backends, then ringlb on the example file as it
is, then every try line (curl gets --fail, so an error status fails it); each must exit 0
and print something. It also checks that every loopback backend of the example has a
stand-in in the backends line.

The examples use fixed ports (they are meant to be typed by people). When one of an
example's ports is taken (a `ringlb demo`, another checkout's test, a developer's server),
that example's run is skipped with a message naming the port; its check still runs. Nothing
here uses ports from the ephemeral range, so the other tests (which do) cannot collide."""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from harness import parse_args, run_tests, wait_for_port, wait_until

ARGS = parse_args()
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.toml"))
COMMAND = re.compile(r"^#   (\S.*)$")


def header_commands(path):
    """The indented command lines of the file's leading comment block."""
    commands = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        m = COMMAND.match(line)
        if m:
            commands.append(m.group(1).strip())
    return commands


class Plan:
    """What an example's header says to do."""

    def __init__(self, path):
        self.path = path
        self.rel = f"examples/{path.name}"
        self.backend_args = None
        self.check = self.run = False
        self.tries = []
        for cmd in header_commands(path):
            words = shlex.split(cmd)
            if words[:2] == ["python3", "examples/backends.py"]:
                assert self.backend_args is None, f"{self.rel}: two backends.py lines"
                self.backend_args = words[2:]
            elif words[:2] == ["build/ringlb", "check"]:
                assert words[2:] == ["-c", self.rel], f"{self.rel}: header says: {cmd}"
                self.check = True
            elif words[:2] == ["build/ringlb", "run"]:
                assert words[2:] == ["-c", self.rel], f"{self.rel}: header says: {cmd}"
                self.run = True
            else:
                self.tries.append(cmd)
        self.config = tomllib.loads(path.read_text())

    def backend_ports(self):
        """(tcp ports, udp ports) that the backends line starts."""
        tcp, udp = set(), set()
        for arg in self.backend_args or []:
            if arg.startswith("udp:"):
                udp.add(int(arg[4:]))
            else:
                tcp.add(int(arg))
        return tcp, udp

    def listen_ports(self):
        """(tcp ports, udp ports) that ringlb binds for this example."""
        tcp, udp = set(), set()
        admin = self.config.get("admin")
        if admin:
            tcp.add(port_of(admin["bind"]))
        for listener in self.config.get("listeners", {}).values():
            (udp if listener.get("mode") == "udp" else tcp).add(port_of(listener["bind"]))
        return tcp, udp

    def loopback_backends(self):
        """(tcp ports, udp ports) of the example's loopback backends, by the listeners
        that use each pool."""
        udp_pools = {l["pool"] for l in self.config.get("listeners", {}).values()
                     if l.get("mode") == "udp"}
        tcp_pools = {l["pool"] for l in self.config.get("listeners", {}).values()
                     if l.get("mode") != "udp" and "pool" in l}
        for l in self.config.get("listeners", {}).values():
            tcp_pools.update(r["pool"] for r in l.get("routes", []) if "pool" in r)
        tcp, udp = set(), set()
        for name, pool in self.config.get("pools", {}).items():
            for b in pool.get("backends", []):
                address = b if isinstance(b, str) else b["address"]
                host, _, port = address.rpartition(":")
                if host not in ("127.0.0.1", "localhost"):
                    continue
                if name in tcp_pools:
                    tcp.add(int(port))
                if name in udp_pools:
                    udp.add(int(port))
        return tcp, udp


def port_of(address):
    return int(address.rpartition(":")[2])


def port_taken(port, kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def taken_ports(plan):
    tcp, udp = plan.listen_ports()
    btcp, budp = plan.backend_ports()
    taken = [f"{p}/tcp" for p in sorted(tcp | btcp) if port_taken(p, socket.SOCK_STREAM)]
    taken += [f"{p}/udp" for p in sorted(udp | budp) if port_taken(p, socket.SOCK_DGRAM)]
    return taken


def test_every_example_passes_check():
    assert EXAMPLES, "no examples/*.toml"
    for path in EXAMPLES:
        r = subprocess.run([ARGS.ringlb, "check", "-c", f"examples/{path.name}"], cwd=REPO,
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0 and r.stdout == "config OK\n", (path.name, r)


def test_every_header_says_how_to_run_it():
    for path in EXAMPLES:
        plan = Plan(path)
        assert plan.check and plan.run and plan.tries, \
            f"{plan.rel}: the header lacks the check, run or try command lines"
        need_tcp, need_udp = plan.loopback_backends()
        have_tcp, have_udp = plan.backend_ports()
        missing = [f"{p}" for p in sorted(need_tcp - have_tcp)]
        missing += [f"udp:{p}" for p in sorted(need_udp - have_udp)]
        assert not missing, f"{plan.rel}: no stand-in backend for {missing} in the header"


class Processes:
    """Started processes, each stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="ringlb-examples-")
        self.procs = []

    def start(self, name, argv):
        log = open(os.path.join(self.dir.name, name + ".log"), "w+")
        proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        return proc, log

    @staticmethod
    def text(log):
        log.flush()
        log.seek(0)
        return log.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for _, log in self.procs:
            log.close()
        self.dir.cleanup()


def skip(plan, why):
    print(f"SKIP run of {plan.rel}: {why}", flush=True)


def run_example(path):
    plan = Plan(path)
    taken = taken_ports(plan)
    if taken:
        return skip(plan, f"port(s) {', '.join(taken)} in use on 127.0.0.1")
    with Processes() as procs:
        if plan.backend_args:
            proc, log = procs.start("backends", [sys.executable, "examples/backends.py",
                                                 *plan.backend_args])
            wait_until(lambda: proc.poll() is not None or "ready" in procs.text(log),
                       what="backends.py ready")
            if proc.poll() is not None:
                out = procs.text(log)
                if "in use" in out:
                    return skip(plan, out.strip())
                raise AssertionError(f"backends.py exited: {out}")
        proc, log = procs.start("ringlb", [ARGS.ringlb, "run", "-c", plan.rel])
        # Started: it says so (at log_level info or debug), or every TCP port accepts (UDP
        # listeners have nothing to poll), or it exited.
        tcp_ports = sorted(plan.listen_ports()[0])
        wait_until(lambda: proc.poll() is not None or " started: " in procs.text(log)
                   or (tcp_ports and all(accepts(p) for p in tcp_ports)),
                   what=f"ringlb started on {plan.rel}")
        if proc.poll() is not None:
            out = procs.text(log)
            if "in use" in out:
                return skip(plan, out.strip())
            raise AssertionError(f"ringlb run -c {plan.rel} exited: {out}")
        for port in tcp_ports:
            wait_for_port(port)
        for cmd in plan.tries:
            shell = re.sub(r"^curl ", "curl --fail --silent --show-error --max-time 5 ", cmd)
            r = subprocess.run(["sh", "-c", shell], cwd=REPO, capture_output=True, text=True,
                               timeout=20)
            assert r.returncode == 0 and r.stdout.strip(), \
                (plan.rel, cmd, r, procs.text(log)[-3000:])
            print(f"  {plan.rel}: {cmd} -> {r.stdout.strip().splitlines()[0][:80]}", flush=True)
        assert proc.poll() is None, procs.text(log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, procs.text(log)


def main():
    tests = [("test_every_example_passes_check", test_every_example_passes_check),
             ("test_every_header_says_how_to_run_it", test_every_header_says_how_to_run_it)]
    for path in EXAMPLES:
        tests.append((f"test_run_{path.stem}", lambda p=path: run_example(p)))
    run_tests(tests)


if __name__ == "__main__":
    main()
