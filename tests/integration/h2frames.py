"""A small HTTP/2 client for tests that speak raw frames (RFC 9113): frame
building and parsing, an HPACK encoder (literal fields, indexed fields,
optional Huffman) and decoder (static and dynamic table, Huffman, RFC 7541),
and Conn, one connection that records every frame it gets, decodes response
header blocks, answers the peer's SETTINGS and PING, and opens flow-control
windows as DATA arrives (unless told not to). Standard library only.

Every read is bounded by a deadline; a peer's close or reset is recorded in
the connection (closed, close_reason), never raised."""

import collections
import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
TYPE_NAMES = {DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
              SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
              WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION"}

# Flags.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Error codes (RFC 9113 §7).
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, \
    ENHANCE_YOUR_CALM, INADEQUATE_SECURITY, HTTP_1_1_REQUIRED = range(14)
ERROR_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
               "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
               "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
               "HTTP_1_1_REQUIRED"]

# SETTINGS parameters (RFC 9113 §6.5.2).
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, \
    MAX_HEADER_LIST_SIZE = range(1, 7)
SETTING_NAMES = {HEADER_TABLE_SIZE: "HEADER_TABLE_SIZE", ENABLE_PUSH: "ENABLE_PUSH",
                 MAX_CONCURRENT_STREAMS: "MAX_CONCURRENT_STREAMS",
                 INITIAL_WINDOW_SIZE: "INITIAL_WINDOW_SIZE", MAX_FRAME_SIZE: "MAX_FRAME_SIZE",
                 MAX_HEADER_LIST_SIZE: "MAX_HEADER_LIST_SIZE", 8: "ENABLE_CONNECT_PROTOCOL",
                 9: "NO_RFC7540_PRIORITIES"}

DEFAULT_WINDOW = 65535
MAX_WINDOW = (1 << 31) - 1


def error_name(code):
    return ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else f"0x{code:x}"


# ------------------------------------------------------------------ frames

def frame(ftype, flags, stream, payload=b""):
    """One frame: 9-byte header (24-bit length, type, flags, 31-bit stream id) + payload."""
    assert len(payload) < 1 << 24
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags])
            + struct.pack(">I", stream & 0x7fffffff) + payload)


def parse_header(head):
    """(length, type, flags, stream) of a 9-byte frame header."""
    length = int.from_bytes(head[0:3], "big")
    return length, head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7fffffff


def settings(pairs=(), ack=False):
    """SETTINGS with (identifier, value) pairs, or an empty ACK."""
    if isinstance(pairs, dict):
        pairs = pairs.items()
    return frame(SETTINGS, ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def ping(opaque=b"\0" * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, opaque)


def headers(stream, block, end_stream=True, end_headers=True, priority=None, pad=None):
    """HEADERS carrying a field block fragment; priority = (depends_on, weight, exclusive)
    adds the PRIORITY fields, pad = n adds n bytes of padding."""
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    payload = block
    if priority is not None:
        dep, weight, exclusive = priority
        payload = struct.pack(">IB", dep | (0x80000000 if exclusive else 0), weight - 1) + payload
        flags |= PRIORITY_FLAG
    if pad is not None:
        payload = bytes([pad]) + payload + b"\0" * pad
        flags |= PADDED
    return frame(HEADERS, flags, stream, payload)


def continuation(stream, block, end_headers=True):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream, block)


def data(stream, payload=b"", end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, stream, payload)


def rst_stream(stream, code):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def priority(stream, depends_on=0, weight=16, exclusive=False):
    return frame(PRIORITY, 0, stream,
                 struct.pack(">IB", depends_on | (0x80000000 if exclusive else 0), weight - 1))


def goaway(last_stream, code, debug=b""):
    return frame(GOAWAY, 0, 0, struct.pack(">II", last_stream, code) + debug)


Frame = collections.namedtuple("Frame", "type flags stream payload")


def split_frames(buf):
    """The complete frames at the start of buf, and the bytes left over."""
    frames, pos = [], 0
    while len(buf) - pos >= 9:
        length, ftype, flags, stream = parse_header(buf[pos:pos + 9])
        if len(buf) - pos < 9 + length:
            break
        frames.append(Frame(ftype, flags, stream, bytes(buf[pos + 9:pos + 9 + length])))
        pos += 9 + length
    return frames, buf[pos:]


def settings_pairs(payload):
    return [struct.unpack(">HI", payload[i:i + 6]) for i in range(0, len(payload) - 5, 6)]


def describe(f):
    """A one-line summary of a frame, for failure messages."""
    name = TYPE_NAMES.get(f.type, f"type=0x{f.type:x}")
    p = f.payload
    if f.type == SETTINGS:
        if f.flags & ACK:
            return f"SETTINGS(ACK{', len=%d' % len(p) if p else ''})"
        if len(p) % 6:
            return f"SETTINGS(len={len(p)})"
        return "SETTINGS(" + ",".join(f"{SETTING_NAMES.get(k, k)}={v}"
                                      for k, v in settings_pairs(p)) + ")"
    if f.type == PING:
        return f"PING({'ACK,' if f.flags & ACK else ''}{p.hex()})"
    if f.type == GOAWAY and len(p) >= 8:
        last, code = struct.unpack(">II", p[:8])
        return f"GOAWAY(last={last & 0x7fffffff},{error_name(code)}" + \
            (f",{p[8:80]!r})" if len(p) > 8 else ")")
    if f.type == RST_STREAM and len(p) == 4:
        return f"RST_STREAM(s={f.stream},{error_name(struct.unpack('>I', p)[0])})"
    if f.type == WINDOW_UPDATE and len(p) == 4:
        return f"WINDOW_UPDATE(s={f.stream},+{struct.unpack('>I', p)[0] & 0x7fffffff})"
    flags = []
    if f.type in (DATA, HEADERS) and f.flags & END_STREAM:
        flags.append("END_STREAM")
    if f.type in (HEADERS, CONTINUATION, PUSH_PROMISE) and f.flags & END_HEADERS:
        flags.append("END_HEADERS")
    if f.type in (DATA, HEADERS, PUSH_PROMISE) and f.flags & PADDED:
        flags.append("PADDED")
    if f.type == HEADERS and f.flags & PRIORITY_FLAG:
        flags.append("PRIORITY")
    return f"{name}(s={f.stream},len={len(p)}{',' if flags else ''}{'|'.join(flags)})"


# ------------------------------------------------------------------ HPACK (RFC 7541)

class HpackError(Exception):
    pass


STATIC_TABLE = [  # Appendix A: index 1..61
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
]
STATIC_TABLE = [(n.encode(), v.encode()) for n, v in STATIC_TABLE]

HUFFMAN = [  # Appendix B: (code, length in bits) of symbols 0..255 and EOS (256)
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28),
    (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24),
    (0x3ffffffc, 30), (0xfffffe9, 28), (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28),
    (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28), (0xffffff4, 28),
    (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
    (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10),
    (0xffa, 12), (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11), (0xfa, 8),
    (0x16, 6), (0x17, 6), (0x18, 6), (0x0, 5), (0x1, 5),
    (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6), (0x1c, 6),
    (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13),
    (0x21, 6), (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7),
    (0x61, 7), (0x62, 7), (0x63, 7), (0x64, 7), (0x65, 7),
    (0x66, 7), (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7), (0x6f, 7),
    (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
    (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14),
    (0x22, 6), (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6), (0x27, 6),
    (0x6, 5), (0x74, 7), (0x75, 7), (0x28, 6), (0x29, 6),
    (0x2a, 6), (0x7, 5), (0x2b, 6), (0x76, 7), (0x2c, 6),
    (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11),
    (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22),
    (0xfffe7, 20), (0xfffe8, 20), (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22),
    (0x7fffd9, 23), (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23), (0xffffec, 24),
    (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23),
    (0x7fffe2, 23), (0x7fffe3, 23), (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22),
    (0x7fffe5, 23), (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22),
    (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21), (0x7fffea, 23), (0x3fffdd, 22),
    (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23),
    (0x7fffec, 23), (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20),
    (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22),
    (0x3fffe6, 22), (0x7ffff1, 23), (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20),
    (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27), (0x7ffffdf, 27),
    (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21),
    (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27),
    (0xfffff2, 24), (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20),
    (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21), (0x3fffe9, 22), (0x1fffe7, 21),
    (0x1fffe8, 21), (0x7ffff3, 23), (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25),
    (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27),
    (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28),
    (0x7ffffec, 27), (0x7ffffed, 27), (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27),
    (0x3ffffee, 26), (0x3fffffff, 30),
]
_HUFFMAN_DECODE = {(length, code): sym for sym, (code, length) in enumerate(HUFFMAN)}


def huffman_encode(raw):
    out, bits, nbits = bytearray(), 0, 0
    for byte in raw:
        code, length = HUFFMAN[byte]
        bits, nbits = (bits << length) | code, nbits + length
        while nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xff)
        bits &= (1 << nbits) - 1
    if nbits:  # pad with the most significant bits of EOS (all ones)
        out.append(((bits << (8 - nbits)) | ((1 << (8 - nbits)) - 1)) & 0xff)
    return bytes(out)


def huffman_decode(encoded):
    out, code, length = bytearray(), 0, 0
    for byte in encoded:
        for shift in range(7, -1, -1):
            code, length = (code << 1) | ((byte >> shift) & 1), length + 1
            sym = _HUFFMAN_DECODE.get((length, code))
            if sym is not None:
                if sym == 256:
                    raise HpackError("EOS inside a Huffman string")
                out.append(sym)
                code, length = 0, 0
            elif length > 30:
                raise HpackError("no Huffman code matches")
    if length > 7 or code != (1 << length) - 1:
        raise HpackError("bad Huffman padding")
    return bytes(out)


def hpack_int(value, prefix, first=0):
    """An integer with an N-bit prefix (§5.1); first holds the bits above the prefix."""
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s, huffman=False):
    """A string literal (§5.2), raw or Huffman-coded."""
    if isinstance(s, str):
        s = s.encode("latin-1")
    if huffman:
        s = huffman_encode(s)
        return hpack_int(len(s), 7, 0x80) + s
    return hpack_int(len(s), 7) + s


def literal(name, value, indexing=False, huffman=False):
    """A literal field with a new name: without indexing (§6.2.2, 0x00) or with
    incremental indexing (§6.2.1, 0x40: the field enters the decoder's dynamic table)."""
    return (b"\x40" if indexing else b"\x00") + hpack_str(name, huffman) + hpack_str(value, huffman)


def indexed(index):
    """An indexed field (§6.1): 1..61 static table, 62.. dynamic table (newest first)."""
    return hpack_int(index, 7, 0x80)


def table_size_update(size):
    return hpack_int(size, 5, 0x20)


def encode(fields, huffman=False):
    """A field block of literal fields without indexing, new names; None values are skipped."""
    return b"".join(literal(n, v, huffman=huffman) for n, v in fields if v is not None)


def request_fields(path="/", method="GET", authority="localhost", scheme="http"):
    return [(":method", method), (":scheme", scheme), (":path", path), (":authority", authority)]


def request_block(path="/", method="GET", extra=(), authority="localhost", huffman=False):
    return encode(request_fields(path, method, authority) + list(extra), huffman)


def field_size(name, value):
    """A field's size as HPACK and SETTINGS_MAX_HEADER_LIST_SIZE count it (§4.1)."""
    return len(name) + len(value) + 32


class HpackDecoder:
    """Decodes field blocks in order, keeping the dynamic table (§2.3, §4)."""

    def __init__(self, max_size=4096):
        self.table = []  # newest first
        self.size = 0
        self.max_size = max_size

    @staticmethod
    def _int(block, pos, prefix):
        if pos >= len(block):
            raise HpackError("truncated integer")
        limit = (1 << prefix) - 1
        value = block[pos] & limit
        pos += 1
        if value < limit:
            return value, pos
        shift = 0
        while True:
            if pos >= len(block) or shift > 28:
                raise HpackError("bad integer")
            byte = block[pos]
            pos += 1
            value += (byte & 0x7f) << shift
            shift += 7
            if not byte & 0x80:
                return value, pos

    def _str(self, block, pos):
        if pos >= len(block):
            raise HpackError("truncated string")
        huffman = block[pos] & 0x80
        length, pos = self._int(block, pos, 7)
        raw = bytes(block[pos:pos + length])
        if len(raw) < length:
            raise HpackError("truncated string")
        return (huffman_decode(raw) if huffman else raw), pos + length

    def _entry(self, index):
        if index == 0:
            raise HpackError("index 0")
        if index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        if index - 62 >= len(self.table):
            raise HpackError(f"index {index} past the dynamic table ({len(self.table)} entries)")
        return self.table[index - 62]

    def _evict(self):
        while self.size > self.max_size:
            name, value = self.table.pop()
            self.size -= field_size(name, value)

    def _add(self, name, value):
        self.table.insert(0, (name, value))
        self.size += field_size(name, value)
        self._evict()

    def decode(self, block):
        """[(name, value)] as str (latin-1) of one complete field block."""
        fields, pos = [], 0
        while pos < len(block):
            byte = block[pos]
            if byte & 0x80:  # §6.1 indexed
                index, pos = self._int(block, pos, 7)
                fields.append(self._entry(index))
                continue
            if byte & 0xe0 == 0x20:  # §6.3 dynamic table size update
                self.max_size, pos = self._int(block, pos, 5)
                self._evict()
                continue
            prefix = 6 if byte & 0x40 else 4  # §6.2.1 incremental, else §6.2.2/§6.2.3
            index, pos = self._int(block, pos, prefix)
            if index:
                name = self._entry(index)[0]
            else:
                name, pos = self._str(block, pos)
            value, pos = self._str(block, pos)
            if byte & 0x40:
                self._add(name, value)
            fields.append((name, value))
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in fields]


# ------------------------------------------------------------------ a connection

class Stream:
    """What one stream got: header blocks (decoded), DATA bytes, END_STREAM seen,
    RST_STREAM code (None if none)."""

    def __init__(self, sid):
        self.id = sid
        self.blocks = []
        self.data = bytearray()
        self.ended = False
        self.reset = None

    @property
    def status(self):
        """The final (non-1xx) :status, or None."""
        for block in self.blocks:
            for name, value in block:
                if name == ":status" and not value.startswith("1"):
                    return int(value)
        return None

    def header(self, name, default=None):
        for block in self.blocks:
            for n, v in block:
                if n == name:
                    return v
        return default

    @property
    def done(self):
        return self.ended or self.reset is not None

    def __repr__(self):
        return (f"<stream {self.id} status={self.status} data={len(self.data)} ended={self.ended} "
                f"reset={None if self.reset is None else error_name(self.reset)}>")


class Conn:
    """One client connection speaking raw HTTP/2 frames. `frames` is every
    frame received in order; `sent` the first frames sent (summaries).
    auto_ack answers the server's SETTINGS and PING; auto_window sends
    WINDOW_UPDATE for each DATA received (connection, and the stream if it is
    not ending)."""

    LOGGED = 60  # sent frames kept for failure messages

    def __init__(self, port, host="127.0.0.1", timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so that the window scale follows it
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.raw = bytearray()  # the first bytes received, as they came
        self.frames = []
        self.frame_times = []  # time.monotonic() when each frame was read
        self.sent, self.sent_frames, self.bytes_sent = [], 0, 0
        self.send_error = None
        self.closed, self.close_reason, self.closed_at = False, None, None
        self.hpack = HpackDecoder()
        self.block = None  # (stream, flags, bytearray) while CONTINUATION frames are due
        self.streams = {}
        self.goaways = []  # (last_stream, code, debug)
        self.server_settings = None  # dict of the first non-ACK SETTINGS
        self.settings_acks = 0
        self.ping_acks = []
        self.conn_window_increments = 0
        self.auto_ack = True
        self.auto_window = True
        self.parse = True  # False: only keep the raw bytes (for answers that are not frames)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending

    def send(self, raw):
        """Sends bytes (frames); False (and send_error set) if the socket failed or
        the send did not finish within the socket timeout."""
        if self.send_error is not None:
            return False
        self._log_sent(raw)
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(raw)
        except (OSError, socket.timeout) as e:
            self.send_error = repr(e)
            return False
        self.bytes_sent += len(raw)
        return True

    def _log_sent(self, raw):
        if raw.startswith(PREFACE):
            self.sent.append("PREFACE")
            raw = raw[len(PREFACE):]
        frames, rest = split_frames(raw)
        for f in frames:
            self.sent_frames += 1
            if len(self.sent) < self.LOGGED:
                self.sent.append(describe(f))
        if rest and len(self.sent) < self.LOGGED:
            self.sent.append(f"bytes{bytes(rest[:40])!r}")

    def start(self, pairs=(), wait=True):
        """Sends the preface and SETTINGS; with wait, reads until the server's
        SETTINGS and the ACK of ours came (their ACK is sent by auto_ack)."""
        self.send(PREFACE + settings(pairs))
        if wait:
            ok = self.read_until(lambda: self.server_settings is not None and self.settings_acks,
                                 self.timeout)
            assert ok, f"no SETTINGS exchange: {self.describe()}"
        return self

    def request(self, sid, path="/", method="GET", extra=(), end_stream=True, body=None,
                huffman=False):
        """HEADERS (and DATA with END_STREAM if body is given) for one request."""
        block = request_block(path, method, extra, huffman=huffman)
        raw = headers(sid, block, end_stream=end_stream and body is None)
        if body is not None:
            raw += data(sid, body, end_stream=end_stream)
        return self.send(raw)

    # -- receiving

    def pump(self, timeout):
        """One read, waiting at most timeout seconds (0: only what is there).
        Returns False once the connection is closed."""
        if self.closed:
            return False
        try:
            if timeout <= 0:
                self.sock.setblocking(False)
            else:
                self.sock.settimeout(timeout)
            got = self.sock.recv(1 << 20)
        except (socket.timeout, BlockingIOError):
            return True
        except OSError as e:
            self._closed(repr(e))
            return False
        finally:
            self.sock.settimeout(self.timeout)
        if not got:
            self._closed("EOF")
            return False
        if len(self.raw) < 65536:
            self.raw += got[:65536 - len(self.raw)]
        if self.parse:
            self.buf += got
            self._parse()
        return True

    def read_until(self, predicate, timeout=5.0):
        """Reads until predicate() holds, the connection closes or timeout
        seconds pass; returns predicate()."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                break
            self.pump(left)
        return bool(predicate())

    def read_for(self, seconds):
        """Reads everything that comes within `seconds`."""
        self.read_until(lambda: False, seconds)

    def wait_closed(self, timeout=5.0):
        """Reads (and records) until the peer closes; True if it did in time."""
        return self.read_until(lambda: self.closed, timeout)

    def _closed(self, reason):
        self.closed, self.close_reason, self.closed_at = True, reason, time.monotonic()

    def stream(self, sid):
        if sid not in self.streams:
            self.streams[sid] = Stream(sid)
        return self.streams[sid]

    def response(self, sid, timeout=5.0):
        """Reads until stream sid ended or was reset, or a GOAWAY / close came."""
        s = self.stream(sid)
        self.read_until(lambda: s.done or self.goaways, timeout)
        return s

    @property
    def goaway(self):
        """(last_stream, code, debug) of the first GOAWAY received, or None."""
        return self.goaways[0] if self.goaways else None

    def ping_roundtrip(self, opaque=b"alive?!!", timeout=5.0):
        self.send(ping(opaque))
        return self.read_until(lambda: opaque in self.ping_acks, timeout)

    def _parse(self):
        frames, rest = split_frames(self.buf)
        self.buf = bytearray(rest)
        now = time.monotonic()
        for f in frames:
            self.frames.append(f)
            self.frame_times.append(now)
            self._on_frame(f)

    def _on_frame(self, f):
        p = f.payload
        if f.type == SETTINGS:
            if f.flags & ACK:
                self.settings_acks += 1
            else:
                if self.server_settings is None:
                    self.server_settings = dict(settings_pairs(p))
                if self.auto_ack:
                    self.send(settings(ack=True))
        elif f.type == PING:
            if f.flags & ACK:
                self.ping_acks.append(p)
            elif self.auto_ack:
                self.send(ping(p, ack=True))
        elif f.type == GOAWAY:
            last, code = struct.unpack(">II", p[:8])
            self.goaways.append((last & 0x7fffffff, code, p[8:]))
        elif f.type == RST_STREAM:
            self.stream(f.stream).reset = struct.unpack(">I", p)[0]
        elif f.type == WINDOW_UPDATE:
            if f.stream == 0:
                self.conn_window_increments += struct.unpack(">I", p)[0] & 0x7fffffff
        elif f.type == HEADERS:
            if f.flags & PADDED:
                p = p[1:len(p) - p[0]]
            if f.flags & PRIORITY_FLAG:
                p = p[5:]
            self.block = (f.stream, f.flags, bytearray(p))
            if f.flags & END_HEADERS:
                self._block_done()
        elif f.type == CONTINUATION:
            assert self.block is not None and self.block[0] == f.stream, \
                f"CONTINUATION without its HEADERS: {self.describe()}"
            self.block[2].extend(p)
            if f.flags & END_HEADERS:
                self._block_done()
        elif f.type == DATA:
            s = self.stream(f.stream)
            body = p[1:len(p) - p[0]] if f.flags & PADDED else p
            s.data += body
            if f.flags & END_STREAM:
                s.ended = True
            if self.auto_window and p:
                self.send(window_update(0, len(p))
                          + (b"" if s.ended else window_update(f.stream, len(p))))

    def _block_done(self):
        sid, flags, block = self.block
        self.block = None
        try:
            fields = self.hpack.decode(bytes(block))
        except HpackError as e:
            raise AssertionError(f"cannot decode the server's field block on stream {sid} "
                                 f"({e}): {bytes(block[:80]).hex()}") from None
        s = self.stream(sid)
        s.blocks.append(fields)
        if flags & END_STREAM:
            s.ended = True

    def describe(self, last=25):
        """Frames sent and got, for failure messages."""
        got = [describe(f) for f in self.frames]
        if len(got) > 2 * last:
            got = got[:last] + [f"... {len(got) - 2 * last} more ..."] + got[-last:]
        sent = list(self.sent)
        if self.sent_frames > len([s for s in sent if s != "PREFACE"]):
            sent.append(f"... {self.sent_frames} frames in all, {self.bytes_sent} bytes")
        state = f"closed ({self.close_reason})" if self.closed else "open"
        if self.send_error:
            state += f", send failed: {self.send_error}"
        return f"\n  sent: {sent}\n  got: {got}\n  connection: {state}"


def filler_field(size, name="x-fill", char="f"):
    """A literal field (without indexing, new name, raw) of exactly `size` encoded bytes."""
    for pad in range(3):  # a longer name where the value's length prefix would jump
        field_name = name + "x" * pad
        overhead = 1 + len(hpack_str(field_name))
        for intlen in (1, 2, 3, 4):
            n = size - overhead - intlen
            if n >= 0 and len(hpack_int(n, 7)) == intlen:
                field = literal(field_name, char * n)
                assert len(field) == size
                return field
    raise ValueError(f"no literal field of {size} bytes")
