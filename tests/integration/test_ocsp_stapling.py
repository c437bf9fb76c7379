"""OCSP stapling: a certificate's `ocsp` response reaches clients that ask
(openssl s_client -status), a SIGHUP picks up a new response file and a
renewed certificate with no request failing meanwhile, and `ringlb check`
refuses a file that is no OCSP response or is about another certificate."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import pki
from harness import EchoServer, Ringlb, free_port, parse_args, run_module, wait_until

ARGS = parse_args()
PKI = tempfile.TemporaryDirectory()
D = PKI.name


def sh(*cmd):
    return subprocess.run(cmd, check=True, cwd=D, capture_output=True)


def make_pki():
    pki.self_signed(D, "ca", "ringlb OCSP test CA")
    for name in ("a", "renewed", "other"):
        pki.signed(D, name, "a.test", "ca", san="DNS:a.test")


def ocsp_response(cert, out, status="V"):
    """A response for `cert` signed by the CA: status V (good) or R (revoked)."""
    serial = sh("openssl", "x509", "-in", cert, "-noout", "-serial").stdout.decode().split("=")[1]
    revoked = "260101000000Z" if status == "R" else ""
    with open(os.path.join(D, "index.txt"), "w") as f:
        f.write(f"{status}\t350101000000Z\t{revoked}\t{serial.strip()}\tunknown\t/CN=a.test\n")
    sh("openssl", "ocsp", "-index", "index.txt", "-rsigner", "ca.pem", "-rkey", "ca.key",
       "-CA", "ca.pem", "-issuer", "ca.pem", "-cert", cert, "-ndays", "1", "-respout", out)
    return os.path.join(D, out)


make_pki()
GOOD = ocsp_response("a.pem", "good.der")
REVOKED = ocsp_response("a.pem", "revoked.der", "R")
RENEWED_GOOD = ocsp_response("renewed.pem", "renewed.der")
OTHER = ocsp_response("other.pem", "other.der")
# The files the config names: replaced in place for the reload test.
for src, dst in (("a.pem", "live.pem"), ("a.key", "live.key"), (GOOD, "live.der")):
    shutil.copy(os.path.join(D, src), os.path.join(D, dst))

PORT = free_port()
ECHO = EchoServer()


def config(ocsp="live.der"):
    return f"""
[global]
workers = 2

[pools.echo]
backends = ["127.0.0.1:{ECHO.port}"]

[listeners.secure]
bind = "127.0.0.1:{PORT}"
mode = "tcp"
pool = "echo"
[listeners.secure.tls]
certificates = [{{ cert = "{D}/live.pem", key = "{D}/live.key", ocsp = "{D}/{ocsp}" }}]
"""


LB = Ringlb(ARGS.ringlb, config(), [PORT])


def s_client_status():
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{PORT}", "-servername",
                        "a.test", "-CAfile", os.path.join(D, "ca.pem"), "-status"],
                       input=b"", capture_output=True, timeout=30)
    return r.stdout.decode(errors="replace")


def reload_and_wait():
    before = LB.stderr().count("reload done")
    LB.reload()
    wait_until(lambda: LB.stderr().count("reload done") > before, what="the reload")


def test_a_client_that_asks_gets_the_stapled_response():
    out = s_client_status()
    assert "OCSP Response Status: successful" in out, out
    assert "Cert Status: good" in out, out


def test_a_client_that_does_not_ask_gets_none():
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{PORT}", "-servername",
                        "a.test"], input=b"", capture_output=True, timeout=30)
    assert "OCSP response:" not in r.stdout.decode(errors="replace")


def test_sighup_staples_the_new_response_and_a_renewed_certificate_with_no_failure():
    failures, done, exchanges = [], threading.Event(), [0]
    ctx = ssl.create_default_context(cafile=os.path.join(D, "ca.pem"))

    def load():  # new TLS connections, each a request and its answer through the echo
        while not done.is_set():
            try:
                raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
                with ctx.wrap_socket(raw, server_hostname="a.test") as s:
                    s.sendall(b"ping")
                    if s.recv(4) != b"ping":
                        failures.append("no echo")
                    exchanges[0] += 1
            except (OSError, ssl.SSLError) as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        shutil.copy(REVOKED, os.path.join(D, "live.der"))
        reload_and_wait()
        wait_until(lambda: "Cert Status: revoked" in s_client_status(), what="the new staple")
        # A renewed certificate, key and response, swapped in place.
        for src, dst in (("renewed.pem", "live.pem"), ("renewed.key", "live.key"),
                         (RENEWED_GOOD, "live.der")):
            shutil.copy(os.path.join(D, src), os.path.join(D, dst))
        reload_and_wait()
        serial = sh("openssl", "x509", "-in", "renewed.pem", "-noout", "-serial").stdout.decode()
        wait_until(lambda: "Cert Status: good" in s_client_status(), what="the renewed staple")
        served = subprocess.run(
            f"openssl s_client -connect 127.0.0.1:{PORT} -servername a.test </dev/null "
            "| openssl x509 -noout -serial", shell=True, capture_output=True, timeout=30)
        assert served.stdout.decode() == serial, (served.stdout, serial)
    finally:
        done.set()
        for t in threads:
            t.join(30)
    assert exchanges[0] > 0
    assert not failures, f"{len(failures)} of {exchanges[0]} exchanges failed: {failures[:3]}"


def test_check_refuses_a_file_that_is_no_response_or_is_about_another_certificate():
    with open(os.path.join(D, "garbage.der"), "wb") as f:
        f.write(b"not DER at all")
    for name, expected in (("garbage.der", "is not a DER OCSP response"),
                           ("other.der", "is not about certificate")):
        path = os.path.join(D, f"check-{name}.toml")
        with open(path, "w") as f:
            f.write(config(name))
        r = subprocess.run([ARGS.ringlb, "check", "-c", path], capture_output=True, timeout=30)
        said = (r.stdout + r.stderr).decode()
        assert r.returncode != 0, name
        assert expected in said and ".ocsp" in said, said


def test_zz_clean_exit():
    assert LB.stop() == 0


if __name__ == "__main__":
    run_module(globals(), LB.close, ECHO.stop)
