"""A small DNS responder for tests, on a UDP loopback port: answers A and
AAAA queries from a table (name -> list of addresses, TTL, delay), NXDOMAIN
for names it does not know, and counts the queries per name. Each query is
answered on its own thread, so a delayed name does not hold up the others."""

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
        self.queries = {}  # name -> count
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def add(self, name, addresses, ttl=60, delay=0.0):
        with self.lock:
            self.records[name.lower().rstrip(".")] = (list(addresses), ttl, delay)

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
        if record and record[2] > 0:
            time.sleep(record[2])
        answers = []
        rcode = 3  # NXDOMAIN
        if record:
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
