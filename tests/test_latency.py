"""LATENCY (LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM, HELP) and LOLWUT against
the real redis-server. What depends on measured time (the latencies themselves, their
graph rows, the histogram buckets) or on rand() (LOLWUT's drawings) is masked; the rest
is compared byte for byte."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from diskredis.commands.registry import hdr_bucket, hdr_highest_equivalent
from tests.conftest import Diff, ServerProc, _parse


@pytest.fixture
def ldiff(dr: ServerProc, oracle: ServerProc) -> Iterator[Diff]:
    d = Diff(dr.raw(), oracle.raw())
    d("CONFIG", "SET", "latency-monitor-threshold", "0")
    d.both("LATENCY", "RESET")  # what earlier tests left differs
    d("CONFIG", "RESETSTAT")
    yield d
    d("CONFIG", "SET", "latency-monitor-threshold", "0")
    d.both("LATENCY", "RESET")


_NUMBERS = re.compile(rb"\d+")


def _masked_numbers(raw: bytes) -> bytes:
    return _NUMBERS.sub(b"N", raw)


def test_replies_without_events(ldiff: Diff) -> None:
    for args in (("LATENCY", "HELP"), ("LATENCY", "HELP", "x"), ("LATENCY", "DOCTOR"),
                 ("LATENCY", "GRAPH", "command"), ("LATENCY", "GRAPH"),
                 ("LATENCY", "HISTOGRAM", "nosuch"), ("LATENCY", "RESET", "nosuch"),
                 ("LATENCY", "DOCTOR", "x")):
        ldiff(*args)
    ldiff("CONFIG", "SET", "latency-monitor-threshold", "1")
    ldiff("LATENCY", "DOCTOR")  # on, and nothing recorded yet


@pytest.mark.parametrize("proto", ["2", "3"])
def test_graph_and_doctor_of_recorded_events(ldiff: Diff, proto: str) -> None:
    ldiff.masked("HELLO", proto)
    ldiff("CONFIG", "SET", "latency-monitor-threshold", "10")
    ldiff("DEBUG", "SLEEP", "0.05")  # one sample: two could fall in one second or two
    ours, theirs = ldiff.both("LATENCY", "GRAPH", "command")
    # the header, the age labels and the legend are Redis's; the latencies are measured
    assert _masked_numbers(ours) == _masked_numbers(theirs)
    ours, theirs = ldiff.both("LATENCY", "DOCTOR")
    assert _masked_numbers(ours) == _masked_numbers(theirs)
    ldiff("LATENCY", "RESET", "COMMAND")  # event names are matched ignoring case
    ldiff.masked("HELLO", "2")


def _histogram(raw: bytes) -> dict[bytes, int]:
    value = _parse(raw)
    pairs = value.items() if isinstance(value, dict) else zip(value[::2], value[1::2],
                                                              strict=True)
    out = {}
    for name, detail in pairs:
        detail = detail if isinstance(detail, dict) else dict(zip(detail[::2], detail[1::2],
                                                                  strict=True))
        out[name] = detail[b"calls"]
    return out


@pytest.mark.parametrize("proto", ["2", "3"])
def test_histogram_counts_the_calls(ldiff: Diff, proto: str) -> None:
    ldiff.masked("HELLO", proto)
    for _ in range(3):
        ldiff("SET", "lat:k", "v")
    ldiff("GET", "lat:k")
    ldiff.both("CLIENT", "ID")
    for args in (("LATENCY", "HISTOGRAM", "set", "get"), ("LATENCY", "HISTOGRAM", "set", "set"),
                 ("LATENCY", "HISTOGRAM", "client"), ("LATENCY", "HISTOGRAM", "client|id"),
                 ("LATENCY", "HISTOGRAM", "nosuch", "get")):
        ours, theirs = ldiff.both(*args)
        assert ours[:1] == theirs[:1] and _histogram(ours) == _histogram(theirs), args
        assert len(_parse(ours)) == len(_parse(theirs)), args  # "set set" answers twice
    ldiff.masked("HELLO", "2")


def test_histogram_buckets_are_redis_hdr_buckets() -> None:
    """A call counts in the bucket of its whole microseconds (2 significant digits of
    Redis's hdr histogram): 2.9 µs is 2000 ns to Redis; a bucket's last value is what
    the percentiles print."""
    assert hdr_bucket(999) == 1 and hdr_bucket(2999) == 2000
    assert hdr_highest_equivalent(hdr_bucket(2999)) == 2007
    assert hdr_bucket(3000) == 2992 and hdr_highest_equivalent(2992) == 3007
    assert hdr_bucket(5 * 10**9) == hdr_bucket(10**9)  # clamped at 1 s


@pytest.mark.parametrize("args", [(), ("VERSION", "1"), ("VERSION", "7"), ("VERSION", "x"),
                                  ("VERSION",), ("VERSION", "-1"), ("VERSION", "5", "x"),
                                  ("VERSION", "5", "1", "1", "1")])
def test_lolwut_exact(ldiff: Diff, args: tuple[str, ...]) -> None:
    ldiff("LOLWUT", *args)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _shape(raw: bytes) -> tuple[int, list[int], bytes]:
    """A drawing's line count, line lengths (in characters, colours left out) and last
    line."""
    text = _ANSI.sub("", _parse(raw).decode("utf-8"))
    lines = text.split("\n")
    return len(lines), [len(x) for x in lines], lines[-2].encode()


@pytest.mark.parametrize("args", [("VERSION", "5"), ("VERSION", "5", "40", "3", "5"),
                                  ("VERSION", "6"), ("VERSION", "6", "30", "8"),
                                  ("VERSION", "4294967301")])
def test_lolwut_drawings_have_redis_shape(ldiff: Diff, args: tuple[str, ...]) -> None:
    """The squares and the skyline are drawn with rand(): their shape, characters and
    caption are Redis's."""
    ours, theirs = ldiff.both("LOLWUT", *args)
    assert _shape(ours) == _shape(theirs)
    assert set(_parse(ours).decode()) <= set(_parse(theirs).decode()) | {
        chr(c) for c in range(0x2800, 0x2900)}
