"""LATENCY (LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM, HELP) and LOLWUT against
the real redis-server. What depends on measured time (the latencies themselves, their
graph rows, the histogram buckets) or on rand() (LOLWUT's drawings) is masked; the rest
is compared byte for byte."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest

from diskredis.commands.latency import cumulative_usec
from diskredis.commands.lolwut import Canvas, schotter, skyline
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
    for args in (
        ("LATENCY", "HELP"),
        ("LATENCY", "HELP", "x"),
        ("LATENCY", "DOCTOR"),
        ("LATENCY", "GRAPH", "command"),
        ("LATENCY", "GRAPH"),
        ("LATENCY", "HISTOGRAM", "nosuch"),
        ("LATENCY", "RESET", "nosuch"),
        ("LATENCY", "DOCTOR", "x"),
    ):
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
    for args in (
        ("LATENCY", "LATEST"),
        ("LATENCY", "HISTORY", "command"),
        ("LATENCY", "HISTORY", "command\0x"),  # a C string: up to the NUL
        ("LATENCY", "HISTORY", "COMMAND"),
        ("LATENCY", "HISTORY", "nosuch"),
    ):
        ours, theirs = ldiff.both(*args)
        assert _masked_numbers(ours) == _masked_numbers(theirs), args
    ldiff("LATENCY", "RESET", "COMMAND")  # event names are matched ignoring case
    ldiff.masked("HELLO", "2")


def _histogram(raw: bytes) -> dict[bytes, int]:
    value = _parse(raw)
    pairs = value.items() if isinstance(value, dict) else zip(value[::2], value[1::2], strict=True)
    out = {}
    for name, detail in pairs:
        detail = (
            detail
            if isinstance(detail, dict)
            else dict(zip(detail[::2], detail[1::2], strict=True))
        )
        out[name] = detail[b"calls"]
    return out


@pytest.mark.parametrize("proto", ["2", "3"])
def test_histogram_counts_the_calls(ldiff: Diff, proto: str) -> None:
    ldiff.masked("HELLO", proto)
    for _ in range(3):
        ldiff("SET", "lat:k", "v")
    ldiff("GET", "lat:k")
    ldiff.both("CLIENT", "ID")
    for args in (
        ("LATENCY", "HISTOGRAM", "set", "get"),
        ("LATENCY", "HISTOGRAM", "set", "set"),
        ("LATENCY", "HISTOGRAM", "client"),
        ("LATENCY", "HISTOGRAM", "client|id"),
        ("LATENCY", "HISTOGRAM", "nosuch", "get"),
    ):
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
    # a call past the last level (2^29 ns) lands in the table's last bucket
    assert cumulative_usec({hdr_bucket(1_100_000_000): 1}, 1) == {1073741: 1}
    assert cumulative_usec({hdr_bucket(1500): 2, hdr_bucket(5000): 1}, 3) == {1: 2, 8: 3}


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("VERSION", "1"),
        ("VERSION", "7"),
        ("VERSION", "x"),
        ("VERSION",),
        ("VERSION", "-1"),
        ("VERSION", "5", "x"),
        ("VERSION", "5", "1", "1", "1"),
    ],
)
def test_lolwut_exact(ldiff: Diff, args: tuple[str, ...]) -> None:
    ldiff("LOLWUT", *args)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _shape(raw: bytes) -> tuple[int, list[int], bytes]:
    """A drawing's line count, line lengths (in characters, colours left out) and last
    line."""
    text = _ANSI.sub("", _parse(raw).decode("utf-8"))
    lines = text.split("\n")
    return len(lines), [len(x) for x in lines], lines[-2].encode()


@pytest.mark.parametrize(
    "args",
    [
        ("VERSION", "5"),
        ("VERSION", "5", "40", "3", "5"),
        ("VERSION", "6"),
        ("VERSION", "6", "30", "8"),
        ("VERSION", "4294967301"),
    ],
)
def test_lolwut_drawings_have_redis_shape(ldiff: Diff, args: tuple[str, ...]) -> None:
    """The squares and the skyline are drawn with rand(): their shape, characters and
    caption are Redis's."""
    ours, theirs = ldiff.both("LOLWUT", *args)
    assert _shape(ours) == _shape(theirs)
    assert set(_parse(ours).decode()) <= set(_parse(theirs).decode()) | {
        chr(c) for c in range(0x2800, 0x2900)
    }


class GlibcRand:
    """glibc's rand() after srand(seed): the additive feedback generator of random_r
    (TYPE_3: 31 words, separation 3, 310 outputs discarded)."""

    def __init__(self, seed: int) -> None:
        seed &= 0xFFFFFFFF
        if seed == 0:
            seed = 1
        word = seed - (1 << 32) if seed >= 1 << 31 else seed  # an int32_t
        state = [word]
        for _ in range(30):
            hi = abs(word) // 127773 * (1 if word >= 0 else -1)  # C division truncates
            lo = word - hi * 127773
            word = 16807 * lo - 2836 * hi
            if word < 0:
                word += 2147483647
            state.append(word)
        self._state = [w & 0xFFFFFFFF for w in state]
        self._front, self._rear = 3, 0
        for _ in range(310):
            self()

    def __call__(self) -> int:
        state, front, rear = self._state, self._front, self._rear
        value = (state[front] + state[rear]) & 0xFFFFFFFF
        state[front] = value
        self._front = (front + 1) % 31
        self._rear = (rear + 1) % 31
        return value >> 1


# SHA1 of the pixels (width x height bytes, row by row) that Redis 7.0.15's own
# lwDrawSchotter (lolwut5.c) and generateSkyline (lolwut6.c), compiled with glibc and
# seeded with srand(seed), draw for (seed, version, arguments...): redis-server seeds
# itself from the clock, so its drawings can only be compared this way.
_REDIS_PIXELS = [
    (1, 5, (66, 8, 12), (132, 196), "0af11f95c9b31e80955940c95950ce74ce91d482"),
    (7, 5, (1000, 200, 200), (2000, 1999), "306a49c4f01b4175dbb864355b1d07d6e67fcf10"),
    (12345, 5, (40, 3, 5), (80, 130), "2f1729a7b9148dad87bbf4cb3203156bfb366fbe"),
    (99, 6, (80, 20), (80, 20), "a68062aece1cff2c8bc36a581de76fd6d262486e"),
    (2**32 - 1, 6, (1000, 1000), (1000, 1000), "45815427a77c5627e324f479b02d5fc9b9b2f071"),
    (3, 6, (30, 8), (30, 8), "b88fe9e0892bf183ff23d777e66dc10a58b8b296"),
]


@pytest.mark.parametrize("seed,version,args,size,sha", _REDIS_PIXELS)
def test_lolwut_draws_redis_pixels(
    seed: int, version: int, args: tuple[int, ...], size: tuple[int, int], sha: str
) -> None:
    """Given the random numbers Redis's drawing code gets, the same pixels."""
    rand = GlibcRand(seed)
    if version == 5:
        canvas = schotter(*args, rand)
    else:
        canvas = Canvas(*args, 3)
        skyline(canvas, rand)
    assert (canvas.width, canvas.height) == size
    assert hashlib.sha1(bytes(canvas.pixels)).hexdigest() == sha
