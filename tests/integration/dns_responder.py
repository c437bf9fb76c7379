"""A small DNS responder for tests, on a UDP loopback port: answers A and
AAAA queries from a table (name -> list of addresses, TTL, delay), SRV
queries from another (name -> records), NXDOMAIN for names it does not know,
SERVFAIL for names told to fail, and counts the queries per name. Each query
is answered on its own thread, so a delayed name does not hold up the
others."""

import ipaddress
import socket
import struct
import threading
import time


class DnsResponder:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.records = {}  # name -> (addresses, ttl, delay seconds)
        self.srv = {}  # name -> ([(priority, weight, port, target)], ttl)
        self.failing = set()  # names answered with SERVFAIL
        self.queries = {}  # name -> count
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def add(self, name, addresses, ttl=60, delay=0.0):
        with self.lock:
            self.records[name.lower().rstrip(".")] = (list(addresses), ttl, delay)

    def add_srv(self, name, records, ttl=60):
        """records: (priority, weight, port, target) tuples."""
        with self.lock:
            self.srv[name.lower().rstrip(".")] = (list(records), ttl)

    def remove(self, name):
        with self.lock:
            self.records.pop(name.lower().rstrip("."), None)
            self.srv.pop(name.lower().rstrip("."), None)

    def fail(self, name, failing=True):
        """SERVFAIL for name while failing (a broken server, not a missing name)."""
        with self.lock:
            (self.failing.add if failing else self.failing.discard)(name.lower().rstrip("."))

    def count(self, name):
        with self.lock:
            return self.queries.get(name.lower().rstrip("."), 0)

    def stop(self):
        self.stopped = True
        self.sock.close()

    def _serve(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            threading.Thread(target=self._answer, args=(data, peer), daemon=True).start()

    def _answer(self, data, peer):
        try:
            qid, _flags, qdcount = struct.unpack("!HHH", data[:6])
            if qdcount != 1:
                return
            labels, i = [], 12
            while data[i] != 0:
                n = data[i]
                labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
                i += n + 1
            question = data[12:i + 5]
            qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
        except (IndexError, struct.error):
            return
        name = ".".join(labels).lower()
        with self.lock:
            self.queries[name] = self.queries.get(name, 0) + 1
            record = self.records.get(name)
            srv = self.srv.get(name)
            failing = name in self.failing
        if record and record[2] > 0:
            time.sleep(record[2])
        answers = []
        rcode = 3  # NXDOMAIN
        if failing:
            rcode = 2  # SERVFAIL
        elif qtype == 33 and srv:
            rcode = 0
            records, ttl = srv
            for priority, weight, port, target in records:
                rdata = struct.pack("!HHH", priority, weight, port) + _encode_name(target)
                answers.append(struct.pack("!HHHIH", 0xC00C, 33, 1, ttl, len(rdata)) + rdata)
        elif srv:
            rcode = 0  # the name exists, with no record of this type
        elif record:
            rcode = 0
            addresses, ttl, _ = record
            for a in addresses:
                ip = ipaddress.ip_address(a)
                if (qtype == 1 and ip.version == 4) or (qtype == 28 and ip.version == 6):
                    # a pointer to the question's name (offset 12)
                    answers.append(struct.pack("!HHHIH", 0xC00C, qtype, 1, ttl, len(ip.packed))
                                   + ip.packed)
        header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
        try:
            self.sock.sendto(header + question + b"".join(answers), peer)
        except OSError:
            pass


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\x00"
