"""The command line contract (CONFIG.md): check, run failures, version, help."""

import os
import re
import socket
import subprocess
import tempfile

from harness import free_port, parse_args, run_module

ARGS = parse_args()
LINE = re.compile(r"^.+:\d+:\d+: .+$")


def ringlb(*args, timeout=20):
    return subprocess.run([ARGS.ringlb, *args], capture_output=True, text=True, timeout=timeout)


def write(text):
    fd, path = tempfile.mkstemp(suffix=".toml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


GOOD = """
[pools.p]
backends = ["127.0.0.1:9"]

[listeners.a]
bind = "127.0.0.1:{port}"
mode = "tcp"
pool = "p"
"""

BAD = """
[pools.p]
balanse = "round_robin"
backends = ["127.0.0.1:9"]

[listeners.a]
bind = "127.0.0.1:70000"
mode = "tcp"
pool = "missing"
"""


def test_version_and_help():
    r = ringlb("--version")
    assert r.returncode == 0 and r.stdout.startswith("ringlb "), r
    for args in (["--help"], ["run", "--help"], ["check", "--help"], ["demo", "--help"]):
        r = ringlb(*args)
        assert r.returncode == 0 and "Usage" in r.stdout, (args, r)


def test_check_accepts_a_valid_config():
    r = ringlb("check", "-c", write(GOOD.format(port=free_port())))
    assert r.returncode == 0, r
    assert r.stdout == "config OK\n"


def test_check_lists_every_problem_as_file_line_col_and_nothing_else():
    path = write(BAD)
    r = ringlb("check", "-c", path)
    assert r.returncode == 1, r
    lines = r.stdout.splitlines()
    assert len(lines) >= 3, lines
    for line in lines:
        assert LINE.match(line) and line.startswith(path), line
    text = r.stdout
    assert f"{path}:3:1:" in text and "balanse" in text and "did you mean" in text, text
    assert "\"missing\"" in text, text  # the undefined pool is named
    assert "70000" in text or "port" in text, text


def test_run_with_a_bad_config_prints_the_same_lines_and_exits_non_zero():
    path = write(BAD)
    check = ringlb("check", "-c", path)
    run = ringlb("run", "-c", path)
    assert run.returncode != 0
    assert run.stderr == check.stdout


def test_run_with_a_missing_file_says_so():
    r = ringlb("run", "-c", "/nonexistent/ringlb.toml")
    assert r.returncode != 0
    assert "/nonexistent/ringlb.toml" in r.stderr


def test_run_on_a_port_in_use_fails_with_one_line_naming_it():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        r = ringlb("run", "-c", write(GOOD.format(port=port)))
        assert r.returncode != 0
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], lines
    finally:
        holder.close()


if __name__ == "__main__":
    run_module(globals())
