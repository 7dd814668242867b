"""Thumbnails: naive Pillow, crossgrant's pipeline and pyvips, in the same run, on a generated
corpus, for the sizes a thumbnailer makes (256 and 128 px boxes by default).

naive   the order most code uses: open, ImageOps.exif_transpose (which decodes and rotates
        every pixel), then thumbnail() each size from the full image.
ours    crossgrant.functions.images.make_thumbnails: JPEG decoded at 1/2..1/8 scale
        (draft), WebP scaled by libwebp while it decodes, PNG box-reduced before LANCZOS,
        shrunk before exif_transpose, smaller sizes cut from the largest, ICC to sRGB,
        metadata stripped.
pyvips  Image.thumbnail_buffer (shrink-on-load, auto-rotation, premultiplied alpha) for the
        largest box, thumbnail_image from it for the smaller ones, on one thread
        (VIPS_CONCURRENCY=1, set before pyvips is imported) and with libvips's operation
        cache off, so that no run reuses another's work. pyvips comes with crossgrant's
        test extras; without it the pyvips columns are left out.

All three write the same formats (JPEG for photos, PNG for alpha, WebP for WebP) at the same
quality (JPEG 82, WebP 80 at effort 4, PNG compression 6 with a row filter chosen per row),
without metadata. libvips writes PNG rows unfiltered unless asked: half the encoding time,
but half as large again, so pyvips is asked for Pillow's adaptive filtering. Every timed run
starts from the source bytes. The pipelines take turns on each image, run after run, so
that a busy moment on a shared machine falls on all of them; each figure is the median of
--repeat runs per image, averaged over the images of a corpus. Time is CPU time of the
whole process (every thread, user and system): what one vCPU pays, and much steadier than
wall-clock time on a shared machine, where a process with two threads also gets more than
its share of a contended CPU. Wall-clock time is reported beside it.

Quality: PSNR of each pipeline's decoded thumbnails against LANCZOS thumbnails made from
every pixel of the upright image (RGBA compared premultiplied, so the colour of invisible
pixels does not count), over all images and sizes of a corpus. For `psnr_<f>` each
pipeline writes lossless PNG, so the figure measures decoding and resampling; after JPEG
or WebP encoding (`psnr_encoded_<f>`) the encoder's loss hides those differences.

Peak memory is the growth of the resident high-water mark while one image is processed
(its source bytes already in memory), measured in a fresh subprocess per (pipeline, image)
so that one result cannot hide another. On the JPEG draft path the budget is twice the
decoded draft-sized buffer (`memory_budget_jpeg_mb`).

Run: `python benchmarks/thumbnails.py [--json] [--repeat N] [--sizes 256,128]`. The last line
of --json output holds, per format (jpeg, png, webp): `ms_<f>`, `ms_pyvips_<f>`,
`ms_naive_<f>` (CPU), `vs_pyvips_<f>` (pyvips time / ours, CPU; `_wall` for wall-clock),
`psnr_<f>`, `psnr_pyvips_<f>`, `psnr_naive_<f>`, `psnr_encoded_<f>`,
`psnr_encoded_pyvips_<f>`, `peak_mb_<f>`, `peak_mb_pyvips_<f>`, `peak_mb_naive_<f>`; per
corpus (jpeg_12mp, png, webp) `speedup_<c>` (naive / ours) and `memory_ratio_<c>` (ours /
naive peak); and `draft_psnr_db`, `memory_budget_jpeg_mb`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
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
# corpus -> the format name used in the summary's keys
FORMATS = {"jpeg_12mp": "jpeg", "png": "png", "webp": "webp"}
JPEG_QUALITY, WEBP_QUALITY, PNG_COMPRESSION = 82, 80, 6


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
    """12-megapixel JPEGs at quality 90 (about 3 MB, like a phone photo) with EXIF
    orientations 1, 6 and 8; 4000 x 3000 PNGs with a soft alpha mask; 4000 x 3000 WebPs."""
    files: dict[str, list[Path]] = {"jpeg_12mp": [], "png": [], "webp": []}
    for i, orientation in enumerate((1, 6, 8)):
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        path = directory / f"photo-{i}.jpg"
        photo(4000, 3000, i).save(path, "JPEG", quality=90, exif=exif.tobytes())
        files["jpeg_12mp"].append(path)
    for i in range(2):
        rgba = photo(4000, 3000, i).convert("RGBA")
        mask = Image.radial_gradient("L").resize(rgba.size)
        rgba.putalpha(ImageOps.invert(mask))
        path = directory / f"alpha-{i}.png"
        rgba.save(path, "PNG", compress_level=6)
        files["png"].append(path)
    for i in range(2):
        path = directory / f"photo-{i}.webp"
        photo(4000, 3000, i + 1).save(path, "WEBP", quality=85)
        files["webp"].append(path)
    return files


# -- the pipelines ----------------------------------------------------------------------------

def naive(data: bytes, sizes: list[int], lossless: bool = False) -> list[bytes]:
    image = Image.open(io.BytesIO(data))
    source_format = image.format or "JPEG"
    image = ImageOps.exif_transpose(image)  # decodes everything, rotates everything
    out = []
    for size in sizes:
        thumb = image.copy()
        thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
        fmt = "PNG" if lossless else output_format(source_format, thumb.mode == "RGBA")
        buf = io.BytesIO()
        if fmt == "JPEG":
            thumb.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
        elif fmt == "PNG":
            thumb.save(buf, "PNG", compress_level=PNG_COMPRESSION)
        else:
            thumb.save(buf, "WEBP", quality=WEBP_QUALITY, method=4)
        out.append(buf.getvalue())
    return out


def ours(data: bytes, sizes: list[int], lossless: bool = False) -> list[bytes]:
    return [t.data for t in make_thumbnails(data, sizes,
                                            force_format="PNG" if lossless else None)[1]]


@functools.cache
def _pyvips() -> Any:
    if "pyvips" in sys.modules and os.environ.get("VIPS_CONCURRENCY") != "1":
        raise RuntimeError("pyvips was imported before VIPS_CONCURRENCY=1 was set")
    os.environ["VIPS_CONCURRENCY"] = "1"  # read when libvips starts: one core, as a Lambda
    import pyvips  # noqa: PLC0415 - optional: a test extra

    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)  # a cached operation would skip the work being measured
    return pyvips


def vips(data: bytes, sizes: list[int], lossless: bool = False) -> list[bytes]:
    pyvips = _pyvips()
    webp = data[8:12] == b"WEBP"
    out = []
    boxes = sorted(sizes, reverse=True)
    # Shrink-on-load for the largest box, then each smaller one from it, as ours does.
    largest = pyvips.Image.thumbnail_buffer(data, boxes[0], height=boxes[0], size="down")
    if len(boxes) > 1:
        largest = largest.copy_memory()  # the pipeline is sequential: render it once
    for size in boxes:
        thumb = largest if size == boxes[0] else largest.thumbnail_image(size, height=size)
        if webp and not lossless:
            out.append(thumb.write_to_buffer(".webp", Q=WEBP_QUALITY, effort=4, keep="none"))
        elif thumb.hasalpha() or lossless:
            # filter="all": each row's filter chosen by the sum of its residuals, as Pillow's
            # encoder does; libvips's default writes every row unfiltered.
            out.append(thumb.write_to_buffer(".png", compression=PNG_COMPRESSION,
                                             filter="all", keep="none"))
        else:
            out.append(thumb.write_to_buffer(".jpg", Q=JPEG_QUALITY, keep="none"))
    return out


FUNCS: dict[str, Callable[[bytes, list[int], bool], list[bytes]]] = {
    "naive": naive, "ours": ours, "pyvips": vips}


def have_pyvips() -> bool:
    try:
        _pyvips()
    except (ImportError, OSError):
        return False
    return True


# -- measuring ------------------------------------------------------------------------------

def timings(pipelines: list[str], data: bytes, sizes: list[int],
            repeat: int) -> dict[str, tuple[float, float]]:
    """(CPU seconds, wall seconds), each the median of `repeat` runs, per pipeline; the
    pipelines take turns, so that the machine's load falls on all of them alike."""
    for pipeline in pipelines:
        FUNCS[pipeline](data, sizes, False)  # warm: plugins imported, code paths hot
    cpu: dict[str, list[float]] = {p: [] for p in pipelines}
    wall: dict[str, list[float]] = {p: [] for p in pipelines}
    for _ in range(repeat):
        for pipeline in pipelines:
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            FUNCS[pipeline](data, sizes, False)
            cpu[pipeline].append(time.process_time() - start_cpu)
            wall[pipeline].append(time.perf_counter() - start_wall)
    return {p: (statistics.median(cpu[p]), statistics.median(wall[p])) for p in pipelines}


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
    func(_tiny(data), sizes, False)  # imports and first allocations out of the measurement
    _reset_peak()
    before = _peak_rss_kib()
    func(data, sizes, False)
    after = _peak_rss_kib()
    print(f"{(after - before) / 1024:.1f}")


def _tiny(data: bytes) -> bytes:
    """A 64x48 image of the same format and mode, made without decoding `data`."""
    header = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    Image.new(header.mode, (64, 48)).save(buf, header.format or "PNG")
    return buf.getvalue()


def _mse(a: Image.Image, b: Image.Image) -> float:
    diff = ImageStat.Stat(ImageChops.difference(a, b))
    return statistics.mean(v * v for v in diff.rms)


def _db(mse: float) -> float:
    return 99.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def quality_mse(data: bytes, thumbs: list[bytes]) -> list[float]:
    """Squared error of each thumbnail against LANCZOS from every pixel of the upright
    image, at the thumbnail's size; with alpha, compared premultiplied."""
    full = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    mode = "RGBA" if full.mode in ("RGBA", "LA", "PA") else "RGB"
    full = full.convert(mode)
    errors = []
    for blob in thumbs:
        thumb = Image.open(io.BytesIO(blob))
        thumb = thumb.convert(mode)
        ref = full.resize(thumb.size, Image.Resampling.LANCZOS)
        if mode == "RGBA":
            ref, thumb = ref.convert("RGBa"), thumb.convert("RGBa")
        errors.append(_mse(ref, thumb))
    return errors


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

    return _db(_mse(thumb(False), thumb(True)))


def draft_buffer_mb(data: bytes, box: int) -> float:
    """The size of the buffer draft() decodes into, as Pillow holds it (4 bytes a pixel)."""
    image = Image.open(io.BytesIO(data))
    image.draft(image.mode, (box, box))
    return image.width * image.height * 4 / 2 ** 20


def run(repeat: int, sizes: list[int]) -> dict[str, Any]:
    pipelines = [p for p in PIPELINES if p != "pyvips" or have_pyvips()]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="crossgrant-thumbs-") as tmp:
        files = corpus(Path(tmp))
        for kind, paths in files.items():
            row: dict[str, Any] = {"images": len(paths)}
            per_image = [timings(pipelines, p.read_bytes(), sizes, repeat) for p in paths]
            for pipeline in pipelines:
                data = [p.read_bytes() for p in paths]
                pixels = [e for d in data for e in quality_mse(d, FUNCS[pipeline](d, sizes, True))]
                encoded = [e for d in data
                           for e in quality_mse(d, FUNCS[pipeline](d, sizes, False))]
                cpu = statistics.mean(t[pipeline][0] for t in per_image)
                wall = statistics.mean(t[pipeline][1] for t in per_image)
                row[pipeline] = {"ms_per_image": 1000 * cpu, "wall_ms_per_image": 1000 * wall,
                                 "psnr_db": _db(statistics.mean(pixels)),
                                 "psnr_encoded_db": _db(statistics.mean(encoded)),
                                 "peak_mb": max(peak_mb(pipeline, p, sizes) for p in paths)}
            results[kind] = row
        first_jpeg = files["jpeg_12mp"][0].read_bytes()
        results["draft_psnr_db"] = draft_psnr(first_jpeg, max(sizes))
        results["draft_buffer_mb"] = draft_buffer_mb(first_jpeg, max(sizes))
    return results


def summary(results: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for kind, fmt in FORMATS.items():
        row = results[kind]
        ours_ms = row["ours"]["ms_per_image"]
        out[f"ms_{fmt}"] = round(ours_ms, 1)
        out[f"ms_naive_{fmt}"] = round(row["naive"]["ms_per_image"], 1)
        out[f"speedup_{kind}"] = round(row["naive"]["ms_per_image"] / ours_ms, 2)
        out[f"psnr_{fmt}"] = round(row["ours"]["psnr_db"], 2)
        out[f"psnr_encoded_{fmt}"] = round(row["ours"]["psnr_encoded_db"], 2)
        out[f"psnr_naive_{fmt}"] = round(row["naive"]["psnr_db"], 2)
        if "pyvips" in row:
            vips_row = row["pyvips"]
            out[f"ms_pyvips_{fmt}"] = round(vips_row["ms_per_image"], 1)
            out[f"vs_pyvips_{fmt}"] = round(vips_row["ms_per_image"] / ours_ms, 2)
            out[f"vs_pyvips_{fmt}_wall"] = round(
                vips_row["wall_ms_per_image"] / row["ours"]["wall_ms_per_image"], 2)
            out[f"psnr_pyvips_{fmt}"] = round(vips_row["psnr_db"], 2)
            out[f"psnr_encoded_pyvips_{fmt}"] = round(vips_row["psnr_encoded_db"], 2)
        out[f"peak_mb_{fmt}"] = row["ours"]["peak_mb"]
        out[f"peak_mb_naive_{fmt}"] = row["naive"]["peak_mb"]
        if "pyvips" in row:
            out[f"peak_mb_pyvips_{fmt}"] = row["pyvips"]["peak_mb"]
        out[f"memory_ratio_{kind}"] = round(
            row["ours"]["peak_mb"] / max(row["naive"]["peak_mb"], 0.1), 3)
    out["draft_psnr_db"] = round(results["draft_psnr_db"], 1)
    out["memory_budget_jpeg_mb"] = round(2 * results["draft_buffer_mb"], 2)
    return out


def table(results: dict[str, Any]) -> str:
    lines = [f"{'corpus':<10} {'pipeline':<8} {'cpu ms':>8} {'wall ms':>8} {'PSNR dB':>8} "
             f"{'peak MB':>8}"]
    for kind, row in results.items():
        if not isinstance(row, dict):
            continue
        for pipeline in PIPELINES:
            if pipeline in row:
                r = row[pipeline]
                lines.append(f"{kind:<10} {pipeline:<8} {r['ms_per_image']:>8.1f} "
                             f"{r['wall_ms_per_image']:>8.1f} {r['psnr_db']:>8.2f} "
                             f"{r['peak_mb']:>8.1f}")
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
    if not have_pyvips():
        print("pyvips is not importable: install crossgrant's test extras to compare",
              file=sys.stderr)
    results = run(args.repeat, sizes)
    print(table(results))
    numbers = summary(results)
    for key, value in numbers.items():
        print(f"{key}: {value}")
    if args.json:
        print(json.dumps(numbers))


if __name__ == "__main__":
    main()
