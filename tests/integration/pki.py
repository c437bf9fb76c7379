"""Test certificates made with the openssl command: ECDSA P-256, valid for
two days, written as NAME.pem and NAME.key in a directory the test owns."""

import os
import subprocess

_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _openssl(d, *args):
    subprocess.run(["openssl", *args], check=True, cwd=d, capture_output=True, timeout=60)


def _paths(d, name):
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


def self_signed(d, name, cn, san=None):
    """A self-signed certificate (a server's, or a CA for signed()).
    san: a subjectAltName value ("DNS:a.test,IP:127.0.0.1"). Returns (pem, key)."""
    extra = ["-addext", f"subjectAltName={san}"] if san else []
    _openssl(d, "req", "-x509", *_KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem",
             "-days", "2", "-subj", f"/CN={cn}", *extra)
    return _paths(d, name)


def signed(d, name, cn, issuer, san=None, extra=()):
    """A certificate for cn (and san) signed by issuer, the name of a
    self_signed() certificate in d; extra: more `openssl req` arguments.
    Returns (pem, key)."""
    sans = ["-addext", f"subjectAltName={san}"] if san else []
    _openssl(d, "req", *_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={cn}", *sans, *extra)
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey",
             f"{issuer}.key", "-CAcreateserial", "-days", "2", "-copy_extensions", "copy",
             "-out", f"{name}.pem")
    return _paths(d, name)
