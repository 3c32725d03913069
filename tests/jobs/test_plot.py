"""The loss curve PNG, read back with a small stdlib decoder: valid file, right pixels, robust inputs."""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import pytest

from byom.jobs import loss_curve_png
from byom.jobs.plot import EVAL_RGB, TRAIN_RGB

AXIS_RGB = (110, 110, 110)  # the frame's colour in byom.jobs.plot, to find the plot area
TEXT_RGB = (40, 40, 40)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Image:
    width: int
    height: int
    rows: list[bytes]  # RGB, 3 bytes a pixel

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        r, g, b = self.rows[y][x * 3 : x * 3 + 3]
        return (r, g, b)

    def where(self, rgb: tuple[int, int, int]) -> list[tuple[int, int]]:
        want = bytes(rgb)
        return [
            (x, y)
            for y, row in enumerate(self.rows)
            for x in range(self.width)
            if row[x * 3 : x * 3 + 3] == want
        ]

    def plot_area(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the frame; tick marks only stick out left and down."""
        frame = self.where(AXIS_RGB)
        assert frame, "no axis frame drawn"
        xs, ys = [x for x, _ in frame], [y for _, y in frame]
        return min(xs) + 4, min(ys), max(xs), max(ys) - 4

    def inside(self, rgb: tuple[int, int, int]) -> list[tuple[int, int]]:
        left, top, right, bottom = self.plot_area()
        return [(x, y) for x, y in self.where(rgb) if left < x < right and top < y < bottom]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode_png(data: bytes) -> Image:
    """Parse chunks (checking every CRC), inflate IDAT and undo the row filters of an 8-bit RGB PNG."""
    assert data[:8] == PNG_SIGNATURE
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(tag + body) == crc, f"bad CRC in {tag!r}"
        chunks.append((tag, body))
        pos += 12 + length
    assert pos == len(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, compression, filtering, interlace) == (8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    raw = zlib.decompress(b"".join(body for tag, body in chunks if tag == b"IDAT"))
    stride = width * 3
    assert len(raw) == height * (stride + 1)
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride if kind else 0):  # type 0 (none) needs no work
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], (prev[i - 3] if i >= 3 else 0)
            predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
            line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        prev = line
    return Image(width, height, rows)


def _decreasing(n: int = 100) -> list[tuple[float, float]]:
    return [(float(s), 3.0 * math.exp(-s / 30) + 0.5) for s in range(n)]


def test_header_is_an_rgb_png_of_the_asked_size() -> None:
    data = loss_curve_png(_decreasing(), width=500, height=300)
    image = decode_png(data)
    assert data.startswith(PNG_SIGNATURE)
    assert (image.width, image.height) == (500, 300)


def test_a_decreasing_loss_runs_from_upper_left_to_lower_right() -> None:
    image = decode_png(loss_curve_png(_decreasing()))
    train = image.inside(TRAIN_RGB)
    assert len(train) > 200
    xs = sorted(x for x, _ in train)
    left_edge, right_edge = xs[len(xs) // 10], xs[-len(xs) // 10]
    left_ys = [y for x, y in train if x <= left_edge]
    right_ys = [y for x, y in train if x >= right_edge]
    # Image rows grow downwards: high loss is near the top.
    assert sum(left_ys) / len(left_ys) < sum(right_ys) / len(right_ys) - 50


def test_eval_colour_appears_only_with_eval_points() -> None:
    without = decode_png(loss_curve_png(_decreasing()))
    assert without.where(EVAL_RGB) == []
    with_eval = decode_png(loss_curve_png(_decreasing(), [(20.0, 1.5), (60.0, 0.9), (99.0, 0.7)]))
    assert len(with_eval.inside(EVAL_RGB)) > 50  # the line and its markers
    assert with_eval.inside(TRAIN_RGB)


def test_eval_only_has_no_train_pixels() -> None:
    image = decode_png(loss_curve_png([], [(10.0, 2.0), (20.0, 1.0)]))
    assert image.where(TRAIN_RGB) == []
    assert image.inside(EVAL_RGB)


@pytest.mark.parametrize(
    "train",
    [
        [],
        [(0.0, math.nan)],
        [(math.inf, 1.0), (math.nan, 2.0), (1.0, -math.inf)],
        [(1.0, 1e301)],  # beyond the axis arithmetic's range: skipped like inf
    ],
    ids=["empty", "nan", "non-finite", "absurd"],
)
def test_nothing_plottable_is_a_valid_image_without_series(train: list[tuple[float, float]]) -> None:
    image = decode_png(loss_curve_png(train, [(2.0, math.nan)]))
    assert (image.width, image.height) == (640, 360)
    assert image.where(TRAIN_RGB) == [] and image.where(EVAL_RGB) == []
    assert image.where(TEXT_RGB), "the 'no loss yet' text is drawn"


def test_non_finite_points_are_skipped_and_the_rest_drawn() -> None:
    points = [(0.0, 3.0), (1.0, math.nan), (2.0, math.inf), (math.nan, 1.0), (3.0, 2.0), (4.0, 1.0)]
    image = decode_png(loss_curve_png(points))
    assert image.inside(TRAIN_RGB)


def test_a_single_point_is_visible() -> None:
    image = decode_png(loss_curve_png([(5.0, 1.25)]))
    assert len(image.inside(TRAIN_RGB)) >= 9  # drawn as a marker, there is no line


def test_equal_losses_are_a_flat_line() -> None:
    image = decode_png(loss_curve_png([(float(s), 0.7) for s in range(50)]))
    train = image.inside(TRAIN_RGB)
    assert train
    assert max(y for _, y in train) - min(y for _, y in train) <= 1  # 2 px thick, level
    assert max(x for x, _ in train) - min(x for x, _ in train) > 400


def test_equal_steps_and_zero_losses_do_not_divide_by_zero() -> None:
    decode_png(loss_curve_png([(3.0, 0.0), (3.0, 0.0)], [(3.0, 0.0)]))
    decode_png(loss_curve_png([(0.0, 1.0), (0.0, 2.0)]))


def test_negative_and_tiny_values_plot() -> None:
    image = decode_png(loss_curve_png([(0.0, -1e-5), (10.0, -3e-5), (20.0, -2e-5)], [(5.0, -2.5e-5)]))
    assert image.inside(TRAIN_RGB) and image.inside(EVAL_RGB)


def test_a_huge_run_is_downsampled_and_keeps_its_spike() -> None:
    spike_at = 123_457
    points = [(float(s), 10.0 if s == spike_at else 1.0) for s in range(200_000)]
    data = loss_curve_png(points)
    image = decode_png(data)
    left, top, right, bottom = image.plot_area()
    train = image.inside(TRAIN_RGB)
    # The one high point still reaches (near) the top of the plot, at about 62% of its width.
    high = [(x, y) for x, y in train if y < top + (bottom - top) // 10]
    assert high
    assert all(abs((x - left) / (right - left) - spike_at / 200_000) < 0.02 for x, _ in high)
    assert len(data) < 50_000


def test_typical_plot_is_small() -> None:
    train = [(float(s), 2.5 * math.exp(-s / 300) + 0.3 + 0.05 * math.sin(s)) for s in range(1, 1001)]
    eval_points = [(float(s), 2.5 * math.exp(-s / 300) + 0.4) for s in range(100, 1001, 100)]
    data = loss_curve_png(train, eval_points, title="ft-0123 Qwen/Qwen2.5-0.5B")
    assert len(data) < 50_000


def test_same_input_same_bytes() -> None:
    train, eval_points = _decreasing(), [(50.0, 1.0)]
    assert loss_curve_png(train, eval_points, title="run") == loss_curve_png(train, eval_points, title="run")


def test_points_in_any_order_draw_the_same_curve() -> None:
    points = _decreasing()
    assert loss_curve_png(points) == loss_curve_png(list(reversed(points)))


def test_a_title_is_drawn_and_a_long_one_cut() -> None:
    plain = decode_png(loss_curve_png(_decreasing()))
    titled = decode_png(loss_curve_png(_decreasing(), title="ft-abc Qwen/Qwen2.5 (lora, r=8) ~!"))
    assert len(titled.where(TEXT_RGB)) > len(plain.where(TEXT_RGB))
    decode_png(loss_curve_png(_decreasing(), title="x" * 500, width=200, height=120))


@pytest.mark.parametrize(("width", "height"), [(199, 360), (640, 119), (4096, 360), (640, 4096)])
def test_out_of_range_sizes_are_refused(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="pixels"):
        loss_curve_png(_decreasing(), width=width, height=height)


def test_smallest_size_still_draws() -> None:
    image = decode_png(loss_curve_png(_decreasing(), [(10.0, 2.0)], width=200, height=120))
    assert (image.width, image.height) == (200, 120)
    assert image.inside(TRAIN_RGB)
