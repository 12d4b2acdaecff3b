"""Geo commands, differential against redis-server 7.0, on both engines: positions,
hashes, distances and search results compared digit for digit, in RESP2 and RESP3."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from diskredis.commands import geohash as G
from tests.conftest import Diff, run_steps

BOTH_CACHES = True

SICILY = (
    "GEOADD",
    "Sicily",
    "13.361389",
    "38.115556",
    "Palermo",
    "15.087269",
    "37.502669",
    "Catania",
    "12.758489",
    "38.788135",
    "edge1",
    "17.241510",
    "38.222954",
    "edge2",
)

SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "geoadd": [
        SICILY,
        ("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"),
        ("GEOADD", "Sicily", "CH", "13.4", "38.1", "Palermo", "1", "1", "new"),
        ("GEOADD", "Sicily", "NX", "CH", "0", "0", "Palermo", "2", "2", "new2"),
        ("GEOADD", "Sicily", "XX", "0", "0", "Catania", "3", "3", "absent"),
        ("GEOADD", "Sicily", "NX", "XX", "1", "1", "x"),
        ("GEOADD", "Sicily", "CH", "NX", "XX"),
        ("GEOADD", "Sicily", "1", "1"),
        ("GEOADD", "Sicily", "1", "1", "a", "2"),
        ("GEOADD", "Sicily", "180.0001", "0", "x"),
        ("GEOADD", "Sicily", "0", "85.06", "x"),
        ("GEOADD", "Sicily", "-180", "-85.05112878", "corner"),
        ("GEOADD", "Sicily", "x", "0", "a"),
        ("GEOADD", "Sicily", "0", "nan", "a"),
        ("GEOADD", "Sicily", "GT", "1", "1", "a"),
        ("ZRANGE", "Sicily", "0", "-1", "WITHSCORES"),
        ("GEOADD", "nx", "XX", "1", "1", "a"),
        ("EXISTS", "nx"),
        ("TYPE", "Sicily"),
    ],
    "positions": [
        SICILY,
        ("GEOPOS", "Sicily", "Palermo", "Catania", "nope"),
        ("GEOPOS", "Sicily"),
        ("GEOPOS", "none", "a", "b"),
        ("GEOHASH", "Sicily", "Palermo", "Catania", "nope"),
        ("GEOHASH", "none", "a"),
        ("GEOHASH", "Sicily"),
        ("GEODIST", "Sicily", "Palermo", "Catania"),
        ("GEODIST", "Sicily", "Palermo", "Catania", "km"),
        ("GEODIST", "Sicily", "Palermo", "Catania", "MI"),
        ("GEODIST", "Sicily", "Palermo", "Catania", "ft"),
        ("GEODIST", "Sicily", "Palermo", "Palermo"),
        ("GEODIST", "Sicily", "Palermo", "nope"),
        ("GEODIST", "Sicily", "Palermo", "Catania", "yards"),
        ("GEODIST", "Sicily", "Palermo", "Catania", "km", "x"),
        ("GEODIST", "none", "a", "b"),
        ("GEODIST", "none", "a", "b", "parsec"),
        (
            "ZADD",
            "z",
            "-5",
            "neg",
            "1e300",
            "huge",
            "inf",
            "inf",
            "4503599627370495",
            "top",
            "0",
            "zero",
        ),
        ("GEOPOS", "z", "neg", "huge", "inf", "top", "zero"),
        ("GEOHASH", "z", "neg", "huge", "inf", "top", "zero"),
        ("GEODIST", "z", "neg", "top"),
    ],
    "search": [
        SICILY,
        ("GEORADIUS", "Sicily", "15", "37", "200", "km"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "KM", "ASC", "COUNT", "2"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC", "COUNT", "2", "ANY"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "ANY"),
        ("GEORADIUS", "Sicily", "15", "37", "1", "m"),
        ("GEORADIUS", "Sicily", "15", "37", "0", "km"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHDIST"),
        ("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "100", "mi", "DESC"),
        ("GEORADIUS_RO", "Sicily", "15", "37", "200", "ft", "WITHCOORD"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"),
        (
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
            "WITHCOORD",
            "WITHDIST",
            "WITHHASH",
        ),
        (
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "200",
            "200",
            "km",
            "DESC",
            "COUNT",
            "1",
        ),
        ("GEOSEARCH", "none", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
        ("GEOSEARCH", "none", "FROMMEMBER", "x", "BYRADIUS", "200", "km"),
        ("GEORADIUSBYMEMBER", "none", "x", "no", "unit"),
        ("GEORADIUS", "Sicily", "0", "0", "30000", "km", "COUNT", "3"),
        (
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "180",
            "85.05112878",
            "BYBOX",
            "50000",
            "50000",
            "km",
            "COUNT",
            "5",
            "DESC",
        ),
    ],
    "store": [
        SICILY,
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "near"),
        ("ZRANGE", "near", "0", "-1", "WITHSCORES"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "near", "COUNT", "1"),
        ("ZRANGE", "near", "0", "-1", "WITHSCORES"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "STORE", "bym", "DESC"),
        ("ZRANGE", "bym", "0", "-1", "WITHSCORES"),
        (
            "GEOSEARCHSTORE",
            "gs",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
            "COUNT",
            "3",
            "STOREDIST",
        ),
        ("ZRANGE", "gs", "0", "-1", "WITHSCORES"),
        ("GEOSEARCHSTORE", "gs", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
        ("EXISTS", "gs"),
        ("SET", "str", "x"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "str"),
        ("TYPE", "str"),
        ("GEORADIUS", "none", "15", "37", "200", "km", "STORE", "near"),
        ("EXISTS", "near"),
        ("GEOSEARCHSTORE", "bym", "none", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
        ("EXISTS", "bym"),
        ("GEOSEARCHSTORE", "Sicily", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "100", "km"),
        ("ZRANGE", "Sicily", "0", "-1"),
    ],
    "errors": [
        SICILY,
        ("SET", "str", "x"),
        ("GEOPOS", "str", "a"),
        ("GEOHASH", "str", "a"),
        ("GEODIST", "str", "a", "b"),
        ("GEOADD", "str", "1", "1", "a"),
        ("GEORADIUS", "str", "0", "0", "1", "km"),
        ("GEOSEARCH", "str", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
        ("GEORADIUS", "Sicily", "0", "0", "-1", "km"),
        ("GEORADIUS", "Sicily", "0", "0", "x", "km"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "yd"),
        ("GEORADIUS", "Sicily", "200", "0", "1", "km"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "km", "COUNT", "0"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "km", "COUNT", "x"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "km", "COUNT"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "km", "ANY"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "x", "WITHDIST"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE"),
        ("GEORADIUS", "Sicily", "0", "0", "1", "km", "BOGUS"),
        ("GEORADIUS_RO", "Sicily", "0", "0", "1", "km", "STORE", "x"),
        ("GEORADIUSBYMEMBER", "Sicily", "nope", "1", "km"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "parsec"),
        ("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km"),
        ("geoSearch", "Sicily", "FROMLONLAT", "0", "0", "ASC"),
        (
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
            "BYBOX",
            "1",
            "1",
            "km",
        ),
        ("GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"),
        (
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYBOX", "-1", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYBOX", "x", "1", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYBOX", "1", "x", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "STOREDIST"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "STORE", "x"),
        (
            "GEOSEARCHSTORE",
            "d",
            "Sicily",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
            "WITHDIST",
        ),
        ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "0", "0"),
        ("GEOADD", "g"),
        ("GEOPOS",),
        ("GEODIST", "g", "a"),
        ("GEOSEARCHSTORE", "d", "s"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(kdiff: Diff, name: str) -> None:
    run_steps(kdiff, SCENARIOS[name], set())


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_shapes(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    kdiff(*SICILY)
    for args in (
        ("GEOPOS", "Sicily", "Palermo", "nope"),
        ("GEOHASH", "Sicily", "Palermo"),
        ("GEODIST", "Sicily", "Palermo", "Catania"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"),
        ("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
        ("GEOSEARCH", "none", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
    ):
        kdiff(*args)
    kdiff("EVAL", "return redis.call('GEOPOS', KEYS[1], 'Palermo')", "1", "Sicily")
    kdiff(
        "EVAL", "redis.setresp(3); return redis.call('GEOPOS', KEYS[1], 'Palermo')", "1", "Sicily"
    )
    kdiff.masked("HELLO", "2")


def _random_points(rng: random.Random, n: int) -> list[str]:
    """`n` members, half spread over the globe, half in one 100 km cluster."""
    out: list[str] = []
    for i in range(n):
        if i % 2:
            lon, lat = rng.uniform(-180, 180), rng.uniform(-85, 85)
        else:
            lon, lat = 13.36 + rng.uniform(-0.5, 0.5), 38.11 + rng.uniform(-0.5, 0.5)
        out += ["%.6f" % lon, "%.6f" % lat, "m%d" % i]
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_random_searches(kdiff: Diff, seed: int) -> None:
    """Searches of every kind around random centres, radii, boxes and options."""
    rng = random.Random(seed)
    points = _random_points(rng, 300)
    kdiff("GEOADD", "g", *points)
    centres = [points[i : i + 3] for i in range(0, len(points), 3)]
    for _ in range(40):
        lon, lat, member = rng.choice(centres)
        radius = rng.choice(["1", "10", "50", "200", "1000", "5000", "20000"])
        unit = rng.choice(["km", "m", "mi", "ft"])
        opts = rng.sample(["WITHDIST", "WITHCOORD", "WITHHASH"], rng.randrange(4))
        opts += rng.choice([[], ["ASC"], ["DESC"]])
        if rng.random() < 0.3:
            opts += ["COUNT", str(rng.randrange(1, 20))] + (["ANY"] if rng.random() < 0.3 else [])
        kdiff("GEORADIUS", "g", lon, lat, radius, unit, *opts)
        kdiff("GEORADIUSBYMEMBER_RO", "g", member, radius, unit, *opts)
        kdiff("GEOSEARCH", "g", "FROMMEMBER", member, "BYRADIUS", radius, unit, *opts)
        w, h = rng.choice(["10", "400", "3000"]), rng.choice(["10", "400", "3000"])
        kdiff("GEOSEARCH", "g", "FROMLONLAT", lon, lat, "BYBOX", w, h, unit, *opts)
        plain = [o for o in opts if not o.startswith("WITH")]
        kdiff(
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            lon,
            lat,
            "BYBOX",
            w,
            h,
            unit,
            *plain,
            *(["STOREDIST"] if rng.random() < 0.5 else []),
        )
        kdiff("ZRANGE", "d", "0", "-1", "WITHSCORES")
        other = rng.choice(centres)[2]
        kdiff("GEODIST", "g", member, other, unit)
        kdiff("GEOHASH", "g", member, other)
        kdiff("GEOPOS", "g", member, other)


def test_geohash_arithmetic() -> None:
    """Scores round-trip to within a cell; the text hash is the standard one."""
    score = G.score_of(13.361389, 38.115556)
    lon, lat = G.position(float(score)) or (0, 0)
    assert abs(lon - 13.361389) < 1e-5 and abs(lat - 38.115556) < 1e-5
    assert G.text_hash(float(score)) == b"sqc8b49rny0"  # the geohash.org value for Palermo
    assert G.fixed4(2.5e-5) == b"0.0000" and G.fixed4(1.23456) == b"1.2346"


LONS = st.sampled_from(["-179.9", "-73.98", "0", "2.35", "13.36", "13.37", "139.69", "180"])
LATS = st.sampled_from(["-85", "-33.86", "0", "38.11", "38.12", "40.75", "85"])
MEMBERS = st.sampled_from(["a", "b", "c", "d", "e"])


def test_geo_state_machine(diff: Diff) -> None:
    class Geo(RuleBasedStateMachine):
        @initialize()
        def empty(self) -> None:
            diff("FLUSHALL")

        @rule(lon=LONS, lat=LATS, m=MEMBERS, opt=st.sampled_from([[], ["NX"], ["XX"], ["CH"]]))
        def add(self, lon: str, lat: str, m: str, opt: list[str]) -> None:
            diff("GEOADD", "g", *opt, lon, lat, m)

        @rule(m=MEMBERS)
        def remove(self, m: str) -> None:
            diff("ZREM", "g", m)

        @rule(
            lon=LONS,
            lat=LATS,
            r=st.sampled_from(["0", "1", "500", "3000", "20000"]),
            with_=st.sampled_from([[], ["WITHDIST"], ["WITHCOORD", "WITHHASH"]]),
            order=st.sampled_from([[], ["ASC"], ["DESC"]]),
        )
        def radius(self, lon: str, lat: str, r: str, with_: list[str], order: list[str]) -> None:
            diff("GEORADIUS", "g", lon, lat, r, "km", *with_, *order)

        @rule(
            m=MEMBERS,
            w=st.sampled_from(["1", "800", "40000"]),
            h=st.sampled_from(["1", "800", "20000"]),
            dist=st.booleans(),
        )
        def box_store(self, m: str, w: str, h: str, dist: bool) -> None:
            diff(
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMMEMBER",
                m,
                "BYBOX",
                w,
                h,
                "km",
                *(["STOREDIST"] if dist else []),
            )
            diff("ZRANGE", "d", "0", "-1", "WITHSCORES")

        @rule(a=MEMBERS, b=MEMBERS)
        def measure(self, a: str, b: str) -> None:
            diff("GEODIST", "g", a, b, "km")
            diff("GEOPOS", "g", a, b)
            diff("GEOHASH", "g", a, b)

    run_state_machine_as_test(
        Geo,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
