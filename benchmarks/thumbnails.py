"""Thumbnails: naive Pillow against crossgrant's pipeline, in the same run, on a generated
corpus, for the sizes a thumbnailer makes (256 and 128 px boxes by default).

naive   the order most code uses: open, ImageOps.exif_transpose (which decodes and rotates
        every pixel), then thumbnail() each size from the full image.
ours    crossgrant.functions.images.make_thumbnails: draft() decodes a JPEG at 1/2..1/8
        scale, thumbnail() before exif_transpose(), smaller sizes cut from the largest,
        ICC to sRGB, metadata stripped.
pyvips  thumbnail_buffer with shrink-on-load and auto-rotation, when pyvips is importable
        (it is not a project dependency: see docs/functions.md).

Both Pillow pipelines write the same formats (JPEG for photos, PNG for alpha, WebP for WebP)
at the same quality. Time is the median of several runs per image, in-process. Peak memory
is the growth of the resident high-water mark while one image is processed, measured in a
fresh subprocess per (pipeline, image) so that one result cannot hide another.

Run: `python benchmarks/thumbnails.py [--json] [--repeat N] [--sizes 256,128]`. The last
line of --json output is {"speedup_jpeg_12mp", "speedup_png", "speedup_webp",
"memory_ratio_jpeg_12mp", ...}.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from crossgrant.functions.images import make_thumbnails, output_format

PIPELINES = ("naive", "ours", "pyvips")


# -- the corpus -----------------------------------------------------------------------------

def photo(width: int, height: int, seed: int) -> Image.Image:
    """Photo-like content: soft gradients, blurred shapes with edges, and sensor-like noise.
    At quality 90 a 12-megapixel frame comes out at about 3 MB, like a phone photo; the
    entropy decoding of that data is the part of a JPEG decode that draft() cannot skip,
    so a flat or a pure-noise image would overstate or understate the gain."""
    rnd = random.Random(seed)
    base = Image.merge("RGB", (
        Image.linear_gradient("L").rotate(90 * seed).resize((width, height)),
        Image.radial_gradient("L").resize((width, height)),
        Image.linear_gradient("L").transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        .resize((width, height))))
    draw = ImageDraw.Draw(base)
    for _ in range(60):
        x, y = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randrange(width // 40, width // 6)
        fill = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        shape = draw.ellipse if rnd.random() < 0.5 else draw.rectangle
        shape((x - r, y - r // 2, x + r, y + r // 2), fill=fill)
    base = base.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise((width, height), 10).convert("RGB")
    return ImageChops.add(base, ImageChops.subtract(noise, Image.new("RGB", base.size,
                                                                      (128, 128, 128))))


def corpus(directory: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {"jpeg_12mp": [], "png": [], "webp": []}
    for i, orientation in enumerate((1, 6, 8)):
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        path = directory / f"photo-{i}.jpg"
        photo(4000, 3000, i).save(path, "JPEG", quality=90, exif=exif.tobytes())
        files["jpeg_12mp"].append(path)
    for i in range(2):
        rgba = photo(2400, 1600, i).convert("RGBA")
        mask = Image.radial_gradient("L").resize(rgba.size)
        rgba.putalpha(ImageOps.invert(mask))
        path = directory / f"alpha-{i}.png"
        rgba.save(path, "PNG", compress_level=6)
        files["png"].append(path)
    for i in range(2):
        path = directory / f"photo-{i}.webp"
        photo(3000, 2000, i + 1).save(path, "WEBP", quality=85)
        files["webp"].append(path)
    return files


# -- the pipelines ----------------------------------------------------------------------------

def naive(data: bytes, sizes: list[int]) -> list[bytes]:
    image = Image.open(io.BytesIO(data))
    source_format = image.format or "JPEG"
    image = ImageOps.exif_transpose(image)  # decodes everything, rotates everything
    out = []
    for size in sizes:
        thumb = image.copy()
        thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
        fmt = output_format(source_format, thumb.mode == "RGBA")
        buf = io.BytesIO()
        if fmt == "JPEG":
            thumb.convert("RGB").save(buf, "JPEG", quality=82)
        elif fmt == "PNG":
            thumb.save(buf, "PNG", compress_level=6)
        else:
            thumb.save(buf, "WEBP", quality=80, method=4)
        out.append(buf.getvalue())
    return out


def ours(data: bytes, sizes: list[int]) -> list[bytes]:
    return [t.data for t in make_thumbnails(data, sizes)[1]]


def vips(data: bytes, sizes: list[int]) -> list[bytes]:
    import pyvips  # noqa: PLC0415 - optional

    suffix_alpha = ".png"
    suffix = ".webp[Q=80,strip]" if data[8:12] == b"WEBP" else ".jpg[Q=82,strip]"
    out = []
    boxes = sorted(sizes, reverse=True)
    # Shrink-on-load for the largest box, then each smaller one from it, as ours does.
    largest = pyvips.Image.thumbnail_buffer(data, boxes[0], height=boxes[0], size="down")
    if len(boxes) > 1:
        largest = largest.copy_memory()  # the pipeline is sequential: render it once
    for size in boxes:
        thumb = largest if size == boxes[0] else largest.thumbnail_image(size, height=size)
        if thumb.hasalpha() and not suffix.startswith(".webp"):
            out.append(thumb.write_to_buffer(suffix_alpha))
        else:
            out.append(thumb.write_to_buffer(suffix))
    return out


FUNCS: dict[str, Callable[[bytes, list[int]], list[bytes]]] = {
    "naive": naive, "ours": ours, "pyvips": vips}


def have_pyvips() -> bool:
    try:
        import pyvips  # noqa: F401, PLC0415
    except (ImportError, OSError):
        return False
    return True


# -- measuring ------------------------------------------------------------------------------

def seconds(func: Callable[[bytes, list[int]], list[bytes]], data: bytes, sizes: list[int],
            repeat: int) -> float:
    func(data, sizes)  # warm: plugins imported, code paths hot
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func(data, sizes)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def peak_mb(pipeline: str, path: Path, sizes: list[int]) -> float:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure-memory", pipeline, str(path),
         "--sizes", ",".join(map(str, sizes))],
        capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def _peak_rss_kib() -> int:
    """The process's resident high-water mark. VmHWM belongs to this process image;
    ru_maxrss would carry over the parent's peak across fork and exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> None:
    with contextlib.suppress(OSError):  # Linux 4.0+: "5" resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")


def _measure_memory(pipeline: str, path: str, sizes: list[int]) -> None:
    data = Path(path).read_bytes()
    func = FUNCS[pipeline]
    func(_tiny(data), sizes)  # imports and first-use allocations out of the measurement
    _reset_peak()
    before = _peak_rss_kib()
    func(data, sizes)
    after = _peak_rss_kib()
    print(f"{(after - before) / 1024:.1f}")


def _tiny(data: bytes) -> bytes:
    """A 64x48 image of the same format and mode, made without decoding `data`."""
    header = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    Image.new(header.mode, (64, 48)).save(buf, header.format or "PNG")
    return buf.getvalue()


def draft_psnr(data: bytes, box: int) -> float:
    """How far the draft() decode moves a thumbnail from one made from every pixel (dB;
    above about 45 the difference cannot be seen)."""
    def thumb(draft: bool) -> Image.Image:
        image = Image.open(io.BytesIO(data))
        if draft:
            image.draft(image.mode, (box, box))
        image.load()
        image.thumbnail((box, box), Image.Resampling.LANCZOS, reducing_gap=None)
        return image

    diff = ImageChops.difference(thumb(False), thumb(True))
    mse = statistics.mean(v * v for v in ImageStat.Stat(diff).rms)
    return 99.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def run(repeat: int, sizes: list[int]) -> dict[str, Any]:
    pipelines = [p for p in PIPELINES if p != "pyvips" or have_pyvips()]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="crossgrant-thumbs-") as tmp:
        files = corpus(Path(tmp))
        for kind, paths in files.items():
            row: dict[str, Any] = {"images": len(paths)}
            for pipeline in pipelines:
                times = [seconds(FUNCS[pipeline], p.read_bytes(), sizes, repeat)
                         for p in paths]
                peaks = [peak_mb(pipeline, p, sizes) for p in paths]
                row[pipeline] = {"ms_per_image": 1000 * statistics.mean(times),
                                 "images_per_s": 1 / statistics.mean(times),
                                 "peak_mb": max(peaks)}
            results[kind] = row
        results["draft_psnr_db"] = draft_psnr(files["jpeg_12mp"][0].read_bytes(), max(sizes))
    return results


def summary(results: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for kind, key in (("jpeg_12mp", "jpeg_12mp"), ("png", "png"), ("webp", "webp")):
        row = results[kind]
        out[f"speedup_{key}"] = round(row["naive"]["ms_per_image"] / row["ours"]["ms_per_image"],
                                      2)
    for kind in ("jpeg_12mp", "png", "webp"):
        row = results[kind]
        out[f"memory_ratio_{kind}"] = round(
            row["ours"]["peak_mb"] / max(row["naive"]["peak_mb"], 0.1), 3)
    out["draft_psnr_db"] = round(results["draft_psnr_db"], 1)
    if "pyvips" in results["jpeg_12mp"]:
        for kind in ("jpeg_12mp", "png", "webp"):
            row = results[kind]
            out[f"pyvips_vs_ours_{kind}"] = round(
                row["ours"]["ms_per_image"] / row["pyvips"]["ms_per_image"], 2)
    return out


def table(results: dict[str, Any]) -> str:
    lines = [f"{'corpus':<10} {'pipeline':<8} {'ms/image':>9} {'images/s':>9} {'peak MB':>8}"]
    for kind, row in results.items():
        if not isinstance(row, dict):
            continue
        for pipeline in PIPELINES:
            if pipeline in row:
                r = row[pipeline]
                lines.append(f"{kind:<10} {pipeline:<8} {r['ms_per_image']:>9.1f} "
                             f"{r['images_per_s']:>9.1f} {r['peak_mb']:>8.1f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sizes", default="256,128")
    ap.add_argument("--measure-memory", nargs=2, metavar=("PIPELINE", "FILE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.measure_memory:
        _measure_memory(args.measure_memory[0], args.measure_memory[1], sizes)
        return
    results = run(args.repeat, sizes)
    print(table(results))
    numbers = summary(results)
    for key, value in numbers.items():
        print(f"{key}: {value}")
    if args.json:
        print(json.dumps(numbers))


if __name__ == "__main__":
    main()
