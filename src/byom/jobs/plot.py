"""A loss curve as a PNG, drawn in pure Python so the MCP server needs no plotting library.

``loss_curve_png(train, eval)`` takes ``(step, loss)`` points and returns the bytes of an RGB
PNG: axes, light gridlines, tick labels, the train loss as a line, the eval loss as a line with
markers, and a legend. Non-finite points are skipped; an empty plot says "no loss yet".
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Iterable, Sequence

__all__ = ["EVAL_RGB", "TRAIN_RGB", "loss_curve_png"]

RGB = tuple[int, int, int]
Point = tuple[float, float]

TRAIN_RGB: RGB = (31, 119, 180)
EVAL_RGB: RGB = (230, 97, 1)
_BACKGROUND: RGB = (255, 255, 255)
_GRID: RGB = (228, 228, 228)
_AXIS: RGB = (110, 110, 110)
_TEXT: RGB = (40, 40, 40)

# Values beyond this are treated like inf: the axis arithmetic (span, tick rounding) must stay finite.
_LIMIT = 1e300
MIN_WIDTH, MAX_WIDTH = 200, 2048
MIN_HEIGHT, MAX_HEIGHT = 120, 2048

# 5x7 glyphs, one string of seven 5-bit rows per character (after the HD44780 LCD font).
# Upper case is drawn as lower case; any other character as "?".
_FONT: dict[str, str] = {
    " ": "00000 00000 00000 00000 00000 00000 00000",
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    ",": "00000 00000 00000 00000 01100 00100 01000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    "+": "00000 00100 00100 11111 00100 00100 00000",
    "_": "00000 00000 00000 00000 00000 00000 11111",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "/": "00000 00001 00010 00100 01000 10000 00000",
    "=": "00000 00000 11111 00000 11111 00000 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000",
    "%": "11000 11001 00010 00100 01000 10011 00011",
    "?": "01110 10001 00001 00010 00100 00000 00100",
    "a": "00000 00000 01110 00001 01111 10001 01111",
    "b": "10000 10000 10110 11001 10001 10001 11110",
    "c": "00000 00000 01110 10000 10000 10001 01110",
    "d": "00001 00001 01101 10011 10001 10001 01111",
    "e": "00000 00000 01110 10001 11111 10000 01110",
    "f": "00110 01001 01000 11100 01000 01000 01000",
    "g": "00000 01111 10001 10001 01111 00001 01110",
    "h": "10000 10000 10110 11001 10001 10001 10001",
    "i": "00100 00000 01100 00100 00100 00100 01110",
    "j": "00010 00000 00110 00010 00010 10010 01100",
    "k": "10000 10000 10010 10100 11000 10100 10010",
    "l": "01100 00100 00100 00100 00100 00100 01110",
    "m": "00000 00000 11010 10101 10101 10001 10001",
    "n": "00000 00000 10110 11001 10001 10001 10001",
    "o": "00000 00000 01110 10001 10001 10001 01110",
    "p": "00000 00000 11110 10001 11110 10000 10000",
    "q": "00000 00000 01101 10011 01111 00001 00001",
    "r": "00000 00000 10110 11001 10000 10000 10000",
    "s": "00000 00000 01110 10000 01110 00001 11110",
    "t": "01000 01000 11100 01000 01000 01001 00110",
    "u": "00000 00000 10001 10001 10001 10011 01101",
    "v": "00000 00000 10001 10001 10001 01010 00100",
    "w": "00000 00000 10001 10001 10101 10101 01010",
    "x": "00000 00000 10001 01010 00100 01010 10001",
    "y": "00000 00000 10001 10001 01111 00001 01110",
    "z": "00000 00000 11111 00010 00100 01000 11111",
}
_GLYPH_W, _GLYPH_H, _ADVANCE = 5, 7, 6
# Each glyph as the (dx, dy) offsets of its lit pixels, decoded once.
_GLYPHS: dict[str, tuple[tuple[int, int], ...]] = {
    ch: tuple((dx, dy) for dy, row in enumerate(rows.split()) for dx, bit in enumerate(row) if bit == "1")
    for ch, rows in _FONT.items()
}


def _text_width(text: str) -> int:
    return max(0, len(text) * _ADVANCE - 1)


class _Canvas:
    """An RGB raster with just the primitives a line chart needs; drawing outside is clipped."""

    def __init__(self, width: int, height: int, background: RGB) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def dot(self, x: int, y: int, rgb: RGB) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(rgb)

    def fill(self, x0: int, y0: int, x1: int, y1: int, rgb: RGB) -> None:
        """Fill the rectangle [x0, x1] x [y0, y1], corners included."""
        x0, x1 = max(0, min(x0, x1)), min(self.width - 1, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height - 1, max(y0, y1))
        if x0 > x1 or y0 > y1:
            return
        run = bytes(rgb) * (x1 - x0 + 1)
        for y in range(y0, y1 + 1):
            i = (y * self.width + x0) * 3
            self.pixels[i : i + len(run)] = run

    def line(self, x0: int, y0: int, x1: int, y1: int, rgb: RGB) -> None:
        """Bresenham's line with a 2x2 brush, so it reads 2 px thick."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.fill(x0, y0, x0 + 1, y0 + 1, rgb)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def disc(self, cx: int, cy: int, radius: int, rgb: RGB) -> None:
        for dy in range(-radius, radius + 1):
            half = math.isqrt(radius * radius - dy * dy)
            self.fill(cx - half, cy + dy, cx + half, cy + dy, rgb)

    def text(self, x: int, y: int, text: str, rgb: RGB) -> None:
        """Draw ``text`` with its top-left corner at (x, y)."""
        for ch in text:
            glyph = _GLYPHS.get(ch, _GLYPHS.get(ch.lower(), _GLYPHS["?"]))
            for dx, dy in glyph:
                self.dot(x + dx, y + dy, rgb)
            x += _ADVANCE

    def png(self) -> bytes:
        stride = self.width * 3
        # Filter type 0 per row: flat areas and repeated rows already deflate to almost nothing.
        raw = b"".join(b"\x00" + self.pixels[y * stride : (y + 1) * stride] for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _clean(points: Iterable[tuple[float, float]]) -> list[Point]:
    """The plottable points, by step: non-finite (and absurdly large) steps or losses are dropped."""
    kept = []
    for step, loss in points:
        x, y = float(step), float(loss)
        if math.isfinite(x) and math.isfinite(y) and abs(x) <= _LIMIT and abs(y) <= _LIMIT:
            kept.append((x, y))
    kept.sort(key=lambda p: p[0])  # stable: points logged at the same step keep their order
    return kept


class _Axis:
    """A linear scale from data values to pixels, widened to round tick values."""

    def __init__(self, lo: float, hi: float, target_ticks: int) -> None:
        lo, hi = _padded(lo, hi)
        raw = (hi - lo) / max(1, target_ticks)
        magnitude = 10.0 ** math.floor(math.log10(raw))
        # The smallest of 1, 2, 5, 10 x 10^k not below the raw step: at most target + 2 ticks.
        self.step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
        first, last = math.floor(lo / self.step + 1e-9), math.ceil(hi / self.step - 1e-9)
        self.ticks = [k * self.step for k in range(first, max(last, first + 1) + 1)]
        self.lo, self.hi = self.ticks[0], self.ticks[-1]

    def labels(self) -> list[str]:
        return [_format_tick(t, self.step, max(abs(self.lo), abs(self.hi))) for t in self.ticks]

    def to_pixel(self, value: float, start: int, length: int, *, flip: bool = False) -> int:
        frac = (value - self.lo) / (self.hi - self.lo)
        return start + round((1.0 - frac if flip else frac) * (length - 1))


def _padded(lo: float, hi: float) -> tuple[float, float]:
    """Widen a zero (or float-noise) span around its centre, so equal values still get an axis."""
    span = hi - lo
    if span > max(abs(lo), abs(hi)) * 1e-9 and span > 1e-100:
        return lo, hi
    centre = (lo + hi) / 2
    pad = abs(centre) * 0.1 if abs(centre) > 1e-100 else 1.0
    return centre - pad, centre + pad


def _format_tick(value: float, step: float, biggest: float) -> str:
    """As few characters as tell neighbouring ticks apart: fixed point, or 1.5e7 / 2e-5."""
    if abs(value) < step * 1e-6:
        return "0"
    step_exp = math.floor(round(math.log10(step), 9))
    if biggest >= 1e6 or step < 1e-4:
        digits = min(6, max(0, math.floor(math.log10(biggest)) - step_exp))
        mantissa, exponent = f"{value:.{digits}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.{max(0, -step_exp)}f}"


def _decimate(pixels: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Keep each pixel column's highest and lowest point (in step order), so spikes stay visible."""
    if len(pixels) <= limit:
        return pixels
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(pixels):
        j = i
        while j < len(pixels) and pixels[j][0] == pixels[i][0]:
            j += 1
        column = pixels[i:j]
        low = min(range(len(column)), key=lambda k: column[k][1])
        high = max(range(len(column)), key=lambda k: column[k][1])
        out.extend(column[k] for k in sorted({low, high}))
        i = j
    return out


def loss_curve_png(
    train: Sequence[tuple[float, float]],
    eval: Sequence[tuple[float, float]] = (),
    *,
    width: int = 640,
    height: int = 360,
    title: str | None = None,
) -> bytes:
    """A PNG of the train loss (line) and eval loss (line with markers) over steps.

    Points are ``(step, loss)``; NaN, inf and values beyond 1e300 are skipped, any order is fine.
    Raises ``ValueError`` if ``width`` is outside 200-2048 or ``height`` outside 120-2048 pixels.
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"width must be {MIN_WIDTH}-{MAX_WIDTH} pixels, got {width}")
    if not MIN_HEIGHT <= height <= MAX_HEIGHT:
        raise ValueError(f"height must be {MIN_HEIGHT}-{MAX_HEIGHT} pixels, got {height}")
    series = [
        (pts, rgb, name)
        for pts, rgb, name in ((_clean(train), TRAIN_RGB, "train"), (_clean(eval), EVAL_RGB, "eval"))
        if pts
    ]
    canvas = _Canvas(width, height, _BACKGROUND)
    top, bottom, right = 36, height - 33, width - 17
    everything = [p for pts, _, _ in series for p in pts]

    if not everything:
        left = 40
        canvas.fill(left, top, right, bottom, _AXIS)
        canvas.fill(left + 1, top + 1, right - 1, bottom - 1, _BACKGROUND)
        message = "no loss yet"
        canvas.text(
            (left + right - _text_width(message)) // 2, (top + bottom - _GLYPH_H) // 2, message, _TEXT
        )
        _draw_title(canvas, title, 8, right)
        return canvas.png()

    ys = _Axis(min(y for _, y in everything), max(y for _, y in everything), max(2, (bottom - top) // 45))
    y_labels = ys.labels()
    left = 16 + max(_text_width(s) for s in y_labels)
    plot_w, plot_h = right - left + 1, bottom - top + 1
    xs = _Axis(min(x for x, _ in everything), max(x for x, _ in everything), max(2, plot_w // 90))

    # Each gridline with its tick mark and label, then the frame drawn over the gridlines' ends.
    for value, label in zip(ys.ticks, y_labels, strict=True):
        py = ys.to_pixel(value, top, plot_h, flip=True)
        canvas.fill(left, py, right, py, _GRID)
        canvas.fill(left - 4, py, left - 1, py, _AXIS)
        canvas.text(left - 6 - _text_width(label), py - _GLYPH_H // 2, label, _TEXT)
    for value, label in zip(xs.ticks, xs.labels(), strict=True):
        px = xs.to_pixel(value, left, plot_w)
        canvas.fill(px, top, px, bottom, _GRID)
        canvas.fill(px, bottom + 1, px, bottom + 4, _AXIS)
        # Centred under its tick, but kept inside the image (the last label sits at the right edge).
        label_x = min(px - _text_width(label) // 2, width - 2 - _text_width(label))
        canvas.text(label_x, bottom + 7, label, _TEXT)
    for x0, y0, x1, y1 in (
        (left, top, right, top),
        (left, bottom, right, bottom),
        (left, top, left, bottom),
        (right, top, right, bottom),
    ):
        canvas.fill(x0, y0, x1, y1, _AXIS)
    canvas.text((left + right - _text_width("step")) // 2, bottom + 18, "step", _TEXT)
    canvas.text(max(2, left - _text_width("loss") // 2), top - 13, "loss", _TEXT)

    for pts, rgb, name in series:
        pixels = [(xs.to_pixel(x, left, plot_w), ys.to_pixel(y, top, plot_h, flip=True)) for x, y in pts]
        pixels = _decimate(pixels, plot_w)
        for (x0, y0), (x1, y1) in itertools.pairwise(pixels):
            canvas.line(x0, y0, x1, y1, rgb)
        if name == "eval" or len(pixels) == 1:  # a lone train point has no line to show it
            for px, py in pixels:
                canvas.disc(px, py, 3, rgb)

    legend_x = _draw_legend(canvas, [(rgb, name) for _, rgb, name in series], right, 11)
    _draw_title(canvas, title, 8, legend_x - 12)
    return canvas.png()


def _draw_legend(canvas: _Canvas, entries: list[tuple[RGB, str]], right: int, y: int) -> int:
    """Swatch + name per series, right-aligned at ``right``; returns the legend's left edge."""
    widths = [16 + 4 + _text_width(name) for _, name in entries]
    x = right - sum(widths) - 12 * (len(entries) - 1)
    start = x
    for (rgb, name), w in zip(entries, widths, strict=True):
        canvas.line(x, y + 3, x + 15, y + 3, rgb)
        if name == "eval":
            canvas.disc(x + 8, y + 3, 3, rgb)
        canvas.text(x + 20, y, name, _TEXT)
        x += w + 12
    return start


def _draw_title(canvas: _Canvas, title: str | None, x: int, limit: int) -> None:
    """The title at the top left, cut with ".." where it would run into ``limit``."""
    if not title:
        return
    fits = max(0, (limit - x + 1) // _ADVANCE)
    text = title if len(title) <= fits else title[: max(0, fits - 2)] + ".."
    canvas.text(x, 11, text, _TEXT)
