"""The per-route API gateway phases of an http listener, end to end against the
real binary (2 workers, a plain listener with protocols = ["h2c", "http/1.1"]):

- compress: gzip, zstd and br bodies decoded by the real `gzip`, `zstd` and
  `brotli` tools equal the backend's bytes; Accept-Encoding q-values and the
  route's order pick the coding; every "never compress" rule (HEAD, 204, 304,
  206, an encoded body, no-transform, an unlisted type, a small body, an
  HTTP/1.0 client) leaves the body alone; a strong ETag is weakened; a
  compressed stream delivers each piece the backend sent before the next one
  exists (the backend holds the second piece until the client decoded the
  first); the same over HTTP/2.
- cors: preflights are answered at the edge (allowed, refused origin, method,
  header), never reaching the backend; actual answers get
  Access-Control-Allow-Origin for listed origins and always Vary: Origin.
- auth basic (bcrypt, SHA-512-crypt, yescrypt made here), api_key (SHA-256
  digests), jwt (HS256/RS256/ES256 signed here; expired, not yet valid, wrong
  iss/aud, bad signature, alg none, algorithm confusion, unknown kid and
  malformed tokens refused); 401 challenges, the auth failure metric by
  reason, the access log's user/auth_failure, a users file re-read on SIGHUP,
  `ringlb check` naming a plain-text line as FILE:LINE.
- rate_limit: per source address, per header value, and one bucket for the
  route shared by both workers (its accuracy is measured under ~2x the rate
  from 16 keep-alive connections); 429 + Retry-After, the metric, the log.
- order: an unauthenticated request is refused before the rate limit counts
  it; a preflight on an auth route needs no credentials.

The backend is a harness.ScriptedServer that echoes each request head as JSON
and serves fixed bodies. Every wait polls a condition and is bounded; every
command has a timeout."""

import base64
import gzip
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib

from harness import (ScriptedServer, free_port, is_sanitized, metrics_text, parse_args,
                     read_http_request, read_http_response, run_module, start_ringlb, wait_until)

ARGS = parse_args()
for tool in ("curl", "gzip", "zstd", "brotli", "openssl"):
    if shutil.which(tool) is None:
        print(f"SKIP: {tool} is not installed")
        sys.exit(77)
if "HTTP2" not in subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout:
    print("SKIP: this curl was built without HTTP/2")
    sys.exit(77)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt  # deprecated in 3.11, gone in 3.13: the htpasswd hashes are made with it
    except ImportError:
        crypt = None
if crypt is None:
    print("SKIP: python's crypt module is missing (needed to make bcrypt and yescrypt hashes)")
    sys.exit(77)
try:
    if os.environ.get("RINGLB_TEST_JWT_OPENSSL"):  # force the openssl CLI path
        raise ImportError
    from cryptography.hazmat.primitives import hashes as c_hashes
    from cryptography.hazmat.primitives import serialization as c_ser
    from cryptography.hazmat.primitives.asymmetric import ec as c_ec
    from cryptography.hazmat.primitives.asymmetric import padding as c_padding
    from cryptography.hazmat.primitives.asymmetric import rsa as c_rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    HAVE_CRYPTOGRAPHY = True
except ImportError:
    HAVE_CRYPTOGRAPHY = False

# Another engineer may be rebuilding the binary: wait for it to be back.
wait_until(lambda: os.access(ARGS.ringlb, os.X_OK), timeout=120, what=f"{ARGS.ringlb} to exist")
SLOW = 3 if is_sanitized(ARGS.ringlb) else 1
TMP = tempfile.TemporaryDirectory(prefix="ringlb-gateway-")
ACCESS_LOG = os.path.join(TMP.name, "access.log")


def tmp_path(name):
    return os.path.join(TMP.name, name)


def write_file(name, data):
    path = tmp_path(name)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


# ---------------------------------------------------------------- bodies the backend serves

def _big_json():
    records, size, i = [], 0, 0
    while size < 300 * 1024:
        rec = {"id": i, "name": f"user-{i}", "email": f"user{i}@example.com",
               "tags": ["alpha", "beta", "gamma"][: 1 + i % 3], "score": (i * 7919) % 1000,
               "active": i % 2 == 0}
        records.append(rec)
        size += len(json.dumps(rec)) + 2
        i += 1
    return json.dumps(records, indent=1).encode()


BIG_JSON = _big_json()  # ~300 KiB of compressible JSON
BIG_TEXT = b"".join(b"line %06d: the quick brown fox jumps over the lazy dog\n" % i
                    for i in range(6000))
SMALL = b"s" * 99 + b"\n"  # 100 bytes
PRE_GZIPPED = gzip.compress(BIG_JSON, mtime=0)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 50000
SSE_PART1 = b"".join(b"data: first event, padding %04d\n" % i for i in range(80)) + b"\n"
SSE_PART2 = b"data: second event\n\n"
SSE_RELEASE = threading.Event()  # the backend sends /sse's second piece once this is set
SSE_TIMES = {}


def sha(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- the backend

def _send(conn, status, reason, headers, body, head_only=False, length=True):
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else body))


def backend_script(conn, rfile, server):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        req = read_http_request(rfile)
        if req is None:
            return
        note = {"method": req.method, "path": req.target,
                "headers": [list(h) for h in req.headers], "time": time.monotonic()}
        server.note(note)
        name = req.target.split("?", 1)[0].rsplit("/", 1)[-1]
        head = req.method == "HEAD"
        if name == "big.json":
            _send(conn, 200, "OK", [("Content-Type", "application/json")], BIG_JSON, head)
        elif name == "small":
            _send(conn, 200, "OK", [("Content-Type", "text/plain")], SMALL, head)
        elif name == "nt":
            _send(conn, 200, "OK", [("Content-Type", "text/plain"),
                                    ("Cache-Control", "public, no-transform")], BIG_TEXT, head)
        elif name == "enc":
            _send(conn, 200, "OK", [("Content-Type", "application/json"),
                                    ("Content-Encoding", "gzip")], PRE_GZIPPED, head)
        elif name == "range":
            part = BIG_JSON[:5000]
            _send(conn, 206, "Partial Content",
                  [("Content-Type", "application/json"),
                   ("Content-Range", f"bytes 0-4999/{len(BIG_JSON)}")], part, head)
        elif name == "nocontent":
            _send(conn, 204, "No Content", [("Content-Type", "text/plain")], b"", True, False)
        elif name == "etag":
            if '"abc"' in (req.header("if-none-match") or ""):
                _send(conn, 304, "Not Modified", [("ETag", '"abc"')], b"", True, False)
            else:
                _send(conn, 200, "OK", [("Content-Type", "application/json"), ("ETag", '"abc"')],
                      BIG_JSON, head)
        elif name == "notype":
            _send(conn, 200, "OK", [], BIG_TEXT, head)
        elif name == "acao":
            _send(conn, 200, "OK", [("Content-Type", "text/plain"),
                                    ("Access-Control-Allow-Origin", "*")], SMALL, head)
        elif name == "png":
            _send(conn, 200, "OK", [("Content-Type", "image/png")], PNG, head)
        elif name == "chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            if not head:
                for i in range(0, len(BIG_TEXT), 16384):
                    piece = BIG_TEXT[i:i + 16384]
                    conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                conn.sendall(b"0\r\n\r\n")
        elif name == "sse":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
            # Stamped before the send: the client may decode part 1 before this
            # thread runs again after sendall().
            SSE_TIMES["part1_sent"] = time.monotonic()
            conn.sendall(b"%x\r\n" % len(SSE_PART1) + SSE_PART1 + b"\r\n")
            SSE_TIMES["released"] = SSE_RELEASE.wait(8)  # the test's reader lets it go
            SSE_TIMES["part2_sent"] = time.monotonic()
            conn.sendall(b"%x\r\n" % len(SSE_PART2) + SSE_PART2 + b"\r\n0\r\n\r\n")
        else:
            body = json.dumps(note).encode()
            _send(conn, 200, "OK", [("Content-Type", "application/json")], body, head)
        if (req.header("connection") or "").lower() == "close":
            return


BACKEND = ScriptedServer(backend_script, backlog=512)


def notes_under(prefix):
    with BACKEND.lock:
        return [n for n in BACKEND.notes if n["path"].startswith(prefix)]


def header_values(note, name):
    return [v for k, v in note["headers"] if k.lower() == name.lower()]


# ---------------------------------------------------------------- credentials

def _salt(n=16):
    return "".join(random.choice(string.ascii_letters + string.digits + "./") for _ in range(n))


def _crypt(password, salt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return crypt.crypt(password, salt)


def bcrypt_hash(password):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # rounds=16 is cost 04: quick to verify, still real bcrypt
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    assert h and h.startswith("$2b$04$"), f"libcrypt made no bcrypt hash: {h!r}"
    return h


def sha512_crypt_hash(password):
    r = subprocess.run(["openssl", "passwd", "-6", "-salt", _salt(16), password],
                       capture_output=True, text=True, timeout=20, check=True)
    h = r.stdout.strip()
    assert h.startswith("$6$"), h
    return h


def yescrypt_hash(password):
    h = _crypt(password, "$y$j9T$" + _salt(16))
    if not h or not h.startswith("$y$"):
        if shutil.which("mkpasswd"):
            r = subprocess.run(["mkpasswd", "-m", "yescrypt", password], capture_output=True,
                               text=True, timeout=20)
            h = r.stdout.strip()
    return h if h and h.startswith("$y$") else None


PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw"}
HASHES = {"alice": bcrypt_hash(PASSWORDS["alice"]),
          "bob": sha512_crypt_hash(PASSWORDS["bob"]),
          "dave": "$2y$" + bcrypt_hash(PASSWORDS["dave"])[4:]}  # the same scheme spelled $2y$
_yes = yescrypt_hash(PASSWORDS["carol"])
if _yes:
    HASHES["carol"] = _yes
else:
    print("note: no yescrypt hash could be made here (libcrypt, mkpasswd); carol is left out")


def users_text(hashes):
    return "# made by test_gateway.py\n\n" + "".join(f"{u}:{h}\n" for u, h in hashes.items())


USERS_FILE = write_file("users.htpasswd", users_text(HASHES))

API_KEYS = {"alice-app": "key-alice-0123456789", None: "key-anonymous-abcdef"}
KEYS_FILE = write_file("keys.txt", "# sha256 digests of keys\n"
                       f"alice-app:{sha(API_KEYS['alice-app'].encode())}\n\n"
                       f"{sha(API_KEYS[None].encode())}\n")


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr.decode(errors='replace')}"
    return r.stdout


def _der_ecdsa_to_raw(der):
    """ECDSA-Sig-Value (SEQUENCE of two INTEGERs) to r||s, 32 bytes each."""
    assert der[0] == 0x30, der.hex()
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02, der.hex()
        n = der[i + 1]
        out += int.from_bytes(der[i + 2:i + 2 + n], "big").to_bytes(32, "big")
        i += 2 + n
    return out


class SigningKeys:
    """An HS256 secret, an RSA-2048 and an EC P-256 key pair: signs JWTs and
    gives the JWKS of their public halves. Uses the cryptography package when
    present, else the openssl command."""

    def __init__(self):
        self.hs_secret = os.urandom(32)
        if HAVE_CRYPTOGRAPHY:
            self._rsa = c_rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self._ec = c_ec.generate_private_key(c_ec.SECP256R1())
            pub = self._rsa.public_key()
            nums = pub.public_numbers()
            self.rsa_n, self.rsa_e = nums.n, nums.e
            self.rsa_public_pem = pub.public_bytes(c_ser.Encoding.PEM,
                                                   c_ser.PublicFormat.SubjectPublicKeyInfo)
            ec_nums = self._ec.public_key().public_numbers()
            self.ec_x, self.ec_y = ec_nums.x.to_bytes(32, "big"), ec_nums.y.to_bytes(32, "big")
        else:
            self._rsa_pem = tmp_path("rsa.key")
            self._ec_pem = tmp_path("ec.key")
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                     "-out", self._rsa_pem)
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", self._ec_pem)
            self.rsa_public_pem = _openssl("pkey", "-in", self._rsa_pem, "-pubout")
            modulus = _openssl("rsa", "-in", self._rsa_pem, "-noout", "-modulus").decode()
            self.rsa_n, self.rsa_e = int(modulus.strip().split("=", 1)[1], 16), 65537
            der = _openssl("pkey", "-in", self._ec_pem, "-pubout", "-outform", "DER")
            point = der[-65:]
            assert point[0] == 4, der.hex()
            self.ec_x, self.ec_y = point[1:33], point[33:]

    def hs256(self, data, secret=None):
        return hmac.new(secret or self.hs_secret, data, hashlib.sha256).digest()

    def rs256(self, data):
        if HAVE_CRYPTOGRAPHY:
            return self._rsa.sign(data, c_padding.PKCS1v15(), c_hashes.SHA256())
        return _openssl("dgst", "-sha256", "-sign", self._rsa_pem, data=data)

    def es256(self, data):
        if HAVE_CRYPTOGRAPHY:
            r, s = decode_dss_signature(self._ec.sign(data, c_ec.ECDSA(c_hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return _der_ecdsa_to_raw(_openssl("dgst", "-sha256", "-sign", self._ec_pem, data=data))

    def jwks(self):
        n_bytes = self.rsa_n.to_bytes((self.rsa_n.bit_length() + 7) // 8, "big")
        e_bytes = self.rsa_e.to_bytes((self.rsa_e.bit_length() + 7) // 8, "big")
        return {"keys": [
            {"kty": "oct", "kid": "hs", "alg": "HS256", "k": b64u(self.hs_secret)},
            {"kty": "RSA", "kid": "rs", "use": "sig", "n": b64u(n_bytes), "e": b64u(e_bytes)},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": b64u(self.ec_x), "y": b64u(self.ec_y)},
        ]}


KEYS = SigningKeys()
JWKS_FILE = write_file("jwks.json", json.dumps(KEYS.jwks()))
ISSUER, AUDIENCE = "https://id.example.test", "api"


def jwt(alg="HS256", kid="hs", claims=None, sign=None, header_extra=None, **overrides):
    """A signed token; claims default to a valid one for the jwt route (overrides
    replace or, with None, drop single claims)."""
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "email": "u42@example.test",
               "iat": now, "nbf": now - 5, "exp": now + 300}
    if claims is not None:
        payload = claims
    for k, v in overrides.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    header = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    header.update(header_extra or {})
    signing_input = (b64u(json.dumps(header).encode()) + "." +
                     b64u(json.dumps(payload).encode())).encode()
    if sign is None:
        sign = {"HS256": KEYS.hs256, "RS256": KEYS.rs256, "ES256": KEYS.es256}[alg]
    return signing_input.decode() + "." + b64u(sign(signing_input))


# ---------------------------------------------------------------- ringlb

PORT, ADMIN = free_port(), free_port()
COMPRESS = ('{ algorithms = ["zstd", "br", "gzip"], min_size = 1024, '
            'types = ["text/*", "application/json"] }')
CORS = ('{ origins = ["https://app.example.com", "http://localhost:3000"], '
        'methods = ["GET", "POST", "PUT"], headers = ["Content-Type", "X-Custom"], '
        'max_age = "10m", credentials = false }')
ROUTES = [  # (path_prefix, extra keys); the metrics name them "routes[N]" in this order
    ("/c/", f"compress = {COMPRESS}"),
    ("/cors/", f"cors = {CORS}"),
    ("/basic/", f'auth = {{ type = "basic", users_file = "{USERS_FILE}", realm = "staff" }}'),
    ("/key/", f'auth = {{ type = "api_key", keys_file = "{KEYS_FILE}", header = "X-API-Key", '
              f'realm = "keys" }}'),
    ("/jwt/", f'auth = {{ type = "jwt", jwks_file = "{JWKS_FILE}", issuer = "{ISSUER}", '
              f'audience = "{AUDIENCE}", realm = "tokens", '
              f'claims_to_headers = {{ sub = "X-User", email = "X-Email" }} }}'),
    ("/rl/", 'rate_limit = { requests = 5, per = "1s", burst = 5, key = "source_ip" }'),
    ("/tenant/", 'rate_limit = { requests = 3, per = "1m", burst = 3, key = "header:X-Tenant" }'),
    ("/rlroute/", 'rate_limit = { requests = 200, per = "1s", burst = 20, key = "route" }'),
    ("/order/", f'auth = {{ type = "basic", users_file = "{USERS_FILE}", realm = "order" }}\n'
                'rate_limit = { requests = 3, per = "1m", burst = 3, key = "source_ip" }\n'
                f"cors = {CORS}"),
]


def route_label(prefix):
    return f"routes[{[p for p, _ in ROUTES].index(prefix)}]"


CONFIG = f"""
[global]
workers = 2
drain_timeout = "2s"
access_log = "{ACCESS_LOG}"

[admin]
bind = "127.0.0.1:{ADMIN}"

[pools.app]
backends = ["{BACKEND.address}"]

[listeners.web]
bind = "127.0.0.1:{PORT}"
mode = "http"
pool = "app"
protocols = ["h2c", "http/1.1"]
""" + "".join(f"""
[[listeners.web.routes]]
path_prefix = "{prefix}"
pool = "app"
{extra}
""" for prefix, extra in ROUTES)


def ringlb_check(text, name):
    path = tmp_path(f"{name}.toml")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([ARGS.ringlb, "check", "-c", path], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout + r.stderr


_code, _out = ringlb_check(CONFIG, "main")
if _code != 0:
    print(f"FAIL: `ringlb check` rejects the gateway test config (exit {_code}):\n{_out}\n"
          f"--- config ---\n{CONFIG}", flush=True)
    sys.exit(1)
LB = start_ringlb(ARGS.ringlb, CONFIG, ports=[PORT, ADMIN])


# ---------------------------------------------------------------- clients

class Resp:
    """status, headers (list of (lower-case name, value)), body, version."""

    def __init__(self, status, headers, body, version="1.1"):
        self.status, self.headers, self.body, self.version = status, headers, body, version

    def values(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def header(self, name, default=None):
        found = self.values(name)
        return found[0] if found else default

    def tokens(self, name):
        """The comma-separated tokens of every `name` field, lower-cased."""
        return [t.strip().lower() for v in self.values(name) for t in v.split(",") if t.strip()]

    def __repr__(self):
        return f"<{self.status} HTTP/{self.version} {self.headers} body[{len(self.body)}]={self.body[:120]!r}>"


def curl(path, *extra, h2=False, timeout=20):
    """One curl run (one URL: curl 7.88 breaks on a second prior-knowledge URL)."""
    hdr, out = tmp_path("curl.head"), tmp_path("curl.body")
    for p in (hdr, out):
        if os.path.exists(p):
            os.unlink(p)
    cmd = ["curl", "-sS", "--max-time", str(timeout * SLOW), "-D", hdr, "-o", out,
           "-w", "%{http_code} %{http_version}"]
    if h2:
        cmd.append("--http2-prior-knowledge")
    cmd += [*extra, f"http://127.0.0.1:{PORT}{path}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * SLOW + 10)
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}: {r.stderr}"
    status, version = r.stdout.split()
    with open(hdr, "rb") as f:
        blocks = [b for b in f.read().decode("latin-1").split("\r\n\r\n") if b.strip()]
    headers = []
    for line in blocks[-1].split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
    body = b""
    if os.path.exists(out):
        with open(out, "rb") as f:
            body = f.read()
    return Resp(int(status), headers, body, version)


class Client:
    """A keep-alive HTTP/1.1 client on a raw socket from a chosen source address."""

    def __init__(self, source="127.0.0.1"):
        self.source, self.sock = source, None

    def connect(self):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=10,
                                                 source_address=(self.source, 0))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, headers=(), timeout=10.0):
        for attempt in range(2):
            self.connect()
            head = f"{method} {path} HTTP/1.1\r\nHost: gw.test\r\n" + \
                "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
            try:
                self.sock.sendall(head.encode("latin-1"))
            except OSError:
                self.close()
                continue
            r = read_http_response(self.sock, timeout=timeout * SLOW, head_only=method == "HEAD")
            if r.status is None and r.closed and not r.rest and attempt == 0:
                self.close()  # a kept-alive connection the server had closed: once more
                continue
            assert r.status is not None, f"no answer to {method} {path}: {r}"
            assert r.complete, f"incomplete answer to {method} {path}: {r}"
            if r.closed or (r.header("connection") or "").lower() == "close":
                self.close()
            return Resp(r.status, [(k.lower(), v) for k, v in r.headers], r.body)
        raise AssertionError(f"could not send {method} {path}")

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


CLIENT = Client()


def get(path, headers=(), method="GET"):
    return CLIENT.request(method, path, headers)


def metric_samples(name):
    out = []
    for line in metrics_text(ADMIN).splitlines():
        m = re.match(r"^([A-Za-z_:][\w:]*)\{(.*)\} (\S+)$", line)
        if m and m.group(1) == name:
            out.append((dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2))),
                        float(m.group(3))))
    return out


def metric(name, **labels):
    """The sum of name's samples whose labels include these (0 when none)."""
    return sum(v for lab, v in metric_samples(name)
               if all(lab.get(k) == val for k, val in labels.items()))


def log_lines():
    if not os.path.exists(ACCESS_LOG):
        return []
    with open(ACCESS_LOG, "rb") as f:
        return [json.loads(x) for x in f.read().splitlines() if x.strip()]


def log_for(path, count=1, timeout=5.0):
    """The access log lines whose path is exactly `path`, once there are `count`."""
    wait_until(lambda: len([x for x in log_lines() if x.get("path") == path]) >= count,
               timeout=timeout, what=f"{count} access log line(s) for {path}")
    return [x for x in log_lines() if x.get("path") == path]


def echo_of(resp):
    assert resp.status == 200, resp
    try:
        return json.loads(resp.body)
    except ValueError:
        raise AssertionError(f"not the backend's echo: {resp}") from None


DECODERS = {"gzip": ["gzip", "-dc"], "zstd": ["zstd", "-dc", "-q"], "br": ["brotli", "-dc"]}


def decode_with_tool(coding, data):
    path = tmp_path(f"body.{coding}")
    with open(path, "wb") as f:
        f.write(data)
    r = subprocess.run(DECODERS[coding] + [path], capture_output=True, timeout=30)
    assert r.returncode == 0, f"{DECODERS[coding]} failed on ringlb's {coding} body: {r.stderr!r}"
    return r.stdout


def assert_alive():
    assert LB.proc.poll() is None, f"ringlb exited with {LB.proc.returncode}:\n{LB.stderr()}"


# ---------------------------------------------------------------- 1. compression

def check_compressed(resp, coding, original, h2=False):
    assert resp.status == 200, resp
    assert resp.values("content-encoding") == [coding], resp
    assert "accept-encoding" in resp.tokens("vary"), resp
    assert resp.header("content-length") is None, f"Content-Length kept: {resp}"
    if not h2:
        assert resp.tokens("transfer-encoding") == ["chunked"], resp
    decoded = decode_with_tool(coding, resp.body)
    assert sha(decoded) == sha(original), \
        f"{coding}: decoded {len(decoded)} bytes, not the backend's {len(original)}"
    assert len(resp.body) < len(original) // 3, f"{coding}: {len(resp.body)} bytes is hardly compressed"


def test_compress_each_coding_decodes_with_the_real_tools():
    for coding in ("gzip", "zstd", "br"):
        r = curl("/c/big.json", "-H", f"Accept-Encoding: {coding}")
        check_compressed(r, coding, BIG_JSON)
        print(f"  {coding}: {len(BIG_JSON)} -> {len(r.body)} bytes")
    # a chunked backend body (text/plain; charset=utf-8: the parameter does not matter)
    r = curl("/c/chunked", "-H", "Accept-Encoding: gzip")
    check_compressed(r, "gzip", BIG_TEXT)


def test_compress_over_http2():
    """Every case is tried (each curl bounded at 5 s: the body takes milliseconds)
    and the failures are listed together."""
    failures = []
    for path, coding, original in [("/c/big.json", "gzip", BIG_JSON),
                                   ("/c/big.json", "zstd", BIG_JSON),
                                   ("/c/big.json", "br", BIG_JSON),
                                   ("/c/chunked", "br", BIG_TEXT)]:
        try:
            r = curl(path, "-H", f"Accept-Encoding: {coding}", h2=True, timeout=5)
            assert r.version == "2", r
            check_compressed(r, coding, original, h2=True)
        except AssertionError as e:
            text = str(e)
            failures.append(f"{path} Accept-Encoding: {coding}: "
                            f"{text[text.find('curl: ('):] if 'curl: (' in text else text[:300]}")
    r = curl("/c/small", "-H", "Accept-Encoding: gzip", h2=True)
    assert r.status == 200 and not r.values("content-encoding") and r.body == SMALL, r
    r = curl("/c/big.json", h2=True, timeout=5)  # no Accept-Encoding: passes as it is
    assert r.status == 200 and r.body == BIG_JSON, r
    assert not failures, "HTTP/2 + compression:\n" + "\n".join(failures)


def test_compress_choice_follows_q_values_and_route_order():
    cases = [("gzip;q=0.5, br;q=0.9", "br"),
             ("gzip, br", "br"),                      # equal q: the route's order zstd, br, gzip
             ("gzip, br, zstd", "zstd"),
             ("br;q=0.1, gzip;q=1.0", "gzip"),
             ("GZIP", "gzip"),                        # codings are case-insensitive
             ("identity", None),
             ("*;q=0", None),
             ("gzip;q=0", None),
             ("gzip;q=0, *", "zstd"),                 # * = any coding not named
             ("deflate, compress", None),             # nothing the route offers
             ("", None)]
    for accept, want in cases:
        r = get("/c/big.json", [("Accept-Encoding", accept)])
        got = r.header("content-encoding")
        assert r.status == 200 and got == want, \
            f"Accept-Encoding {accept!r}: Content-Encoding {got!r}, expected {want!r}; {r}"
        if want is None:
            assert r.body == BIG_JSON, f"Accept-Encoding {accept!r}: the body changed"
        # the answer varies by Accept-Encoding also when nothing was compressed
        assert "accept-encoding" in r.tokens("vary"), f"Accept-Encoding {accept!r}: {r}"
    r = get("/c/big.json")  # no Accept-Encoding at all
    assert r.header("content-encoding") is None and r.body == BIG_JSON, r


def test_compress_never_rules_leave_the_body_alone():
    ae = [("Accept-Encoding", "gzip, br, zstd")]
    cases = {
        "HEAD": (lambda: get("/c/big.json", ae, method="HEAD"), b""),
        "204": (lambda: get("/c/nocontent", ae), b""),
        "304": (lambda: get("/c/etag", ae + [("If-None-Match", '"abc"')]), b""),
        "206/Content-Range": (lambda: get("/c/range", ae), BIG_JSON[:5000]),
        "already Content-Encoding: gzip": (lambda: get("/c/enc", ae), PRE_GZIPPED),
        "Cache-Control: no-transform": (lambda: get("/c/nt", ae), BIG_TEXT),
        "image/png (type not listed)": (lambda: get("/c/png", ae), PNG),
        "no Content-Type": (lambda: get("/c/notype", ae), BIG_TEXT),
        "request Cache-Control: no-transform":
            (lambda: get("/c/big.json", ae + [("Cache-Control", "no-transform")]), BIG_JSON),
        "100 bytes (under min_size)": (lambda: get("/c/small", ae), SMALL),
        "a route without compress": (lambda: get("/cors/big.json", ae), BIG_JSON),
    }
    for what, (do, body) in cases.items():
        r = do()
        encodings = r.values("content-encoding")
        if what.startswith("already"):
            assert encodings == ["gzip"], f"{what}: Content-Encoding {encodings}; {r}"
        else:
            assert not encodings, f"{what}: compressed ({encodings}); {r}"
        assert r.body == body, f"{what}: body changed ({len(r.body)} bytes, expected {len(body)})"
    r = get("/c/big.json", ae, method="HEAD")
    assert r.status == 200 and r.header("content-length") == str(len(BIG_JSON)), \
        f"HEAD lost the backend's Content-Length: {r}"
    r = get("/c/nocontent", ae)
    assert r.status == 204, r
    r = get("/c/etag", ae + [("If-None-Match", '"abc"')])
    assert r.status == 304, r
    r = get("/c/range", ae)
    assert r.status == 206 and r.header("content-range"), r
    # an HTTP/1.0 client
    r = curl("/c/big.json", "--http1.0", "-H", "Accept-Encoding: gzip")
    assert r.status == 200 and not r.values("content-encoding") and r.body == BIG_JSON, \
        f"HTTP/1.0: {r}"
    # the same rules for HTTP/2 clients, two of them
    r = curl("/c/nt", "-H", "Accept-Encoding: gzip", h2=True)
    assert r.status == 200 and not r.values("content-encoding") and r.body == BIG_TEXT, r
    r = curl("/c/enc", "-H", "Accept-Encoding: br", h2=True)
    assert r.values("content-encoding") == ["gzip"] and r.body == PRE_GZIPPED, r


def test_compress_weakens_a_strong_etag():
    r = get("/c/etag", [("Accept-Encoding", "gzip")])
    assert r.header("content-encoding") == "gzip", r
    assert r.header("etag") == 'W/"abc"', f"ETag of a compressed answer: {r.header('etag')!r}"
    assert zlib.decompress(r.body, 16 + zlib.MAX_WBITS) == BIG_JSON
    r = get("/c/etag")
    assert r.header("content-encoding") is None and r.header("etag") == '"abc"', r
    # the client's next conditional request with the weak tag gets the backend's 304
    r = get("/c/etag", [("Accept-Encoding", "gzip"), ("If-None-Match", 'W/"abc"')])
    assert r.status == 304 and not r.values("content-encoding"), r


def test_compress_streams_each_piece_before_the_next_exists():
    """The backend sends SSE_PART1 and holds SSE_PART2 until the client has
    decoded all of part 1 from the gzip stream: a compressor that waited for
    more input (or the end) would never let part 1 out, and the reader times
    out. (Deterministic version of 'pause 300 ms between the two'.)"""
    SSE_RELEASE.clear()
    SSE_TIMES.clear()
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    try:
        sock.sendall(b"GET /c/sse HTTP/1.1\r\nHost: gw.test\r\nAccept-Encoding: gzip\r\n\r\n")
        buf, deadline = b"", time.monotonic() + 4 * SLOW

        def recv_more():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                return False
            if not data:
                return False
            nonlocal buf
            buf += data
            return True

        while b"\r\n\r\n" not in buf:
            assert recv_more(), f"no response head: {buf[:300]!r}"
        head, buf = buf.split(b"\r\n\r\n", 1)
        head_text = head.decode("latin-1").lower()
        assert "content-encoding: gzip" in head_text, head_text
        assert "transfer-encoding: chunked" in head_text, head_text
        dec, plain, done = zlib.decompressobj(16 + zlib.MAX_WBITS), b"", False

        def parse_chunks():
            nonlocal buf, plain, done
            while b"\r\n" in buf:
                size_line, rest = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    done = True
                    return
                if len(rest) < size + 2:
                    return
                plain += dec.decompress(rest[:size])
                buf = rest[size + 2:]

        while SSE_PART1 not in plain:
            parse_chunks()
            if SSE_PART1 in plain:
                break
            assert recv_more(), (
                f"part 1 ({len(SSE_PART1)} bytes, sent by the backend "
                f"{time.monotonic() - SSE_TIMES.get('part1_sent', time.monotonic()):.2f}s ago) "
                f"did not come out of the gzip stream while the backend held part 2: decoded "
                f"{len(plain)} bytes so far")
        got_part1 = time.monotonic()
        assert not SSE_RELEASE.is_set()
        print(f"  part 1 decoded {1000 * (got_part1 - SSE_TIMES['part1_sent']):.1f} ms after "
              f"the backend sent it, with part 2 still held")
        SSE_RELEASE.set()
        deadline = time.monotonic() + 4 * SLOW
        while not done:
            parse_chunks()
            if done:
                break
            assert recv_more(), f"the stream did not end: decoded {len(plain)} bytes"
        plain += dec.flush()
        assert plain == SSE_PART1 + SSE_PART2, f"decoded {plain[-100:]!r}"
        assert dec.eof, "the gzip stream was not finished"
    finally:
        sock.close()
        SSE_RELEASE.set()


# ---------------------------------------------------------------- 2. CORS

ALLOWED_ORIGIN = "https://app.example.com"


def preflight(path, origin, method, req_headers=None, h2=False):
    extra = ["-X", "OPTIONS", "-H", f"Origin: {origin}",
             "-H", f"Access-Control-Request-Method: {method}"]
    if req_headers:
        extra += ["-H", f"Access-Control-Request-Headers: {req_headers}"]
    return curl(path, *extra, h2=h2)


def test_cors_preflight_allowed_is_answered_at_the_edge():
    before = len(notes_under("/cors/"))
    for h2 in (False, True):
        r = preflight("/cors/pre", ALLOWED_ORIGIN, "PUT", "content-type, X-Custom", h2=h2)
        assert r.status == 204, r
        assert r.header("access-control-allow-origin") == ALLOWED_ORIGIN, r
        assert "put" in r.tokens("access-control-allow-methods"), r
        allowed = r.tokens("access-control-allow-headers")
        assert "content-type" in allowed and "x-custom" in allowed, r
        assert r.header("access-control-max-age") == "600", r
        assert r.header("access-control-allow-credentials") is None, r
        assert "origin" in r.tokens("vary"), r
        assert r.body == b"", r
    r = preflight("/cors/pre", "http://localhost:3000", "GET")
    assert r.status == 204 and r.header("access-control-allow-origin") == "http://localhost:3000", r
    time.sleep(0.2)  # let anything that was wrongly forwarded arrive (the check is "nothing")
    assert len(notes_under("/cors/")) == before, \
        f"a preflight reached the backend: {notes_under('/cors/')[before:]}"


def test_cors_preflight_refused_origin_method_or_header():
    before = len(notes_under("/cors/"))
    for what, args in {"origin": ("https://evil.example.com", "GET", None),
                       "method": (ALLOWED_ORIGIN, "DELETE", None),
                       "header": (ALLOWED_ORIGIN, "POST", "X-Not-Listed")}.items():
        r = preflight("/cors/pre", *args)
        assert r.status == 204, f"refused {what}: {r}"
        assert r.header("access-control-allow-origin") is None, f"refused {what}: {r}"
        assert r.header("access-control-allow-methods") is None, f"refused {what}: {r}"
    time.sleep(0.2)
    assert len(notes_under("/cors/")) == before, notes_under("/cors/")[before:]
    # OPTIONS without Access-Control-Request-Method is no preflight: it is proxied
    r = get("/cors/plain-options", [("Origin", ALLOWED_ORIGIN)], method="OPTIONS")
    assert r.status == 200 and echo_of(r)["method"] == "OPTIONS", r


def test_cors_actual_responses_get_allow_origin_and_vary():
    r = get("/cors/actual", [("Origin", ALLOWED_ORIGIN)])
    assert r.status == 200 and r.header("access-control-allow-origin") == ALLOWED_ORIGIN, r
    assert "origin" in r.tokens("vary"), r
    r = get("/cors/actual", [("Origin", "https://evil.example.com")])
    assert r.status == 200 and r.header("access-control-allow-origin") is None, r
    assert "origin" in r.tokens("vary"), r
    r = get("/cors/actual")
    assert r.status == 200 and "origin" in r.tokens("vary"), r
    r = get("/cors/acao", [("Origin", ALLOWED_ORIGIN)])  # the backend says "*" itself
    assert r.values("access-control-allow-origin") == [ALLOWED_ORIGIN], r
    r = curl("/cors/actual-h2", "-H", f"Origin: {ALLOWED_ORIGIN}", h2=True)
    assert r.version == "2" and r.status == 200, r
    assert r.header("access-control-allow-origin") == ALLOWED_ORIGIN, r
    assert "origin" in r.tokens("vary"), r


# ---------------------------------------------------------------- 3. basic auth

def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def auth_failures(prefix):
    return {lab["reason"]: v for lab, v in metric_samples("ringlb_auth_failures_total")
            if lab.get("route") == route_label(prefix) and lab.get("listener") == "web"}


def test_basic_auth_each_hash_scheme():
    for user in HASHES:
        r = get(f"/basic/ok-{user}", [("Authorization", basic(user, PASSWORDS[user]))])
        assert r.status == 200, f"{user} ({HASHES[user][:4]}): {r}"
        # twice: a cached verification must say the same
        r = get(f"/basic/ok-{user}", [("Authorization", basic(user, PASSWORDS[user]))])
        assert r.status == 200, f"{user} again: {r}"
    r = get("/basic/lower-scheme", [("Authorization", "basic " +
                                     basic("alice", PASSWORDS["alice"]).split(" ", 1)[1])])
    assert r.status == 200, f"the auth-scheme is case-insensitive (RFC 9110 11.1): {r}"
    r = curl("/basic/h2", "-u", f"bob:{PASSWORDS['bob']}", h2=True)
    assert r.version == "2" and r.status == 200, r
    lines = log_for("/basic/ok-alice", 2)
    assert all(x.get("user") == "alice" for x in lines), lines
    assert log_for("/basic/h2")[0].get("user") == "bob"


def test_basic_auth_refusals_are_401_with_a_challenge():
    client = Client("127.0.0.32")  # its own failed-login bucket
    before = auth_failures("/basic/")
    cases = [("wrong", [("Authorization", basic("alice", "nope"))], "bad_credentials"),
             ("unknown", [("Authorization", basic("mallory", "x"))], "unknown_user"),
             ("missing", [], "missing"),
             ("bang", [("Authorization", "Basic !!!")], "malformed"),
             ("nocolon", [("Authorization", "Basic " + base64.b64encode(b"alicepw").decode())],
              "malformed"),
             ("empty", [("Authorization", "Basic ")], "malformed"),
             ("bearer", [("Authorization", "Bearer abc")], "unsupported_scheme"),
             ("cached-wrong", [("Authorization", basic("alice", "alice-pw "))], "bad_credentials")]
    for name, headers, _ in cases:
        r = client.request("GET", f"/basic/refused-{name}", headers)
        assert r.status == 401, f"{name}: {r}"
        assert r.values("www-authenticate") == ['Basic realm="staff", charset="UTF-8"'], \
            f"{name}: {r}"
        assert r.body, f"{name}: a 401 without a body"
        assert_alive()
    r = curl("/basic/h2-refused", h2=True)
    assert r.status == 401 and r.header("www-authenticate", "").startswith('Basic realm="staff"'), r
    wait_until(lambda: sum(auth_failures("/basic/").values()) - sum(before.values())
               >= len(cases) + 1, what="the auth failures metric")
    after = auth_failures("/basic/")
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    want = {}
    for _, _, reason in cases:
        want[reason] = want.get(reason, 0) + 1
    want["missing"] += 1  # the HTTP/2 one
    print(f"  ringlb_auth_failures_total deltas: {delta}")
    assert {k: v for k, v in delta.items() if v} == want, f"by reason: {delta}, expected {want}"
    for name, _, reason in cases:
        line = log_for(f"/basic/refused-{name}")[0]
        assert line["status"] == 401 and line.get("auth_failure") == reason, line
        assert not line.get("user") or name in ("wrong", "cached-wrong", "unknown"), line
    r = get("/basic/after-refusals", [("Authorization", basic("bob", PASSWORDS["bob"]))])
    assert r.status == 200, r


def test_failed_logins_slow_the_client_down():
    guesser, other = Client("127.0.0.40"), Client("127.0.0.41")
    before = auth_failures("/basic/")
    for i in range(20):  # the burst: every guess is checked
        r = guesser.request("GET", f"/basic/guess-{i}", [("Authorization", basic("bob", f"g{i}"))])
        assert r.status == 401, f"guess {i}: {r}"
    started = time.monotonic()
    for i in range(50):  # then nothing is checked, a right password included
        pw = PASSWORDS["bob"] if i == 49 else f"h{i}"
        r = guesser.request("GET", f"/basic/throttled-{i}", [("Authorization", basic("bob", pw))])
        assert r.status == 429 and retry_after_ok(r), f"throttled {i}: {r}"
        assert int(r.header("retry-after")) <= 3, r
    took = time.monotonic() - started
    print(f"  50 throttled attempts answered in {took * 1000:.0f} ms (no password hashing)")
    assert took < 50 * 0.05, f"throttled answers hashed passwords: {took:.2f} s"
    r = other.request("GET", "/basic/other-client", [("Authorization", basic("bob", PASSWORDS["bob"]))])
    assert r.status == 200, f"another client is not slowed down: {r}"
    r = guesser.request("GET", "/basic/no-credentials")
    assert r.status == 429, f"a throttled client gets 429 before any check: {r}"
    wait_until(lambda: auth_failures("/basic/").get("throttled", 0)
               - before.get("throttled", 0) >= 51, what="the throttled failures counted")
    assert log_for("/basic/throttled-0")[0].get("auth_failure") == "throttled"
    time.sleep(3.2)  # the bucket refills one attempt every 3 s (a clock, not a race)
    r = guesser.request("GET", "/basic/after-wait", [("Authorization", basic("bob", PASSWORDS["bob"]))])
    assert r.status == 200, f"one attempt is back after Retry-After: {r}"
    guesser.close()
    other.close()


def test_check_names_a_plain_text_password_line():
    plain = write_file("plain.htpasswd", f"alice:{HASHES['alice']}\neve:secret\n")
    port = free_port()
    text = f"""
[pools.app]
backends = ["127.0.0.1:9"]

[listeners.web]
bind = "127.0.0.1:{port}"
mode = "http"
pool = "app"

[[listeners.web.routes]]
path_prefix = "/"
pool = "app"
auth = {{ type = "basic", users_file = "{plain}" }}
"""
    code, out = ringlb_check(text, "plain")
    assert code == 1, f"check accepted a plain-text password (exit {code}): {out}"
    assert "plain.htpasswd:2" in out, f"the message names no FILE:LINE: {out}"
    assert "config OK" not in out, out
    print(f"  check says: {out.strip()}")


# ---------------------------------------------------------------- 4. API keys

def test_api_key_named_and_unnamed_digests():
    before = auth_failures("/key/")
    r = get("/key/named", [("X-API-Key", API_KEYS["alice-app"])])
    assert r.status == 200, r
    assert log_for("/key/named")[0].get("user") == "alice-app", log_for("/key/named")
    r = get("/key/unnamed", [("X-API-Key", API_KEYS[None])])
    assert r.status == 200, r
    print(f"  an unnamed key's log user: {log_for('/key/unnamed')[0].get('user')!r}")
    challenge = 'ApiKey realm="keys", header="X-API-Key"'
    for name, headers in {"wrong": [("X-API-Key", "key-alice-0123456788")],
                          "digest-itself": [("X-API-Key", sha(API_KEYS["alice-app"].encode()))],
                          "missing": [],
                          "other-header": [("Authorization", "Bearer " + API_KEYS["alice-app"])]
                          }.items():
        r = Client("127.0.0.33").request("GET", f"/key/refused-{name}", headers)
        assert r.status == 401, f"{name}: {r}"
        assert r.values("www-authenticate") == [challenge], f"{name}: {r}"
    r = curl("/key/h2", "-H", f"X-API-Key: {API_KEYS['alice-app']}", h2=True)
    assert r.status == 200, r
    wait_until(lambda: sum(auth_failures("/key/").values()) - sum(before.values()) >= 4,
               what="the api_key failures counted")


# ---------------------------------------------------------------- 5. JWT

def test_jwt_valid_tokens_pass_their_claims_upstream():
    now = int(time.time())
    tokens = {"hs256": jwt(), "rs256": jwt("RS256", "rs"), "es256": jwt("ES256", "ec"),
              "aud-list": jwt(aud=["other", AUDIENCE]),
              "exp-within-skew": jwt(exp=now - 30), "nbf-within-skew": jwt(nbf=now + 30)}
    for name, token in tokens.items():
        r = get(f"/jwt/ok-{name}", [("Authorization", f"Bearer {token}"),
                                    ("X-User", "forged-by-client"), ("x-email", "forged@x")])
        note = echo_of(r)
        assert header_values(note, "X-User") == ["user-42"], f"{name}: {note['headers']}"
        assert header_values(note, "X-Email") == ["u42@example.test"], f"{name}: {note['headers']}"
        assert log_for(f"/jwt/ok-{name}")[0].get("user") == "user-42"
    # a token without the claims: the client's copies of their headers are dropped
    r = get("/jwt/no-claims", [("Authorization", f"Bearer {jwt(sub=None, email=None)}"),
                               ("X-User", "forged"), ("X-Email", "forged@x")])
    note = echo_of(r)
    assert not header_values(note, "X-User") and not header_values(note, "X-Email"), \
        f"client-sent claim headers reached the backend: {note['headers']}"
    r = curl("/jwt/h2", "-H", f"Authorization: Bearer {jwt('ES256', 'ec')}",
             "-H", "X-User: forged", h2=True)
    assert r.version == "2", r
    assert header_values(echo_of(r), "X-User") == ["user-42"], r


def test_jwt_bad_tokens_are_refused():
    now = int(time.time())
    confusion = jwt("HS256", "rs", sign=lambda d: KEYS.hs256(d, KEYS.rsa_public_pem))
    good = jwt()
    h, p, s = good.split(".")
    tampered_payload = b64u(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "admin",
                                        "exp": now + 300}).encode())
    none_header = b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    cases = {
        "expired": (jwt(exp=now - 3600), "expired"),
        "nbf-future": (jwt(nbf=now + 3600), "not_yet_valid"),
        "wrong-iss": (jwt(iss="https://evil.example.test"), "wrong_issuer"),
        "wrong-aud": (jwt(aud="someone-else"), "wrong_audience"),
        "no-exp-but-wrong-aud-list": (jwt(aud=["a", "b"]), "wrong_audience"),
        "bad-signature": (f"{h}.{p}.{s[:-4] + ('AAAA' if s[-4:] != 'AAAA' else 'BBBB')}",
                          "bad_signature"),
        "tampered-payload": (f"{h}.{tampered_payload}.{s}", "bad_signature"),
        "rs-bad-signature": (jwt("RS256", "rs", sign=lambda d: KEYS.rs256(d + b"x")),
                             "bad_signature"),
        "es-bad-signature": (jwt("ES256", "ec", sign=lambda d: KEYS.es256(d + b"x")),
                             "bad_signature"),
        "alg-none": (f"{none_header}.{p}.", "alg_refused"),
        "alg-none-with-sig": (jwt("none", "hs", sign=KEYS.hs256), "alg_refused"),
        "alg-confusion": (confusion, None),  # alg_refused or bad_signature: 401 either way
        "es256-under-rs-kid": (jwt("ES256", "rs"), None),
        "unknown-kid": (jwt(kid="nope"), "unknown_kid"),
        "garbage": ("!!!.###.$$$", "malformed"),
        "two-parts": (f"{h}.{p}", "malformed"),
        "four-parts": (f"{good}.{s}", "malformed"),
        "not-json": (f"{b64u(b'not json')}.{p}.{s}", "malformed"),
    }
    refused = []
    client = Client("127.0.0.31")  # its own failed-login bucket
    for name, (token, reason) in cases.items():
        r = client.request("GET", f"/jwt/bad-{name}", [("Authorization", f"Bearer {token}")])
        assert r.status == 401, f"{name}: {r}"
        chal = r.values("www-authenticate")
        assert len(chal) == 1 and chal[0].startswith('Bearer realm="tokens"') and \
            'error="invalid_token"' in chal[0], f"{name}: {chal}"
        refused.append((name, reason))
    assert_alive()
    for name, reason in refused:
        line = log_for(f"/jwt/bad-{name}")[0]
        assert line["status"] == 401, line
        if reason:
            assert line.get("auth_failure") == reason, f"{name}: {line}"
        print(f"  {name}: auth_failure={line.get('auth_failure')!r}")
    r = get("/jwt/missing")
    assert r.status == 401 and r.values("www-authenticate") == ['Bearer realm="tokens"'], r
    r = curl("/jwt/h2-expired", "-H", f"Authorization: Bearer {jwt(exp=now - 3600)}", h2=True)
    assert r.status == 401 and 'error="invalid_token"' in r.header("www-authenticate", ""), r


# ---------------------------------------------------------------- 6. rate limit

def retry_after_ok(r):
    value = r.header("retry-after")
    return value is not None and value.isdigit() and int(value) >= 1


def test_rate_limit_per_source_ip_across_connections():
    label = route_label("/rl/")
    limited_before = metric("ringlb_rate_limited_total", listener="web", route=label)
    # 20 quick requests from 127.0.0.2 over 4 connections (both workers share the bucket)
    clients = [Client("127.0.0.2") for _ in range(4)]
    statuses = []
    for i in range(20):
        r = clients[i % 4].request("GET", f"/rl/a?i={i}")
        statuses.append(r.status)
        if r.status == 429:
            assert retry_after_ok(r), f"429 with Retry-After {r.header('retry-after')!r}: {r}"
            assert r.body, "a 429 without a body"
        else:
            assert r.status == 200, r
    ok = statuses.count(200)
    print(f"  127.0.0.2: {ok} of 20 accepted, statuses {statuses}")
    assert 5 <= ok <= 6 and statuses[:5] == [200] * 5, statuses
    # another source address has a bucket of its own
    other = Client("127.0.0.3")
    statuses3 = [other.request("GET", f"/rl/b?i={i}").status for i in range(8)]
    assert statuses3[:5] == [200] * 5 and statuses3.count(200) <= 6, statuses3
    for c in clients + [other]:
        c.close()
    limited = statuses.count(429) + statuses3.count(429)
    wait_until(lambda: metric("ringlb_rate_limited_total", listener="web", route=label)
               - limited_before == limited, what=f"ringlb_rate_limited_total +{limited}")
    lines = log_for("/rl/a?i=19")
    marks = [log_for(f"/rl/a?i={i}")[0].get("rate_limit") for i in range(20)]
    assert marks == ["ok" if s == 200 else "limited" for s in statuses], marks
    assert lines[0]["status"] == statuses[19]


def test_rate_limit_by_header_value():
    label = route_label("/tenant/")
    before = metric("ringlb_rate_limited_total", listener="web", route=label)
    a = [get(f"/tenant/x?a={i}", [("X-Tenant", "a")]).status for i in range(5)]
    b = [get(f"/tenant/x?b={i}", [("X-Tenant", "b")]).status for i in range(5)]
    assert a == [200, 200, 200, 429, 429], f"tenant a: {a}"
    assert b == [200, 200, 200, 429, 429], f"tenant b (a bucket of its own): {b}"
    r = get("/tenant/x?a=again", [("X-Tenant", "a")])
    assert r.status == 429 and retry_after_ok(r), r
    print(f"  Retry-After at 3 a minute: {r.header('retry-after')}")
    assert 1 <= int(r.header("retry-after")) <= 21, r
    wait_until(lambda: metric("ringlb_rate_limited_total", listener="web", route=label) - before
               == 5, what="ringlb_rate_limited_total +5")
    # without the header: one shared bucket, the empty key's (docs/gateway.md)
    none = [get(f"/tenant/x?none={i}").status for i in range(5)]
    assert none == [200, 200, 200, 429, 429], f"requests without X-Tenant: {none}"


def test_rate_limit_route_bucket_is_shared_by_two_workers():
    """200/s, burst 20, one bucket for the route; ~400 requests/s offered for
    5 s from 16 keep-alive connections (so both workers serve). Accepted must
    be 200 x T + 20 within 5 %, T from the first request to the last."""
    rate, offered, seconds, conns = 200, 400, 5.0, 16
    total = int(offered * seconds)
    completions_before = {lab["worker"]: v for lab, v in
                          metric_samples("ringlb_worker_completions_total")}
    limited_before = metric("ringlb_rate_limited_total", listener="web",
                            route=route_label("/rlroute/"))
    results, lock = [], threading.Lock()
    errors = []
    clients = [Client() for _ in range(conns)]
    for c in clients:
        c.connect()
    barrier = threading.Barrier(conns)
    start = [0.0]

    def run(i):
        c = clients[i]
        try:
            if barrier.wait(10) == 0:
                start[0] = time.monotonic() + 0.05
            barrier.wait(10)
            k = i
            while k < total:
                due = start[0] + k / offered
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                sent = time.monotonic()
                r = c.request("GET", "/rlroute/x")
                with lock:
                    results.append((sent, r.status, r.header("retry-after")))
                k += conns
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds * 4 * SLOW + 20)
    assert not any(t.is_alive() for t in threads), "the load threads did not finish"
    assert not errors, errors[:5]
    sends = sorted(x[0] for x in results)
    span = sends[-1] - sends[0]
    ok = sum(1 for x in results if x[1] == 200)
    limited = sum(1 for x in results if x[1] == 429)
    other = [x[1] for x in results if x[1] not in (200, 429)]
    expected = rate * span + 20
    completions_after = {lab["worker"]: v for lab, v in
                         metric_samples("ringlb_worker_completions_total")}
    per_worker = {w: completions_after[w] - completions_before.get(w, 0)
                  for w in completions_after}
    print(f"  measured: {ok} accepted, {limited} refused (429) of {len(results)} in "
          f"T={span:.3f}s (offered {len(results) / span:.0f}/s); expected 200*T+20 = "
          f"{expected:.1f}; error {100 * (ok - expected) / expected:+.2f}%; "
          f"io_uring completions per worker {per_worker}")
    assert not other, f"statuses other than 200/429: {other[:10]}"
    assert all(ra is not None and ra.isdigit() and int(ra) >= 1
               for _, s, ra in results if s == 429), "a 429 without Retry-After >= 1"
    assert len(results) == total, (len(results), total)
    assert len(results) / span > rate * 1.5, "the client could not offer 1.5x the rate"
    assert len(per_worker) == 2 and all(v > 0.1 * sum(per_worker.values())
                                        for v in per_worker.values()), \
        f"one worker served (nearly) nothing: {per_worker}"
    assert abs(ok - expected) <= 0.05 * expected, \
        f"accepted {ok}, expected {expected:.1f} +- 5 %"
    wait_until(lambda: metric("ringlb_rate_limited_total", listener="web",
                              route=route_label("/rlroute/")) - limited_before == limited,
               what=f"ringlb_rate_limited_total +{limited}")


# ---------------------------------------------------------------- 7. phase order

def test_order_unauthenticated_requests_do_not_use_the_rate_limit():
    """auth before rate_limit: ten 401s leave the 3-request bucket full."""
    failures_before = sum(auth_failures("/order/").values())
    anon = [get(f"/order/anon?{i}", [("Origin", ALLOWED_ORIGIN)]) for i in range(10)]
    assert [r.status for r in anon] == [401] * 10, [r.status for r in anon]
    for r in anon:
        assert r.header("access-control-allow-origin") == ALLOWED_ORIGIN, \
            f"a 401 on a CORS route without the allow fields: {r}"
        assert r.header("www-authenticate", "").startswith('Basic realm="order"'), r
    good = [get(f"/order/bob?{i}", [("Authorization", basic("bob", PASSWORDS["bob"])),
                                    ("Origin", ALLOWED_ORIGIN)]) for i in range(5)]
    statuses = [r.status for r in good]
    print(f"  after 10 unauthenticated 401s, 5 authenticated requests got {statuses}")
    assert statuses == [200, 200, 200, 429, 429], \
        f"unauthenticated requests used the bucket (or it is wrong): {statuses}"
    for r in good[3:]:
        assert retry_after_ok(r), r
        assert r.header("access-control-allow-origin") == ALLOWED_ORIGIN, \
            f"a 429 on a CORS route without the allow fields: {r}"
    # a wrong password is refused by auth too, before the (empty) bucket
    r = get("/order/wrong", [("Authorization", basic("bob", "nope"))])
    assert r.status == 401, f"a wrong password on an exhausted route: {r}"
    lines = log_for("/order/bob?4")
    assert lines[0].get("user") == "bob" and lines[0].get("rate_limit") == "limited", lines
    assert log_for("/order/anon?0")[0].get("rate_limit") in (None, ""), log_for("/order/anon?0")
    wait_until(lambda: sum(auth_failures("/order/").values()) - failures_before == 11,
               what="11 auth failures on /order/")


def test_order_preflight_on_an_auth_route_needs_no_credentials():
    failures_before = sum(auth_failures("/order/").values())
    seen = len(notes_under("/order/"))
    for h2 in (False, True):
        r = preflight("/order/pre", ALLOWED_ORIGIN, "POST", "content-type", h2=h2)
        assert r.status == 204, f"preflight on an auth route (h2={h2}): {r}"
        assert r.header("access-control-allow-origin") == ALLOWED_ORIGIN, r
        assert r.header("www-authenticate") is None, r
    time.sleep(0.2)
    assert len(notes_under("/order/")) == seen
    assert sum(auth_failures("/order/").values()) == failures_before, "a preflight counted as an auth failure"


# ---------------------------------------------------------------- reload (last: it changes a password)

def write_users_and_reload(hashes):
    """Writes the users file, sends SIGHUP, waits until the reload is counted."""
    with open(USERS_FILE, "w") as f:
        f.write(users_text(hashes))
    ok, failed = metric("ringlb_reloads_total", result="ok"), \
        metric("ringlb_reloads_total", result="failed")
    LB.reload()
    wait_until(lambda: metric("ringlb_reloads_total", result="ok") > ok or
               metric("ringlb_reloads_total", result="failed") > failed, timeout=10,
               what="the reload to be counted")
    return metric("ringlb_reloads_total", result="ok") > ok


def test_sighup_rereads_the_users_file():
    """New connections after the reload see the new file (the old password, even
    cached, is refused; a removed user is refused)."""
    r = get("/basic/before-reload", [("Authorization", basic("alice", "alice-pw"))])
    assert r.status == 200, r  # cached now
    CLIENT.close()
    new = dict(HASHES, alice=bcrypt_hash("alice-new-pw"))
    new.pop("bob")
    assert write_users_and_reload(new), LB.stderr()[-2000:]
    fresh = Client()
    r = fresh.request("GET", "/basic/after-reload-new",
                      [("Authorization", basic("alice", "alice-new-pw"))])
    assert r.status == 200, r
    fresh.close()
    fresh = Client()
    r = fresh.request("GET", "/basic/after-reload-old", [("Authorization", basic("alice", "alice-pw"))])
    assert r.status == 401, f"the old (cached) password still works after the reload: {r}"
    fresh.close()
    fresh = Client()
    r = fresh.request("GET", "/basic/after-reload-bob",
                      [("Authorization", basic("bob", PASSWORDS["bob"]))])
    assert r.status == 401, f"a user removed from the file still works: {r}"
    fresh.close()
    r = curl("/basic/after-reload-h2", "-u", "alice:alice-new-pw", h2=True)
    assert r.status == 200, r


def test_sighup_revokes_a_password_on_connections_open_before_it():
    """A keep-alive connection (HTTP/1.1 here) opened before the reload: a request
    sent on it after the reload with a removed password must not be served
    (401, or the connection closed so the retry meets the new file), as
    NGINX's and HAProxy's old workers close their idle keep-alive connections."""
    open_before = Client()
    r = open_before.request("GET", "/basic/ka-before",
                            [("Authorization", basic("alice", "alice-new-pw"))])
    assert r.status == 200, r
    new = dict(HASHES, alice=bcrypt_hash("alice-third-pw"))
    new.pop("bob")
    assert write_users_and_reload(new), LB.stderr()[-2000:]
    time.sleep(0.5)  # generous: the workers have long applied the new config by now
    fresh = Client()
    assert fresh.request("GET", "/basic/ka-fresh-old",
                         [("Authorization", basic("alice", "alice-new-pw"))]).status == 401
    fresh.close()
    old = open_before.request("GET", "/basic/ka-after-old",
                              [("Authorization", basic("alice", "alice-new-pw"))])
    newer = open_before.request("GET", "/basic/ka-after-new",
                                [("Authorization", basic("alice", "alice-third-pw"))])
    open_before.close()
    assert (old.status, newer.status) == (401, 200), (
        f"on a connection opened before the reload, the removed password got {old.status} "
        f"and the new one {newer.status} (a fresh connection got 401 for the removed one)")


def test_sighup_with_a_plain_text_users_file_keeps_the_old_one():
    CLIENT.close()
    current = dict(HASHES, alice=bcrypt_hash("alice-third-pw"))
    current.pop("bob")
    with open(USERS_FILE, "w") as f:
        f.write(users_text(current) + "mallory:plaintext\n")
    failed = metric("ringlb_reloads_total", result="failed")
    LB.reload()
    wait_until(lambda: metric("ringlb_reloads_total", result="failed") > failed, timeout=10,
               what="the bad reload to be refused")
    assert "users.htpasswd:" in LB.stderr(), LB.stderr()[-2000:]
    r = Client().request("GET", "/basic/after-bad-reload",
                         [("Authorization", basic("alice", "alice-third-pw"))])
    assert r.status == 200, r
    r = Client().request("GET", "/basic/after-bad-reload-m",
                         [("Authorization", basic("mallory", "plaintext"))])
    assert r.status == 401, r


def test_zz_sigterm_exits_zero():
    CLIENT.close()
    assert_alive()
    assert LB.stop(timeout=10) == 0, LB.stderr()


if __name__ == "__main__":
    run_module(globals(), LB.close, BACKEND.stop, TMP.cleanup)
