"""Several instances behind ECMP or a Kubernetes Service must agree: two
ringlb processes started from one config send each hash key to the same
backend (Maglev, docs/balancing.md), and after a backend leaves only its
share of the keys moves (within 2 points of 1/N). 10,000 keys, 5 backends,
keep-alive clients on several threads."""

import http.client
import threading

from harness import FixedBodyServer, Ringlb, free_port, parse_args, run_module

ARGS = parse_args()
KEYS = [f"user-{i}" for i in range(10_000)]
BACKENDS = 5


def config(port, admin_port, backends):
    listed = ", ".join(f'"{b.address}"' for b in backends)
    return f"""
[global]
workers = 2
drain_timeout = "2s"

[admin]
bind = "127.0.0.1:{admin_port}"

[pools.app]
balance = "hash"
hash_key = "header:X-Key"
backends = [{listed}]

[listeners.web]
bind = "127.0.0.1:{port}"
mode = "http"
pool = "app"
"""


def mapping(port, keys, threads=4):
    """key -> the backend's name, through the instance on `port`."""
    out = {}
    chunks = [keys[i::threads] for i in range(threads)]
    errors = []

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for k in chunk:
                conn.request("GET", "/", headers={"X-Key": k})
                r = conn.getresponse()
                body = r.read().decode()
                if r.status != 200:
                    errors.append(f"{k}: {r.status} {body}")
                    return
                out[k] = body
        except OSError as e:
            errors.append(repr(e))
        finally:
            conn.close()

    workers = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not errors, errors[:5]
    assert len(out) == len(keys), f"{len(out)} answers for {len(keys)} keys"
    return out


class Setup:
    def __init__(self):
        self.backends = [FixedBodyServer(f"b{i}") for i in range(BACKENDS)]
        self.instances = []
        for _ in range(2):
            port, admin = free_port(), free_port()
            lb = Ringlb(ARGS.ringlb, config(port, admin, self.backends), [port, admin])
            self.instances.append((lb, port, admin))

    def close(self):
        for lb, _, _ in self.instances:
            lb.stop()
            lb.close()
        for b in self.backends:
            b.stop()


SETUP = None


def setup():
    global SETUP
    if SETUP is None:
        SETUP = Setup()
    return SETUP


def test_two_instances_map_10000_keys_identically_and_a_leaving_backend_moves_only_its_share():
    s = setup()
    (lb_a, port_a, _), (lb_b, port_b, admin_b) = s.instances
    a, b = mapping(port_a, KEYS), mapping(port_b, KEYS)
    differ = [k for k in KEYS if a[k] != b[k]]
    assert not differ, f"{len(differ)} keys map differently, e.g. {differ[:3]}"
    shares = {name: list(a.values()).count(name) / len(KEYS) for name in set(a.values())}
    assert len(shares) == BACKENDS and all(abs(v - 1 / BACKENDS) < 0.03 for v in shares.values()), \
        f"uneven shares: {shares}"

    # One backend leaves (removed from the config, reloaded in both instances).
    gone = s.backends[2]
    remaining = [x for x in s.backends if x is not gone]
    for lb, port, admin in s.instances:
        lb.write_config(config(port, admin, remaining))
        lb.reload()
        lb.wait_log("reload done")
    after_a, after_b = mapping(port_a, KEYS), mapping(port_b, KEYS)
    differ = [k for k in KEYS if after_a[k] != after_b[k]]
    assert not differ, f"after the reload {len(differ)} keys map differently"
    moved = [k for k in KEYS if after_a[k] != a[k]]
    share = len(moved) / len(KEYS)
    print(f"  shares before: { {k: round(v, 4) for k, v in sorted(shares.items())} }; "
          f"moved after b2 left: {share:.4f} (1/N = {1 / BACKENDS})")
    assert abs(share - 1 / BACKENDS) <= 0.02, \
        f"{share:.3f} of the keys moved; 1/N = {1 / BACKENDS:.3f} (Maglev keeps it near 1/N)"
    assert all(a[k] == "b2" for k in moved) or \
        sum(a[k] != "b2" for k in moved) / len(KEYS) <= 0.02, \
        "keys of the backends that stayed moved too"
    assert "b2" not in after_a.values(), "a key still goes to the backend that left"


if __name__ == "__main__":
    run_module(globals(), lambda: SETUP and SETUP.close())
