"""The RDB codec on its own (no server): checksum, LZF, the packed encodings, files.
Values made by Redis itself are covered by tests/test_dump_restore.py and
tests/test_rdb_tools.py; here are the formats' corners and corrupt input."""

from __future__ import annotations

import contextlib
import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diskredis.rdb import codec, lzf
from diskredis.rdb import packed as P
from diskredis.rdb.crc64 import crc64, crc64_python
from diskredis.rdb.model import (
    Nack,
    Record,
    RHash,
    RList,
    RSet,
    RStream,
    RZSet,
    StreamGroup,
    StreamNode,
)
from diskredis.util import string2ll


def test_crc64_check_value() -> None:
    assert crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64_python(0, b"123456789") == 0xE9C6D914C4B8D9CA


@given(st.binary(max_size=3000), st.integers(0, 2**64 - 1))
def test_crc64_both_loops_agree(data: bytes, start: int) -> None:
    assert crc64(start, data) == crc64_python(start, data)
    half = len(data) // 2
    assert crc64(crc64(start, data[:half]), data[half:]) == crc64(start, data)


@given(
    st.one_of(
        st.binary(max_size=2000),
        st.lists(st.sampled_from([b"ab", b"abc", b"x" * 300, b"\x00"]), max_size=200).map(b"".join),
    )
)
def test_lzf_round_trip(data: bytes) -> None:
    """liblzf (C) and the Python loops read each other's output."""
    if not data:
        assert lzf.compress(data, 100) is None
        return
    for packed in (lzf.compress(data, len(data) + 100), lzf.compress_python(data, len(data) + 100)):
        assert packed is not None
        assert lzf.decompress(packed, len(data)) == data
        assert lzf.decompress_python(packed, len(data)) == data
    tight = lzf.compress(data, len(data) - 4)  # rdbSaveLzfStringObject's budget: len - 4
    assert tight is None or len(tight) <= len(data) - 4


@pytest.mark.parametrize(
    "data,size",
    [
        (b"\x05ab", 6),  # a literal run past the end
        (b"\x20", 3),  # a back reference cut short
        (b"\x00a\x20\x05", 3),  # a reference before the start
        (b"\x00a", 2),  # the wrong size
        (b"\x01ab", 85963890970624),  # more than 3 bytes expand to (python-lzf crashed)
        (b"\x01ab", 2**62),
    ],
)
def test_lzf_refuses_bad_input(data: bytes, size: int) -> None:
    with pytest.raises(lzf.LzfError):
        lzf.decompress(data, size)
    with pytest.raises(lzf.LzfError):
        lzf.decompress_python(data, size)


# -- listpack --------------------------------------------------------------------------
_element = st.one_of(
    st.binary(max_size=5000),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: b"%d" % i),
    st.sampled_from(
        [
            b"0",
            b"-0",
            b"007",
            b"+1",
            b"9223372036854775808",
            b"-9223372036854775808",
            b"127",
            b"128",
            b"-4096",
            b"4095",
            b"4096",
            b"-32769",
            b"8388608",
            b"2147483648",
        ]
    ),
)


@given(st.lists(_element, max_size=30))
def test_listpack_round_trip(items: list[bytes]) -> None:
    elements = [P.lp_str(x) for x in items]
    lp = P.listpack(elements)
    assert P.texts(P.read_listpack(lp)) == items
    assert [len(e) for e in elements] == [P.str_size(x) for x in items]
    for x, got in zip(items, P.read_listpack(lp), strict=True):
        assert isinstance(got, int) == (string2ll(x) is not None)


def test_listpack_backlen_boundaries() -> None:
    for size in (127, 128, 16382, 16383, 2097150, 2097151):
        raw = P.backlen(size)
        value = 0
        for b in raw:
            value = (value << 7) | (b & 127)
        assert value == size


@pytest.mark.parametrize(
    "lp",
    [
        b"",
        b"\x07\x00\x00\x00\x00\x00\x00",
        b"\x08\x00\x00\x00\x01\x00\x81\xff",
        b"\x0a\x00\x00\x00\x01\x00\x81a\x03\xff",
        b"\x0a\x00\x00\x00\x01\x00\xf9a\x02\xff",
    ],
)
def test_listpack_refuses_bad_input(lp: bytes) -> None:
    with pytest.raises(P.PackedError):
        P.read_listpack(lp)


# -- the older encodings, built by hand from their specifications -------------------------
def _ziplist(entries: list[bytes | int]) -> bytes:
    body = b""
    prev = 0
    for e in entries:
        head = bytes((prev,)) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        if isinstance(e, int):
            if 0 <= e <= 12:
                enc = bytes((0xF1 + e,))
            elif -128 <= e <= 127:
                enc = b"\xfe" + struct.pack("<b", e)
            elif -32768 <= e <= 32767:
                enc = b"\xc0" + struct.pack("<h", e)
            elif -(1 << 23) <= e < 1 << 23:
                enc = b"\xf0" + (e & 0xFFFFFF).to_bytes(3, "little")
            elif -(1 << 31) <= e < 1 << 31:
                enc = b"\xd0" + struct.pack("<i", e)
            else:
                enc = b"\xe0" + struct.pack("<q", e)
        elif len(e) < 64:
            enc = bytes((len(e),)) + e
        elif len(e) < 16384:
            enc = struct.pack(">H", 0x4000 | len(e)) + e
        else:
            enc = b"\x80" + struct.pack(">I", len(e)) + e
        entry = head + enc
        body += entry
        prev = len(entry)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, 10, len(entries)) + body + b"\xff"


def test_ziplist_every_encoding() -> None:
    entries: list[bytes | int] = [
        b"a",
        0,
        12,
        13,
        -1,
        127,
        -129,
        32767,
        -40000,
        8388607,
        -8388609,
        2**31 - 1,
        -(2**31) - 1,
        2**62,
        b"x" * 300,
        b"y" * 20000,
    ]
    assert P.read_ziplist(_ziplist(entries)) == [
        e if isinstance(e, bytes) else b"%d" % e for e in entries
    ]


def test_intset_and_zipmap() -> None:
    assert P.read_intset(struct.pack("<II", 2, 3) + struct.pack("<3h", -5, 1, 300)) == [
        b"-5",
        b"1",
        b"300",
    ]
    assert P.read_intset(struct.pack("<II", 8, 1) + struct.pack("<q", 2**40)) == [b"%d" % 2**40]
    with pytest.raises(P.PackedError):
        P.read_intset(struct.pack("<II", 3, 0))
    big = b"v" * 300
    zm = (
        b"\x02"
        + b"\x01f"
        + b"\x01\x02"
        + b"v"
        + b"\x00\x00"
        + b"\x02ab"
        + b"\xfe"
        + struct.pack("<I", 300)
        + b"\x00"
        + big
        + b"\xff"
    )
    assert P.read_zipmap(zm) == [b"f", b"v", b"ab", big]
    with pytest.raises(P.PackedError):
        P.read_zipmap(zm[:-1])


def _dump(rdbtype: int, raw: bytes) -> bytes:
    body = bytes((rdbtype,)) + codec.enc_string(raw, False) + b"\x0a\x00"
    return body + crc64(0, body).to_bytes(8, "little")


def test_old_encodings_in_payloads() -> None:
    zl = _ziplist([b"a", 1, b"b", 2])
    assert codec.parse_dump(_dump(codec.T_LIST_ZIPLIST, zl)) == RList([b"a", b"1", b"b", b"2"])
    assert codec.parse_dump(_dump(codec.T_HASH_ZIPLIST, zl)) == RHash([(b"a", b"1"), (b"b", b"2")])
    assert codec.parse_dump(_dump(codec.T_ZSET_ZIPLIST, zl)) == RZSet([(b"a", 1.0), (b"b", 2.0)])
    intset = struct.pack("<II", 4, 2) + struct.pack("<2i", 7, 70000)
    assert codec.parse_dump(_dump(codec.T_SET_INTSET, intset)) == RSet([b"7", b"70000"])
    quick = (
        bytes((codec.T_LIST_QUICKLIST,))
        + b"\x02"
        + codec.enc_string(zl, False)
        + codec.enc_string(_ziplist([b"c"]), False)
        + b"\x0a\x00"
    )
    quick += crc64(0, quick).to_bytes(8, "little")
    assert codec.parse_dump(quick) == RList([b"a", b"1", b"b", b"2", b"c"])
    with pytest.raises(codec.RdbError):
        codec.parse_dump(_dump(codec.T_ZSET_ZIPLIST, _ziplist([b"a", b"nan"])))
    with pytest.raises(codec.RdbError):
        codec.parse_dump(_dump(codec.T_HASH_ZIPLIST, _ziplist([b"a", 1, b"a", 2])))
    with pytest.raises(codec.EmptyKey):
        codec.parse_dump(_dump(codec.T_LIST_ZIPLIST, _ziplist([])))


def test_text_scores_of_rdb_type_zset() -> None:
    body = bytes((codec.T_ZSET,)) + b"\x03" + b"\x01a\x031.5" + b"\x01b\xfe" + b"\x01c\xff"
    body += b"\x0a\x00"
    payload = body + crc64(0, body).to_bytes(8, "little")
    assert codec.parse_dump(payload) == RZSet(
        [(b"a", 1.5), (b"b", float("inf")), (b"c", float("-inf"))]
    )


# -- files ------------------------------------------------------------------------------
STREAM = RStream(
    nodes=[
        StreamNode((5, 0), [b"a"], [((5, 0), [b"a", b"1"]), ((5, 1), [b"b", b"2", b"b", b"3"])]),
        StreamNode((9, 0), [b"x"], [((9, 0), [b"x", b"-17"])]),
    ],
    length=3,
    last=(9, 0),
    first=(5, 0),
    max_deleted=(0, 0),
    added=3,
    groups=[
        StreamGroup(b"empty", (0, 0), -1),  # in name order, as Redis writes them
        StreamGroup(
            b"g",
            (5, 1),
            2,
            [Nack((5, 0), 1000, 2, b"c1"), Nack((5, 1), 1001, 1, b"c2")],
            [(b"c1", 1000), (b"c2", 999), (b"idle", 5)],
        ),
    ],
)
RECORDS = [
    Record(0, b"s", b"hello"),
    Record(0, b"int", b"-123456"),
    Record(0, b"zip", b"abc" * 50),
    Record(0, b"exp", b"v", 4102444800000),
    Record(3, b"\x00bin\xff", RList([b"a", b"", b"12"])),
    Record(3, b"set", RSet([b"1", b"x"])),
    Record(3, b"z", RZSet([(b"m", -0.5), (b"n", float("inf"))])),
    Record(3, b"h", RHash([(b"f", b"v" * 100)])),
    Record(15, b"stream", STREAM),
]


def _file(records: list[Record], version: int = codec.RDB_VERSION) -> bytes:
    out = io.BytesIO()
    w = codec.FileWriter(out, version=version)
    w.aux(b"redis-ver", b"7.0.15")
    for db in sorted({r.db for r in records}):
        mine = [r for r in records if r.db == db]
        w.select_db(db, len(mine), sum(r.expire_ms is not None for r in mine))
        for r in mine:
            w.record(r.key, r.value, r.expire_ms)
    w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    w.finish()
    return out.getvalue()


def test_file_round_trip() -> None:
    data = _file(RECORDS)
    reader = codec.FileReader(io.BytesIO(data))
    records = list(reader)
    for r in records:
        if isinstance(r.value, RStream):  # the reader adds what it measured
            for n in r.value.nodes:
                n.entry_bytes = 0
    assert records == RECORDS
    assert reader.done and reader.aux == {b"redis-ver": b"7.0.15"}
    assert reader.functions[0].startswith(b"#!lua name=lib")
    assert reader.resize[3] == (4, 0)


FIELD_TTLS = RHash([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], {b"a": 1800000000000, b"c": 5})


@pytest.mark.parametrize("version", [11, 12])
def test_newer_file_versions_round_trip(version: int) -> None:
    """RDB 11 writes streams as version 3 (consumers' active times kept; the seen time
    stands in where none is known); 12 also carries hashes with field expiry."""
    stream = RStream(
        **{**STREAM.__dict__, "groups": [StreamGroup(**g.__dict__) for g in STREAM.groups]}
    )
    stream.groups[1] = StreamGroup(**{**stream.groups[1].__dict__, "active": {b"c1": 777}})
    records = [*RECORDS[:-1], Record(15, b"stream", stream)]
    if version == 12:
        records.append(Record(15, b"hx", FIELD_TTLS))
    data = _file(records, version)
    assert data.startswith(b"REDIS%04d" % version)
    reader = codec.FileReader(io.BytesIO(data))
    got = list(reader)
    for r in got:
        if isinstance(r.value, RStream):
            for n in r.value.nodes:
                n.entry_bytes = 0
            assert r.value.groups[1].active == {b"c1": 777, b"c2": 999, b"idle": 5}
            r.value.groups[1].active = {b"c1": 777}
    assert got == records
    assert codec.T_STREAM_LISTPACKS_3 in reader.types_seen
    with pytest.raises(ValueError, match="RDB version 12"):
        _file([Record(0, b"hx", FIELD_TTLS)], 11)
    with pytest.raises(ValueError, match="writes versions 10, 11, 12"):
        codec.FileWriter(io.BytesIO(), version=9)


def test_hash_field_expiry_forms() -> None:
    """The four forms Redis 7.4 and its release candidates write, and DUMP's choice of
    version 12 for such a hash."""
    payload = codec.dump_payload(FIELD_TTLS, compress=False)
    assert payload[0] == codec.T_HASH_METADATA and payload[-10] == 12
    assert codec.parse_dump(payload) == FIELD_TTLS
    assert codec.dump_payload(RHash([(b"a", b"1")]))[-10] == 10
    triplets = P.listpack(
        [
            x
            for name, value, when in ((b"a", b"1", 1800000000000), (b"b", b"2", 0), (b"c", b"3", 5))
            for x in (P.lp_str(name), P.lp_str(value), P.lp_int(when))
        ]
    )
    ex = bytes((codec.T_HASH_LISTPACK_EX,)) + (5).to_bytes(8, "little")
    ex += codec.enc_string(triplets, False)
    pre_ex = bytes((codec.T_HASH_LISTPACK_EX_PRE_GA,)) + codec.enc_string(triplets, False)
    absolute = bytes((codec.T_HASH_METADATA_PRE_GA,)) + b"\x03"
    for name, value, when in ((b"a", b"1", 1800000000000), (b"b", b"2", 0), (b"c", b"3", 5)):
        absolute += codec.enc_length(when) + codec.enc_string(name) + codec.enc_string(value)
    for body in (ex, pre_ex, absolute):
        body += b"\x0c\x00"
        assert codec.parse_dump(body + crc64(0, body).to_bytes(8, "little")) == FIELD_TTLS
    bad = P.listpack([P.lp_str(b"a"), P.lp_str(b"1"), P.lp_int(1 << 48)])
    body = bytes((codec.T_HASH_LISTPACK_EX_PRE_GA,)) + codec.enc_string(bad, False) + b"\x0c\x00"
    with pytest.raises(codec.RdbError, match="invalid hash field expiry"):
        codec.parse_dump(body + crc64(0, body).to_bytes(8, "little"))
    body = bytes((codec.T_SET_LISTPACK,)) + codec.enc_string(
        P.listpack([P.lp_str(b"x"), P.lp_int(-3)]), False
    )
    body += b"\x0b\x00"
    assert codec.parse_dump(body + crc64(0, body).to_bytes(8, "little")) == RSet([b"x", b"-3"])


def test_slot_info_is_a_hint_that_is_skipped() -> None:
    data = _file(RECORDS[:2])
    at = data.index(bytes((codec.OP_SELECTDB,)))
    body = data[:at] + bytes((codec.OP_SLOT_INFO,)) + b"\x05\x02\x00" + data[at:-8]
    body = body[:5] + b"0011" + body[9:]
    data = body + crc64(0, body).to_bytes(8, "little")
    assert [r.key for r in codec.FileReader(io.BytesIO(data))] == [b"s", b"int"]


def test_file_truncated_anywhere_is_refused() -> None:
    data = _file(RECORDS)
    for cut in range(len(data)):
        with pytest.raises(codec.RdbError):
            list(codec.FileReader(io.BytesIO(data[:cut])))


def test_file_checksum_and_version() -> None:
    data = bytearray(_file(RECORDS))
    data[40] ^= 0x01  # inside the first record: decodes, the checksum catches it
    with pytest.raises(codec.RdbError) as e:
        list(codec.FileReader(io.BytesIO(bytes(data))))
    assert "at byte" in str(e.value)
    unchecked = _file(RECORDS)[:-8] + bytes(8)  # rdbchecksum no: a zero checksum
    assert len(list(codec.FileReader(io.BytesIO(unchecked)))) == len(RECORDS)
    with pytest.raises(codec.RdbError, match="version 13"):
        codec.FileReader(io.BytesIO(b"REDIS0013" + _file([])[9:]))
    with pytest.raises(codec.RdbError, match="not an RDB file"):
        codec.FileReader(io.BytesIO(b"hello world"))


def test_module_values_are_refused_by_name() -> None:
    # A module type id: nine 6-bit characters of the name, then 10 bits of version.
    charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    mid = 0
    for ch in b"ReJSON-RL":
        mid = (mid << 6) | charset.index(ch)
    mid = (mid << 10) | 3
    body = b"\x07" + codec.enc_length(mid) + b"\x0a\x00"
    with pytest.raises(codec.RdbError, match="ReJSON-RL"):
        codec.parse_dump(body + crc64(0, body).to_bytes(8, "little"))


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=200))
def test_garbage_payloads_raise_only_rdb_errors(body: bytes) -> None:
    payload = body + b"\x0a\x00"
    payload += crc64(0, payload).to_bytes(8, "little")
    with contextlib.suppress(codec.RdbError):  # anything else fails the test
        codec.parse_dump(payload)
