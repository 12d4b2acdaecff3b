"""Geo commands (Redis group "geo"), on sorted sets whose scores are 52-bit geohashes.

Room: what each geo command means. Imports: `resp.values`, `commands` helpers (the arithmetic is
`commands.geohash`), `keyspace`, `errors`. Replies and errors are Redis 7.0's (geo.c).

A search walks the same nine geohash cells as Redis, in the same order, reading each
cell's score range from the sorted set's index; results come in that order unless
sorted, and a sort by distance keeps ties in that order (glibc's qsort is a merge
sort). With COUNT under the number of matches Redis sorts partially (pqsort), which
may order equal distances differently; that is the one place replies can differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from diskredis import errors
from diskredis.commands import geohash as G
from diskredis.commands.args import parse_double, parse_int
from diskredis.commands.context import Ctx
from diskredis.commands.longdouble import format_human
from diskredis.commands.registry import KeySpec, arg, block, command, keys_at, oneof, token
from diskredis.commands.zsets import _lookup, _replace, _zadd, zset_of
from diskredis.errors import RedisError
from diskredis.keyspace.types.zsets import ZSet
from diskredis.resp.values import NULL_ARRAY, DoubleText

_GEO = "geo"
_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


# -- arguments --------------------------------------------------------------------------
def _lonlat(raw_lon: bytes, raw_lat: bytes) -> tuple[float, float]:
    """extractLongLatOrReply."""
    lon, lat = parse_double(raw_lon), parse_double(raw_lat)
    if lon < G.LON_MIN or lon > G.LON_MAX or lat < G.LAT_MIN or lat > G.LAT_MAX:
        raise errors.err("invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def _unit(raw: bytes) -> float:
    try:
        return _UNITS[raw.lower()]
    except KeyError:
        raise errors.err("unsupported unit provided. please use M, KM, FT, MI") from None


def _distance_arg(raw: bytes, unit: bytes) -> tuple[float, float]:
    """extractDistanceOrReply: (radius, metres per unit)."""
    radius = parse_double(raw, "ERR need numeric radius")
    if radius < 0:
        raise errors.err("radius cannot be negative")
    return radius, _unit(unit)


def _human(value: float) -> DoubleText:
    """addReplyHumanLongDouble: %.17Lf without trailing zeros."""
    text = format_human(Fraction(value))
    assert text is not None
    return DoubleText(text)


def _position_of(zs: ZSet, member: bytes) -> tuple[float, float] | None:
    score = zs.score(member)
    return None if score is None else G.position(score)


# -- GEOADD -----------------------------------------------------------------------------
@command(
    "geoadd",
    -5,
    "write denyoom",
    group=_GEO,
    since="3.2.0",
    complexity="O(log(N)) for each item added, where N is the number of elements in the "
    "sorted set.",
    summary="Adds one or more members to a geospatial index. The key is created if it "
    "doesn't exist.",
    keys=(keys_at("RW update"),),
    history=(("6.2.0", "Added the `CH`, `NX` and `XX` options."),),
    args=(
        arg("key", "key"),
        oneof("condition", token("NX"), token("XX"), flags=("optional",), since="6.2.0"),
        token("CH", "optional", since="6.2.0"),
        block(
            "data",
            arg("longitude", "double"),
            arg("latitude", "double"),
            arg("member"),
            flags=("multiple",),
        ),
    ),
)
def geoadd(ctx: Ctx, argv: list[bytes]) -> Any:
    """GEOADD key [NX|XX] [CH] longitude latitude member [...] -> members added (or
    changed, with CH)."""
    at = 2
    nx = xx = False
    while at < len(argv):
        opt = argv[at].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        at += 1
    if (len(argv) - at) % 3 or (nx and xx):
        raise RedisError(errors.SYNTAX)
    zadd_argv = [b"zadd", *argv[1:at]]
    for i in range(at, len(argv), 3):
        lon, lat = _lonlat(argv[i], argv[i + 1])
        zadd_argv += [b"%d" % G.score_of(lon, lat), argv[i + 2]]
    ctx.propagate_as(*zadd_argv)  # replicated as this ZADD (lower case, as Redis)
    return _zadd(ctx, zadd_argv, False)


# -- GEOPOS GEOHASH GEODIST --------------------------------------------------------------
def _open(ctx: Ctx, key: bytes) -> ZSet | None:
    meta = _lookup(ctx, key, read=True)
    return None if meta is None else zset_of(ctx, key, meta)


@command(
    "geopos",
    -2,
    "readonly",
    group=_GEO,
    since="3.2.0",
    complexity="O(N) where N is the number of members requested.",
    summary="Returns the longitude and latitude of members from a geospatial index.",
    keys=(keys_at("RO access"),),
    args=(arg("key", "key"), arg("member", "string", "optional", "multiple")),
)
def geopos(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """GEOPOS key [member ...] -> [longitude, latitude] or nil for each member."""
    zs = _open(ctx, argv[1])
    out: list[Any] = []
    for member in argv[2:]:
        xy = None if zs is None else _position_of(zs, member)
        out.append(NULL_ARRAY if xy is None else [_human(xy[0]), _human(xy[1])])
    return out


@command(
    "geohash",
    -2,
    "readonly",
    group=_GEO,
    since="3.2.0",
    complexity="O(log(N)) for each member requested, where N is the number of elements "
    "in the sorted set.",
    summary="Returns members from a geospatial index as geohash strings.",
    keys=(keys_at("RO access"),),
    args=(arg("key", "key"), arg("member", "string", "optional", "multiple")),
)
def geohash(ctx: Ctx, argv: list[bytes]) -> list[bytes | None]:
    """GEOHASH key [member ...] -> an 11-character geohash or nil for each member."""
    zs = _open(ctx, argv[1])
    out: list[bytes | None] = []
    for member in argv[2:]:
        score = None if zs is None else zs.score(member)
        out.append(None if score is None else G.text_hash(score))
    return out


@command(
    "geodist",
    -4,
    "readonly",
    group=_GEO,
    since="3.2.0",
    complexity="O(log(N))",
    summary="Returns the distance between two members of a geospatial index.",
    keys=(keys_at("RO access"),),
    args=(
        arg("key", "key"),
        arg("member1"),
        arg("member2"),
        oneof("unit", token("M"), token("KM"), token("FT"), token("MI"), flags=("optional",)),
    ),
)
def geodist(ctx: Ctx, argv: list[bytes]) -> bytes | None:
    """GEODIST key member1 member2 [M|KM|FT|MI] -> the distance, or nil."""
    to_metres = 1.0
    if len(argv) == 5:
        to_metres = _unit(argv[4])
    elif len(argv) > 5:
        raise RedisError(errors.SYNTAX)
    zs = _open(ctx, argv[1])
    if zs is None:
        return None
    a, b = zs.score(argv[2]), zs.score(argv[3])
    if a is None or b is None:
        return None
    pa, pb = G.position(a), G.position(b)
    if pa is None or pb is None:
        return None
    return G.fixed4(G.distance(pa[0], pa[1], pb[0], pb[1]) / to_metres)


# -- searches ---------------------------------------------------------------------------
_COORDS, _MEMBER, _NOSTORE, _SEARCH, _SEARCHSTORE = 1, 2, 4, 8, 16


@dataclass
class _Found:
    member: bytes
    score: float
    lon: float
    lat: float
    dist: float


@dataclass
class _Query:
    shape: G.Shape
    withdist: bool = False
    withhash: bool = False
    withcoord: bool = False
    order: int = 0  # 0 none, 1 ascending, -1 descending
    count: int = 0
    any: bool = False
    store: bytes | None = None
    storedist: bool = False


def _no_member() -> RedisError:
    return errors.err("could not decode requested zset member")


def _parse_search(argv: list[bytes], zs: ZSet | None, flags: int) -> _Query:
    """georadiusGeneric's argument walk (with no source key, a member centre and the
    radius after it are left unread, as in Redis)."""
    shape = G.Shape()
    q = _Query(shape)
    if flags & _COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(argv[2], argv[3])
        shape.radius, shape.conversion = _distance_arg(argv[4], argv[5])
    elif flags & _MEMBER:
        base = 5
        if zs is not None:
            xy = _position_of(zs, argv[2])
            if xy is None:
                raise _no_member()
            shape.lon, shape.lat = xy
            shape.radius, shape.conversion = _distance_arg(argv[3], argv[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            q.store = argv[1]
    frommember = fromloc = byradius = bybox = False
    search = bool(flags & _SEARCH)
    can_store = not flags & (_NOSTORE | _SEARCH)
    i, n = base, len(argv)
    while i < n:
        opt = argv[i].lower()
        left = n - i - 1
        if opt == b"withdist":
            q.withdist = True
        elif opt == b"withhash":
            q.withhash = True
        elif opt == b"withcoord":
            q.withcoord = True
        elif opt == b"any":
            q.any = True
        elif opt == b"asc":
            q.order = 1
        elif opt == b"desc":
            q.order = -1
        elif opt == b"count" and left >= 1:
            q.count = parse_int(argv[i + 1])
            if q.count <= 0:
                raise RedisError(errors.COUNT_POSITIVE)
            i += 1
        elif opt in (b"store", b"storedist") and left >= 1 and can_store:
            q.store, q.storedist = argv[i + 1], opt == b"storedist"
            i += 1
        elif opt == b"storedist" and search and flags & _SEARCHSTORE:
            q.storedist = True
        elif opt == b"frommember" and left >= 1 and search and not fromloc:
            if zs is not None:
                xy = _position_of(zs, argv[i + 1])
                if xy is None:
                    raise _no_member()
                shape.lon, shape.lat = xy
            frommember = True
            i += 1
        elif opt == b"fromlonlat" and left >= 2 and search and not frommember:
            shape.lon, shape.lat = _lonlat(argv[i + 1], argv[i + 2])
            fromloc = True
            i += 2
        elif opt == b"byradius" and left >= 2 and search and not bybox:
            shape.radius, shape.conversion = _distance_arg(argv[i + 1], argv[i + 2])
            byradius = True
            i += 2
        elif opt == b"bybox" and left >= 3 and search and not byradius:
            width = parse_double(argv[i + 1], "ERR need numeric width")
            height = parse_double(argv[i + 2], "ERR need numeric height")
            if height < 0 or width < 0:
                raise errors.err("height or width cannot be negative")
            shape.conversion = _unit(argv[i + 3])
            shape.width, shape.height, shape.radius = width, height, None
            bybox = True
            i += 3
        else:
            raise RedisError(errors.SYNTAX)
        i += 1
    if q.store is not None and (q.withdist or q.withhash or q.withcoord):
        raise errors.err(
            "%s is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
            % ("GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS")
        )
    name = errors.c_text(argv[0])
    if search and not (frommember or fromloc):
        raise errors.err("exactly one of FROMMEMBER or FROMLONLAT can be specified for %s" % name)
    if search and not (byradius or bybox):
        raise errors.err("exactly one of BYRADIUS and BYBOX can be specified for %s" % name)
    if q.any and not q.count:
        raise errors.err("the ANY argument requires COUNT argument")
    return q


def _search(zs: ZSet, shape: G.Shape, limit: int) -> list[_Found]:
    """membersOfAllNeighbors: the matches, cell after cell, each cell in score order;
    with `limit` (ANY), stop once that many are found."""
    found: list[_Found] = []
    cells = G.search_cells(shape)
    last = 0
    for i, cell in enumerate(cells):
        if cell.zero:
            continue
        if last and cell == cells[last]:  # huge radii: neighbours can repeat
            continue
        if found and limit and len(found) >= limit:
            break
        lo, hi = G.score_range(cell)
        for member, score in zs.by_score((float(lo), False), (float(hi), True), False):
            xy = G.position(score)
            if xy is not None:
                dist = shape.contains(xy[0], xy[1])
                if dist is not None:
                    found.append(_Found(member, score, xy[0], xy[1], dist))
            if found and limit and len(found) >= limit:
                break
        last = i
    return found


def _georadius(ctx: Ctx, argv: list[bytes], src: int, flags: int) -> Any:
    meta = _lookup(ctx, argv[src], read=True)
    zs = None if meta is None else zset_of(ctx, argv[src], meta)
    q = _parse_search(argv, zs, flags)
    if zs is None:
        if q.store is not None:
            _replace(ctx, q.store, [], b"")
            return 0
        return []
    if q.count and not q.order and not q.any:
        q.order = 1
    found = _search(zs, q.shape, q.count if q.any else 0)
    if not found and q.store is None:
        return []
    if q.order:
        found.sort(key=lambda f: f.dist, reverse=q.order < 0)
    if q.count:
        found = found[: q.count]
    conversion = q.shape.conversion
    if q.store is not None:
        pairs = [(f.member, f.dist / conversion if q.storedist else f.score) for f in found]
        return _replace(
            ctx, q.store, pairs, b"geosearchstore" if flags & _SEARCH else b"georadiusstore"
        )
    extras = q.withdist or q.withhash or q.withcoord
    out: list[Any] = []
    for f in found:
        if not extras:
            out.append(f.member)
            continue
        item: list[Any] = [f.member]
        if q.withdist:
            item.append(G.fixed4(f.dist / conversion))
        if q.withhash:
            item.append(int(f.score))
        if q.withcoord:
            item.append([_human(f.lon), _human(f.lat)])
        out.append(item)
    return out


_RADIUS_COMPLEXITY = (
    "O(N+log(M)) where N is the number of elements inside the bounding box "
    "of the circular area delimited by center and radius and M is the number "
    "of items inside the index."
)
_SEARCH_COMPLEXITY = (
    "O(N+log(M)) where N is the number of elements in the grid-aligned "
    "bounding box area around the shape provided as the filter and M is the "
    "number of items inside the shape"
)
_UNIT = oneof("unit", token("M"), token("KM"), token("FT"), token("MI"))
_WITH = (
    token("WITHCOORD", "optional"),
    token("WITHDIST", "optional"),
    token("WITHHASH", "optional"),
)
_COUNT = block(
    "count-block",
    arg("count", "integer", token="COUNT"),
    token("ANY", "optional", since="6.2.0"),
    flags=("optional",),
)
_ORDER = oneof("order", token("ASC"), token("DESC"), flags=("optional",))
_STORE_ARGS = (
    oneof(
        "store",
        arg("key", "key", token="STORE", key=1),
        arg("key", "key", token="STOREDIST", key=2),
        flags=("optional",),
    ),
)


def _store_specs(start: int) -> tuple[KeySpec, ...]:
    return (
        keys_at("RO access"),
        KeySpec(("OW", "update"), ("keyword", "STORE", start), ("range", 0, 1, 0)),
        KeySpec(("OW", "update"), ("keyword", "STOREDIST", start), ("range", 0, 1, 0)),
    )


_RADIUS_ARGS = (
    arg("key", "key"),
    arg("longitude", "double"),
    arg("latitude", "double"),
    arg("radius", "double"),
    _UNIT,
    *_WITH,
    _COUNT,
    _ORDER,
)
_BYMEMBER_ARGS = (
    arg("key", "key"),
    arg("member"),
    arg("radius", "double"),
    _UNIT,
    *_WITH,
    _COUNT,
    _ORDER,
)
_UPPER_UNITS = ("7.0.0", "Added support for uppercase unit names.")
_ANY_COUNT = ("6.2.0", "Added the `ANY` option for `COUNT`.")


@command(
    "georadius",
    -6,
    "write denyoom",
    group=_GEO,
    since="3.2.0",
    complexity=_RADIUS_COMPLEXITY,
    keys=_store_specs(6),
    summary="Queries a geospatial index for members within a distance from a coordinate, "
    "optionally stores the result.",
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
    history=(_ANY_COUNT, _UPPER_UNITS),
    args=(*_RADIUS_ARGS, *_STORE_ARGS),
)
def georadius(ctx: Ctx, argv: list[bytes]) -> Any:
    """GEORADIUS key lon lat radius unit [WITH...] [COUNT n [ANY]] [ASC|DESC]
    [STORE key|STOREDIST key] -> matches, or how many were stored."""
    return _georadius(ctx, argv, 1, _COORDS)


@command(
    "georadius_ro",
    -6,
    "readonly",
    group=_GEO,
    since="3.2.10",
    complexity=_RADIUS_COMPLEXITY,
    keys=(keys_at("RO access"),),
    summary="Returns members from a geospatial index that are within a distance from a coordinate.",
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`GEOSEARCH` with the `BYRADIUS` argument",
    history=(_ANY_COUNT,),
    args=_RADIUS_ARGS,
)
def georadius_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    """GEORADIUS_RO key lon lat radius unit [WITH...] [COUNT n [ANY]] [ASC|DESC] -> matches."""
    return _georadius(ctx, argv, 1, _COORDS | _NOSTORE)


@command(
    "georadiusbymember",
    -5,
    "write denyoom",
    group=_GEO,
    since="3.2.0",
    complexity=_RADIUS_COMPLEXITY,
    keys=_store_specs(5),
    summary="Queries a geospatial index for members within a distance from a member, "
    "optionally stores the result.",
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments",
    history=(_UPPER_UNITS,),
    args=(*_BYMEMBER_ARGS, *_STORE_ARGS),
)
def georadiusbymember(ctx: Ctx, argv: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER key member radius unit [...] [STORE key|STOREDIST key] -> matches,
    or how many were stored."""
    return _georadius(ctx, argv, 1, _MEMBER)


@command(
    "georadiusbymember_ro",
    -5,
    "readonly",
    group=_GEO,
    since="3.2.10",
    complexity=_RADIUS_COMPLEXITY,
    keys=(keys_at("RO access"),),
    summary="Returns members from a geospatial index that are within a distance from a member.",
    doc_flags="deprecated",
    deprecated_since="6.2.0",
    replaced_by="`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments",
    args=_BYMEMBER_ARGS,
)
def georadiusbymember_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER_RO key member radius unit [...] -> matches."""
    return _georadius(ctx, argv, 1, _MEMBER | _NOSTORE)


_FROM = oneof(
    "from",
    arg("member", "string", token="FROMMEMBER"),
    block("fromlonlat", arg("longitude", "double"), arg("latitude", "double"), tok="FROMLONLAT"),
)
_BY = oneof(
    "by",
    block("circle", arg("radius", "double", token="BYRADIUS"), _UNIT),
    block("box", arg("width", "double", token="BYBOX"), arg("height", "double"), _UNIT),
)


@command(
    "geosearch",
    -7,
    "readonly",
    group=_GEO,
    since="6.2.0",
    complexity=_SEARCH_COMPLEXITY,
    keys=(keys_at("RO access"),),
    summary="Queries a geospatial index for members inside an area of a box or a circle.",
    history=(_UPPER_UNITS,),
    args=(arg("key", "key"), _FROM, _BY, _ORDER, _COUNT, *_WITH),
)
def geosearch(ctx: Ctx, argv: list[bytes]) -> Any:
    """GEOSEARCH key FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h unit
    [ASC|DESC] [COUNT n [ANY]] [WITH...] -> matches."""
    return _georadius(ctx, argv, 1, _SEARCH)


@command(
    "geosearchstore",
    -8,
    "write denyoom",
    group=_GEO,
    since="6.2.0",
    complexity=_SEARCH_COMPLEXITY,
    keys=(keys_at("OW update"), keys_at("RO access", index=2)),
    summary="Queries a geospatial index for members inside an area of a box or a circle, "
    "optionally stores the result.",
    history=(_UPPER_UNITS,),
    args=(
        arg("destination", "key"),
        arg("source", "key", key=1),
        _FROM,
        _BY,
        _ORDER,
        _COUNT,
        token("STOREDIST", "optional"),
    ),
)
def geosearchstore(ctx: Ctx, argv: list[bytes]) -> Any:
    """GEOSEARCHSTORE dest src FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h
    unit [ASC|DESC] [COUNT n [ANY]] [STOREDIST] -> how many were stored."""
    return _georadius(ctx, argv, 2, _SEARCH | _SEARCHSTORE)
