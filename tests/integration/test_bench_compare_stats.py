#!/usr/bin/env python3
"""The statistics of bench/compare's report, on made-up rounds: the per-round
ratio to the better peer, and every proxy judged by that same rule. (No
ringlb is started: this checks the arithmetic issue 15's verdicts rest on.)"""
import importlib.machinery
import importlib.util
import os

from harness import parse_args, run_tests

COMPARE = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "compare")


def load_compare():
    loader = importlib.machinery.SourceFileLoader("bench_compare", COMPARE)
    spec = importlib.util.spec_from_loader("bench_compare", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


cmp = load_compare()


def rounds_of(**figures):
    """{party: [row per round]} from party=[(p99, cpu), ...]."""
    return {party: [{"p99 ms": p99, "proxy CPU us/req": cpu, "req/s": 1000 / cpu}
                    for p99, cpu in rows]
            for party, rows in figures.items()}


def test_ratio_is_over_the_better_peer_of_the_same_round():
    runs = rounds_of(ringlb=[(2.0, 10), (3.0, 10)], nginx=[(4.0, 20), (2.0, 12)],
                     haproxy=[(2.5, 16), (6.0, 25)])
    assert cmp.round_ratios(runs, "p99 ms", ["nginx", "haproxy"]) == [2.0 / 2.5, 3.0 / 2.0]
    assert cmp.round_ratios(runs, "proxy CPU us/req", ["nginx", "haproxy"]) == [10 / 16, 10 / 12]
    # Throughput: higher is better, so the better peer is the larger.
    ratios = cmp.round_ratios(runs, "req/s", ["nginx", "haproxy"])
    assert [round(r, 6) for r in ratios] == [round(100 / 62.5, 6), round(100 / (1000 / 12), 6)]


def test_ratio_of_another_party_uses_the_same_rule():
    runs = rounds_of(ringlb=[(2.0, 10)], nginx=[(4.0, 20)], haproxy=[(2.5, 16)])
    assert cmp.round_ratios(runs, "p99 ms", ["ringlb", "haproxy"], party="nginx") == [4.0 / 2.0]


def test_equal_parties_read_one_and_a_better_one_below_one():
    same = [(2.0, 10)] * 5
    line = cmp.same_rule_line(rounds_of(ringlb=same, nginx=same, haproxy=same),
                              cmp.ALL_PROXIES, 5)
    assert "p99 ms: ringlb 1.00, nginx 1.00, haproxy 1.00" in line, line
    better = [(1.8, 8)] * 5
    line = cmp.same_rule_line(rounds_of(ringlb=better, nginx=same, haproxy=same),
                              cmp.ALL_PROXIES, 5)
    assert "p99 ms: ringlb 0.90, nginx 1.11, haproxy 1.11" in line, line
    assert "proxy CPU us/req: ringlb 0.80, nginx 1.25, haproxy 1.25" in line, line


def test_at_parity_with_noise_every_party_reads_above_one():
    # Three parties with the same spread, each best in one round of three:
    # against the better of the other two, each wins a third of the rounds.
    runs = rounds_of(ringlb=[(1.0, 10), (2.0, 10), (3.0, 10)],
                     nginx=[(2.0, 10), (3.0, 10), (1.0, 10)],
                     haproxy=[(3.0, 10), (1.0, 10), (2.0, 10)])
    for party in ("ringlb", "nginx", "haproxy"):
        others = [p for p in ("ringlb", "nginx", "haproxy") if p != party]
        ratios = sorted(cmp.round_ratios(runs, "p99 ms", others, party=party))
        assert ratios[1] > 1, (party, ratios)  # the median of three
    line = cmp.same_rule_line(runs, cmp.ALL_PROXIES, 3)
    assert "ringlb 2.00 (0.50–3.00), nginx 2.00 (0.50–3.00), haproxy 2.00 (0.50–3.00)" in line


def test_each_peer_alone_shows_what_the_better_of_two_hides():
    # ringlb's p99 is below each peer's in two rounds of three, yet over the
    # better of the two it reads 2.00: each peer is best in a different round.
    runs = rounds_of(ringlb=[(2.0, 10)] * 3,
                     nginx=[(1.0, 10), (3.0, 10), (3.0, 10)],
                     haproxy=[(3.0, 20), (1.0, 20), (3.0, 20)])
    better = sorted(cmp.round_ratios(runs, "p99 ms", ["nginx", "haproxy"]))
    assert better[1] == 2.0, better
    line = cmp.per_peer_line(runs, cmp.ALL_PROXIES, 3)
    assert "p99 ms: over nginx 0.67 (0.67–2.00), over haproxy 0.67 (0.67–2.00)" in line, line
    assert "proxy CPU us/req: over nginx 1.00, over haproxy 0.50" in line, line
    assert cmp.per_peer_line(rounds_of(ringlb=[(2.0, 10)], nginx=[(4.0, 20)]),
                             cmp.ALL_PROXIES, 5) is None


def test_no_line_with_fewer_than_three_proxies():
    runs = rounds_of(ringlb=[(2.0, 10)], nginx=[(4.0, 20)])
    assert cmp.same_rule_line(runs, cmp.ALL_PROXIES, 5) is None


if __name__ == "__main__":
    parse_args()
    run_tests([
        ("the ratio is over the better peer of the same round",
         test_ratio_is_over_the_better_peer_of_the_same_round),
        ("another party's ratio uses the same rule", test_ratio_of_another_party_uses_the_same_rule),
        ("equal parties read 1.00, a better one below 1",
         test_equal_parties_read_one_and_a_better_one_below_one),
        ("at parity with noise every party reads above 1",
         test_at_parity_with_noise_every_party_reads_above_one),
        ("each peer alone shows what the better of two hides",
         test_each_peer_alone_shows_what_the_better_of_two_hides),
        ("no line with fewer than three proxies", test_no_line_with_fewer_than_three_proxies),
    ])
