"""LOLWUT (Redis group "server"): computer art and the server's version, as Redis 7.0
draws it (lolwut.c, lolwut5.c, lolwut6.c).

Room: the drawings. Imports: `context`, `registry`, `args`, `errors`, `resp.values`.

With no VERSION (or one Redis 7.0 has no drawing for) it is the version line only;
VERSION 5 is Georg Nees's Schotter, VERSION 6 a city skyline, both on a canvas written
with Braille characters. Redis draws with rand(), seeded at start-up; so does this (the
drawing functions take the generator: tests give them glibc's, seeded, and compare the
pixels with those of Redis's own code).
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

from diskredis.commands.args import parse_int
from diskredis.commands.context import REDIS_VERSION, Ctx
from diskredis.commands.registry import arg, command
from diskredis.errors import c_text
from diskredis.resp.values import Verbatim

_SRV = "server"


_RNG = random.Random()


def _rand() -> int:
    """C's rand(): an int in 0..2^31-1."""
    return _RNG.getrandbits(31)


_F32 = struct.Struct("f")


def _f32(x: float) -> float:
    """The nearest C float: lolwut5.c computes in single precision."""
    value: float = _F32.unpack(_F32.pack(x))[0]
    return value


def _f32s(values: list[float]) -> tuple[float, ...]:
    """_f32 of each value, all at once (a C float operation on two floats is the
    double one rounded to float: double has room enough for that to be exact)."""
    layout = "%df" % len(values)
    return struct.unpack(layout, struct.pack(layout, *values))


def _c_round(x: float) -> float:
    """C round(): halves away from zero."""
    t = float(math.trunc(x))
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return t


class Canvas:
    """lolwut.c's canvas: width x height pixels of one byte (a colour), 0,0 top left;
    drawing outside is ignored and reads 0 there."""

    __slots__ = ("height", "pixels", "width")

    def __init__(self, width: int, height: int, background: int = 0) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray([background]) * (width * height)

    def get(self, x: int, y: int) -> int:
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.pixels[x + y * self.width]
        return 0

    def line(self, x1: int, y1: int, x2: int, y2: int, color: int) -> None:
        """Bresenham, from (x1, y1) to (x2, y2) both included."""
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        error = dx - dy
        width, height, pixels = self.width, self.height, self.pixels
        while True:
            if 0 <= x1 < width and 0 <= y1 < height:
                pixels[x1 + y1 * width] = color
            if x1 == x2 and y1 == y2:
                return
            e2 = error * 2
            if e2 > -dy:
                error -= dy
                x1 += sx
            if e2 < dx:
                error += dx
                y1 += sy

    def square_at(self, x: int, y: int, size: float, ks: list[float], color: int) -> None:
        """lwDrawSquare once its single-precision arithmetic is done (by `schotter`, a
        row of squares at a time): the corners at the angles `ks` on the circle of
        radius `size` around x,y, rounded as C's round(), joined by lines."""
        px, py = [], []
        for k in ks:
            px.append(int(_c_round(math.sin(k) * size + x)))
            py.append(int(_c_round(math.cos(k) * size + y)))
        line = self.line
        line(px[0], py[0], px[1], py[1], color)
        line(px[1], py[1], px[2], py[2], color)
        line(px[2], py[2], px[3], py[3], color)
        line(px[3], py[3], px[0], py[0], color)


# The Braille character of each 2x4 pixel group, as UTF-8: bit 0..2 the left column's
# top three pixels, 3..5 the right column's, 6 and 7 the bottom pixels (left, right).
_BRAILLE = [chr(0x2800 + b).encode() for b in range(256)]


def render_braille(canvas: Canvas) -> bytes:
    """lolwut5.c renderCanvas: one Braille character per 2x4 pixels, rows of them
    separated by newlines (and one after the last unless the canvas ends on the last
    group's first pixel row)."""
    w, h, pixels = canvas.width, canvas.height, canvas.pixels
    cells = (w + 1) // 2
    blank = bytes(2 * cells)

    def row(y: int) -> bytes:
        if y >= h:
            return blank
        return bytes(pixels[y * w : (y + 1) * w]) + bytes(2 * cells - w)

    out = []
    for y in range(0, h, 4):
        r0, r1, r2, r3 = row(y), row(y + 1), row(y + 2), row(y + 3)
        line = b"".join(
            _BRAILLE[
                (a and 1)
                | (b and 2)
                | (c and 4)
                | (d and 8)
                | (e and 16)
                | (f and 32)
                | (g and 64)
                | (i and 128)
            ]
            for a, b, c, d, e, f, g, i in zip(
                r0[0::2],
                r1[0::2],
                r2[0::2],
                r0[1::2],
                r1[1::2],
                r2[1::2],
                r3[0::2],
                r3[1::2],
                strict=True,
            )
        )
        out.append(line)
        if y != h - 1:
            out.append(b"\n")
    return b"".join(out)


def schotter(cols: int, per_row: int, per_col: int, rand: Callable[[], int]) -> Canvas:
    """lolwut5.c lwDrawSchotter: Georg Nees's grid of squares, 2 pixels a column, more
    disturbed (turned, shifted) the lower the row. The arithmetic is C's, in single
    precision, a row of squares at a time; each square of the third row on draws six
    random numbers: turn, x shift, y shift, then their three signs."""
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = _f32(_f32(width - padding * 2) / _f32(per_row))
    height = int(_f32(_f32(side * _f32(per_col)) + _f32(padding * 2)))
    canvas = Canvas(width, height, 0)
    half = _f32(side / 2)
    # lwDrawSquare: the radius of the circle through the corners (side / sqrt 2, as a
    # float, rounded); the corners from pi/4 + angle on, a quarter turn apart
    size = _f32(_c_round(_f32(side / 1.4142135623)))

    def centres(n: int) -> list[int]:  # x * side + side/2 + padding, as C's floats
        at = _f32s([i * side for i in range(n)])
        at = _f32s([v + half for v in at])
        return [int(v) for v in _f32s([v + padding for v in at])]

    xs, ys = centres(per_row), centres(per_col)
    straight = [_f32(math.pi / 4)]
    for _ in range(3):
        straight.append(_f32(straight[-1] + math.pi / 2))
    for y in range(per_col):
        if y <= 1:
            for x in range(per_row):
                canvas.square_at(xs[x], ys[y], size, straight, 1)
            continue
        draws = [rand() for _ in range(6 * per_row)]
        turns = _f32s([draws[6 * i + j] for i in range(per_row) for j in range(3)])
        turns = _f32s([v / 2147483648.0 / per_col for v in turns])  # (float)RAND_MAX: 2^31
        r = list(_f32s([v * y for v in turns]))
        for i in range(per_row):
            for j in range(3):
                if draws[6 * i + 3 + j] % 2:
                    r[3 * i + j] = -r[3 * i + j]
        shift = _f32s([r[3 * i + 1 + j] * side for i in range(per_row) for j in range(2)])
        shift = _f32s([v / 3 for v in shift])
        at = _f32s([(xs[i], ys[y])[j] + shift[2 * i + j] for i in range(per_row) for j in range(2)])
        ks = [_f32s([math.pi / 4 + r[3 * i] for i in range(per_row)])]
        for _ in range(3):
            ks.append(_f32s([k + math.pi / 2 for k in ks[-1]]))
        for i in range(per_row):
            canvas.square_at(
                int(at[2 * i]),
                int(at[2 * i + 1]),
                size,
                [ks[0][i], ks[1][i], ks[2][i], ks[3][i]],
                1,
            )
    return canvas


def lolwut5_text(args: list[bytes], rand: Callable[[], int]) -> bytes:
    """LOLWUT 5 [columns] [squares-per-row] [squares-per-col] (defaults 66, 8, 12; each
    clamped to 1..1000, 1..200, 1..200)."""
    cols, per_row, per_col = 66, 8, 12
    if len(args) > 1:
        cols = parse_int(args[1])
    if len(args) > 2:
        per_row = parse_int(args[2])
    if len(args) > 3:
        per_col = parse_int(args[3])
    cols = min(max(cols, 1), 1000)
    per_row = min(max(per_row, 1), 200)
    per_col = min(max(per_col, 1), 200)
    art = render_braille(schotter(cols, per_row, per_col, rand))
    return (
        art
        + b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. "
        + REDIS_VERSION.encode()
        + b"\n"
    )


def _skyscraper(
    canvas: Canvas,
    xoff: int,
    width: int,
    height: int,
    windows: bool,
    color: int,
    rand: Callable[[], int],
) -> None:
    """lolwut6.c generateSkyscraper: a building standing on the canvas's bottom row,
    its roof two pixels narrower on each side; with `windows`, windows two pixels wide
    on every other row of its inner part, each of a random grey (not its own)."""
    w, pixels = canvas.width, canvas.pixels
    starty = canvas.height - 1
    endy = starty - height + 1
    for y in range(starty, endy - 1, -1):  # endy >= 1: every row is on the canvas
        if y == endy:
            first, last = xoff + 2, xoff + width - 3
        else:
            first, last = xoff, xoff + width - 1
        lo, hi = max(first, 0), min(last, w - 1)
        if lo <= hi:
            pixels[y * w + lo : y * w + hi + 1] = bytes([color]) * (hi - lo + 1)
        if not windows or not (endy + 1 < y < starty - 1):
            continue
        rely = y - (endy + 1)
        if not rely % 2:
            continue
        # Window pixels, left to right as Redis draws them (the random draws follow).
        for x in range(xoff + 2, xoff + width - 2):
            relx = x - (xoff + 1)
            if not (relx // 2) % 2:
                continue
            shade = color
            while shade == color:
                shade = 1 + rand() % 2
            if relx % 2:
                shade = canvas.get(x - 1, y)
            if 0 <= x < w:
                pixels[y * w + x] = shade


def skyline(canvas: Canvas, rand: Callable[[], int]) -> None:
    """lolwut6.c generateSkyline: two rows of window-less buildings (light grey behind
    dark grey), then black ones with windows in front."""
    h = canvas.height
    for color in (2, 1):
        offset = -10
        while offset < canvas.width:
            offset += rand() % 8
            xoff = offset
            width = 10 + rand() % 9
            if color == 2:
                height = h // 2 + (rand() % h) // 2
            else:
                height = h // 2 + (rand() % h) // 3
            _skyscraper(canvas, xoff, width, height, False, color, rand)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += rand() % 8
        xoff = offset
        width = 5 + rand() % 14
        if width % 4:
            width += width % 3
        height = h // 3 + (rand() % h) // 2
        _skyscraper(canvas, xoff, width, height, True, 0, rand)
        offset += width + 5


# Each pixel is a space in one of the four greys, foreground and background both set.
_SHADES = [b"\033[%s \033[0m" % c for c in (b"0;30;40m", b"0;90;100m", b"0;37;47m", b"0;97;107m")]
_SHADES += [_SHADES[0]] * (256 - len(_SHADES))


def lolwut6_text(args: list[bytes], rand: Callable[[], int]) -> bytes:
    """LOLWUT 6 [columns] [rows] (defaults 80, 20; each clamped to 1..1000)."""
    cols, rows = 80, 20
    if len(args) > 1:
        cols = parse_int(args[1])
    if len(args) > 2:
        rows = parse_int(args[2])
    cols = min(max(cols, 1), 1000)
    rows = min(max(rows, 1), 1000)
    canvas = Canvas(cols, rows, 3)
    skyline(canvas, rand)
    pixels = canvas.pixels
    lines = [b"".join(_SHADES[c] for c in pixels[y * cols : (y + 1) * cols]) for y in range(rows)]
    return b"\n".join(lines) + (
        b"\nDedicated to the 8 bit game developers of past and present.\n"
        b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. "
        + REDIS_VERSION.encode()
        + b"\n"
    )


def lolwut_text(argv: list[bytes], rand: Callable[[], int] | None = None) -> bytes:
    """lolwut.c: VERSION v picks the drawing by the version string "v.0.0" (v as a C
    unsigned int); 5 draws Schotter, 6 the skyline, anything else (and no VERSION, as
    this is 7.0) just the version line. The drawing reads the arguments after v."""
    rand = _rand if rand is None else rand
    version = REDIS_VERSION
    args = argv
    if len(argv) >= 3 and c_text(argv[1]).lower() == "version":
        version = "%d.0.0" % (parse_int(argv[2]) & 0xFFFFFFFF)
        args = argv[2:]
    v = version + "\0\0"
    if (v[0] == "5" and v[1] == "." and v[2] != "9") or (
        v[0] == "4" and v[1] == "." and v[2] == "9"
    ):
        return lolwut5_text(args, rand)
    if (v[0] == "6" and v[1] == "." and v[2] != "9") or (
        v[0] == "5" and v[1] == "." and v[2] == "9"
    ):
        return lolwut6_text(args, rand)
    return b"Redis ver. " + REDIS_VERSION.encode() + b"\n"


@command(
    "lolwut",
    -1,
    "readonly fast",
    group=_SRV,
    since="5.0.0",
    summary="Draws a piece of generative computer art, followed by the server's version.",
    args=(arg("version", "integer", "optional", token="VERSION"),),
)
def lolwut(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """LOLWUT [VERSION version] [arguments of that version's drawing] -> verbatim text:
    the art and the version line."""
    return Verbatim(lolwut_text(argv))
