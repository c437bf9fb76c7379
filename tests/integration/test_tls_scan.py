"""sslscan against TLS listeners (http and tcp, RSA and ECDSA certificates):
nothing below TLS 1.2, and every accepted cipher forward-secret AEAD of at
least 128 bits; no compression, no renegotiation, no Heartbleed."""

import os
import re
import shutil
import subprocess
import sys

from harness import EchoServer, Ringlb, free_port, parse_args, run_module

ARGS = parse_args()
if shutil.which("sslscan") is None:
    print("SKIP: sslscan is not installed (.ci/install-deps.sh installs it)")
    sys.exit(77)

CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "certs")
ECHO = EchoServer()
WEB, STREAM = free_port(), free_port()
TLS = f"""certificates = [
  {{ cert = "{CERTS}/demo.pem", key = "{CERTS}/demo.key" }},
  {{ cert = "{CERTS}/demo-admin.pem", key = "{CERTS}/demo-admin.key" }},
]"""
LB = Ringlb(ARGS.ringlb, f"""
[pools.echo]
backends = ["127.0.0.1:{ECHO.port}"]

[listeners.web]
bind = "127.0.0.1:{WEB}"
mode = "http"
pool = "echo"
[listeners.web.tls]
{TLS}

[listeners.stream]
bind = "127.0.0.1:{STREAM}"
mode = "tcp"
pool = "echo"
[listeners.stream.tls]
{TLS}
""", [WEB, STREAM])

# Forward secrecy (ECDHE, or TLS 1.3's suites) with an AEAD.
GOOD_CIPHER = re.compile(r"^(TLS_(AES_128_GCM|AES_256_GCM|CHACHA20_POLY1305)_SHA\d+|"
                         r"ECDHE-(RSA|ECDSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|"
                         r"CHACHA20-POLY1305))$")


def scan(port, sni):
    r = subprocess.run(["sslscan", "--no-colour", f"--sni-name={sni}", f"127.0.0.1:{port}"],
                       capture_output=True, timeout=120)
    return r.stdout.decode(errors="replace")


def check(out):
    for old in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
        assert re.search(rf"^{re.escape(old)}\s+disabled", out, re.M), f"{old} not disabled:\n{out}"
    for current in ("TLSv1.2", "TLSv1.3"):
        assert re.search(rf"^{re.escape(current)}\s+enabled", out, re.M), out
    accepted = re.findall(r"^(?:Preferred|Accepted)\s+(TLSv1\.[23])\s+(\d+) bits\s+(\S+)", out,
                          re.M)
    assert accepted, out
    for version, bits, cipher in accepted:
        assert int(bits) >= 128, (version, bits, cipher)
        assert GOOD_CIPHER.match(cipher), f"weak or unexpected cipher {cipher} ({version})"
    assert "Compression disabled" in out or "does not support compression" in out, out
    assert "not vulnerable to heartbleed" in out, out
    assert "Session renegotiation not supported" in out, out
    return len(accepted)


def test_the_http_listener_offers_only_tls_1_2_and_1_3_with_strong_ciphers():
    assert check(scan(WEB, "app.example.com")) >= 4  # RSA certificate


def test_the_ecdsa_certificate_gets_the_same_policy():
    assert check(scan(WEB, "admin.example.org")) >= 4


def test_a_tcp_listener_offers_the_same():
    check(scan(STREAM, "app.example.com"))


def test_zz_clean_exit():
    assert LB.stop() == 0


if __name__ == "__main__":
    run_module(globals(), LB.close, ECHO.stop)
