"""Geohash arithmetic as Redis does it (geohash.c, geohash_helper.c).

Room: pure arithmetic on coordinates and 52-bit scores. Imports: the standard library.

Python floats are C doubles and `math` calls the same libm, so every step below --
the order of operations included -- gives the bits Redis gives: the same scores from
GEOADD, the same boxes searched, the same distances to the last digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STEP_MAX = 26  # 52 bits
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
LON_MIN, LON_MAX = -180.0, 180.0
EARTH_RADIUS = 6372797.560856  # metres, WGS-84's quadratic mean radius
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0
_U64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_WGS84 = ((LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX))
STANDARD = ((-180.0, 180.0), (-90.0, 90.0))  # the ranges of textual geohashes


@dataclass(frozen=True, slots=True)
class Bits:
    """A geohash of `step` bits per coordinate (step 0 and bits 0: none)."""

    bits: int
    step: int

    @property
    def zero(self) -> bool:
        return not self.bits and not self.step


@dataclass(frozen=True, slots=True)
class Area:
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


NONE = Bits(0, 0)


def _spread(v: int) -> int:
    """The 32 bits of `v` on the even bit positions of 64."""
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & _EVEN


def _gather(v: int) -> int:
    """The even bits of `v`, packed into 32."""
    v &= _EVEN
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0xFFFFFFFF


def encode(
    lon: float,
    lat: float,
    step: int = STEP_MAX,
    ranges: tuple[tuple[float, float], tuple[float, float]] = _WGS84,
) -> Bits | None:
    """geohashEncode: latitude on the even bits, longitude on the odd ones; None outside
    the WGS-84 limits or the given ranges."""
    (lon_lo, lon_hi), (lat_lo, lat_hi) = ranges
    if lon > LON_MAX or lon < LON_MIN or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if lat < lat_lo or lat > lat_hi or lon < lon_lo or lon > lon_hi:
        return None
    scale = float(1 << step)
    lat_off = (lat - lat_lo) / (lat_hi - lat_lo) * scale
    lon_off = (lon - lon_lo) / (lon_hi - lon_lo) * scale
    return Bits(
        _spread(int(lat_off) & 0xFFFFFFFF) | (_spread(int(lon_off) & 0xFFFFFFFF) << 1), step
    )


def decode(
    h: Bits, ranges: tuple[tuple[float, float], tuple[float, float]] = _WGS84
) -> Area | None:
    """geohashDecode: the cell `h` stands for (None for the empty hash)."""
    if h.zero:
        return None
    (lon_lo, lon_hi), (lat_lo, lat_hi) = ranges
    ilat, ilon = _gather(h.bits), _gather(h.bits >> 1)
    cells = float(1 << h.step)
    lat_scale, lon_scale = lat_hi - lat_lo, lon_hi - lon_lo
    return Area(
        lon_lo + (ilon * 1.0 / cells) * lon_scale,
        lon_lo + (((ilon + 1) & 0xFFFFFFFF) * 1.0 / cells) * lon_scale,
        lat_lo + (ilat * 1.0 / cells) * lat_scale,
        lat_lo + (((ilat + 1) & 0xFFFFFFFF) * 1.0 / cells) * lat_scale,
    )


def score_bits(score: float) -> int:
    """`(uint64_t)score` as x86-64 code compiled by gcc computes it, garbage scores
    (negative, huge, infinite) included."""
    indefinite = 1 << 63
    if score < 9223372036854775808.0:  # cvttsd2si
        if math.isinf(score) or score <= -9223372036854775809.0:
            return indefinite
        return int(score) & _U64
    rest = score - 9223372036854775808.0
    if math.isnan(rest) or rest >= 9223372036854775808.0:
        return 0  # indefinite ^ the top bit
    return (int(rest) ^ indefinite) & _U64


def position(score: float) -> tuple[float, float] | None:
    """decodeGeohash: the (longitude, latitude) a sorted-set score stands for."""
    area = decode(Bits(score_bits(score), STEP_MAX))
    if area is None:
        return None
    lon = min(max((area.lon_min + area.lon_max) / 2, LON_MIN), LON_MAX)
    lat = min(max((area.lat_min + area.lat_max) / 2, LAT_MIN), LAT_MAX)
    return lon, lat


def score_of(lon: float, lat: float) -> int:
    """The 52-bit score GEOADD gives a position (inside the WGS-84 limits)."""
    h = encode(lon, lat)
    assert h is not None
    return align52(h)


def align52(h: Bits) -> int:
    return (h.bits << (52 - h.step * 2)) & _U64


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def text_hash(score: float) -> bytes | None:
    """GEOHASH's 11 characters: the position encoded again with the standard ranges."""
    xy = position(score)
    if xy is None:
        return None
    h = encode(xy[0], xy[1], STEP_MAX, STANDARD)
    bits = 0 if h is None else h.bits
    chars = [_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10)]
    return bytes(chars) + b"0"


# -- distances -----------------------------------------------------------------------
def _rad(deg: float) -> float:
    return deg * _D_R


def _rad_deg(rad: float) -> float:
    return rad / _D_R


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS * abs(_rad(lat2) - _rad(lat1))


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """geohashGetDistance: haversine on Redis's sphere, in metres."""
    lon1r, lon2r = _rad(lon1), _rad(lon2)
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r, lat2r = _rad(lat1), _rad(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS * math.asin(math.sqrt(a))


# -- the shapes searched --------------------------------------------------------------
@dataclass
class Shape:
    """A search area: a circle (`radius`) or a box (`width`, `height`), in the unit
    whose size in metres is `conversion`, around (lon, lat)."""

    lon: float = 0.0
    lat: float = 0.0
    conversion: float = 1.0
    radius: float | None = None
    width: float = 0.0
    height: float = 0.0

    def contains(self, lon: float, lat: float) -> float | None:
        """The distance (metres) to a point inside the shape; None outside."""
        if self.radius is not None:
            d = distance(self.lon, self.lat, lon, lat)
            return None if d > self.radius * self.conversion else d
        width, height = self.width * self.conversion, self.height * self.conversion
        if lat_distance(lat, self.lat) > height / 2:
            return None
        if distance(lon, lat, self.lon, lat) > width / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)

    def bounds(self) -> tuple[float, float, float, float]:
        """geohashBoundingBox: (min lon, min lat, max lon, max lat)."""
        half_h = self.conversion * (self.radius if self.radius is not None else self.height / 2)
        half_w = self.conversion * (self.radius if self.radius is not None else self.width / 2)
        lat_delta = _rad_deg(half_h / EARTH_RADIUS)
        top = _rad_deg(half_w / EARTH_RADIUS / math.cos(_rad(self.lat + lat_delta)))
        bottom = _rad_deg(half_w / EARTH_RADIUS / math.cos(_rad(self.lat - lat_delta)))
        south = self.lat < 0
        return (
            self.lon - (bottom if south else top),
            self.lat - lat_delta,
            self.lon + (bottom if south else top),
            self.lat + lat_delta,
        )

    def reach(self) -> float:
        """The distance in metres from the centre to the farthest point of the shape."""
        if self.radius is not None:
            return self.radius * self.conversion
        return (
            math.sqrt((self.width / 2) * (self.width / 2) + (self.height / 2) * (self.height / 2))
            * self.conversion
        )


def steps_for(range_m: float, lat: float) -> int:
    """geohashEstimateStepsByRadius."""
    if range_m == 0:
        return 26
    step = 1
    while range_m < MERCATOR_MAX:
        range_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def _move(h: Bits, dx: int, dy: int) -> Bits:
    """geohash_move_x then geohash_move_y."""
    bits, shift = h.bits, 64 - h.step * 2
    if dx:
        x, y = bits & _ODD, bits & _EVEN
        zz = _EVEN >> shift
        x = (x + zz + 1) if dx > 0 else ((x | zz) - (zz + 1))
        bits = ((x & _U64) & (_ODD >> shift)) | y
    if dy:
        x, y = bits & _ODD, bits & _EVEN
        zz = _ODD >> shift
        y = (y + zz + 1) if dy > 0 else ((y | zz) - (zz + 1))
        bits = x | ((y & _U64) & (_EVEN >> shift))
    return Bits(bits, h.step)


def search_cells(shape: Shape) -> list[Bits]:
    """geohashCalculateAreasByShapeWGS84: the centre cell and its eight neighbours, in
    the order Redis visits them (centre, N, S, E, W, NE, NW, SE, SW); cells that cannot
    hold a match are NONE."""
    min_lon, min_lat, max_lon, max_lat = shape.bounds()
    steps = steps_for(shape.reach(), shape.lat)
    cells, area = _cells(shape, steps)
    north, south, east, west = (decode(c) for c in cells[1:5])
    assert north and south and east and west
    if steps > 1 and (
        north.lat_max < max_lat
        or south.lat_min > min_lat
        or east.lon_max < max_lon
        or west.lon_min > min_lon
    ):
        steps -= 1
        cells, area = _cells(shape, steps)
    if steps >= 2:
        drop: set[int] = set()
        if area.lat_min < min_lat:
            drop.update((2, 7, 8))  # south, south-east, south-west
        if area.lat_max > max_lat:
            drop.update((1, 5, 6))
        if area.lon_min < min_lon:
            drop.update((4, 6, 8))
        if area.lon_max > max_lon:
            drop.update((3, 5, 7))
        cells = [NONE if i in drop else c for i, c in enumerate(cells)]
    return cells


def _cells(shape: Shape, steps: int) -> tuple[list[Bits], Area]:
    h = encode(shape.lon, shape.lat, steps)
    assert h is not None
    area = decode(h)
    assert area is not None
    moves = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))
    return [h] + [_move(h, dx, dy) for dx, dy in moves], area


def score_range(h: Bits) -> tuple[int, int]:
    """The scores [min, max) of the points inside cell `h`."""
    return align52(h), align52(Bits(h.bits + 1, h.step))


def fixed4(value: float) -> bytes:
    """fixedpoint_d2string(value, 4): rounded half to even, as llrint."""
    if value == 0:
        return b"0.0000"
    scaled = round(value * 10000.0)
    sign = b"-" if scaled < 0 else b""
    whole, frac = divmod(abs(scaled), 10000)
    return b"%s%d.%04d" % (sign, whole, frac)
