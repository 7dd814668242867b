"""Thumbnails with Pillow, fast and correct.

Fast: every decoder is asked for as few pixels as the largest thumbnail needs. A JPEG is
decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still covers it (`draft`), a WebP
is scaled by libwebp while it decodes (crossgrant.functions.webp); other formats are
decoded whole, then box-reduced by an integer factor before the final LANCZOS filter
(`reducing_gap`). Everything else (turning the image upright, 16-bit to 8-bit, ICC to
sRGB, palette to RGB where it can wait) happens on the thumbnail, not on the full image.
Smaller sizes are cut from the largest thumbnail. Each size is the one Image.thumbnail()
would give the full image, so it depends on nothing else.

Correct: EXIF orientation applied; 16-bit images scaled to 8 bits rather than clipped;
CMYK and colour-managed images converted to sRGB through their ICC profile; alpha
premultiplied while resampling (no colour bleeds from transparent pixels), kept where the
output format has it and flattened onto white where it does not; no metadata (EXIF, ICC,
XMP, text chunks) in any output; and a pixel-count guard that refuses decompression bombs
after reading the header, before a single pixel is decoded.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PIL import (
    GifImagePlugin,  # noqa: F401 - registers the decoder before open, so no full init()
    Image,
    JpegImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    TiffImagePlugin,  # noqa: F401
    UnidentifiedImageError,
    WebPImagePlugin,  # noqa: F401
)

from crossgrant.functions import webp

# Pillow's own warning threshold (about 256 MB as 24-bit RGB): a 12-megapixel photo is far
# below, a 100-megapixel phone photo is over and can be let through with THUMB_MAX_PIXELS.
DEFAULT_MAX_PIXELS = 89_478_485
# What we open. Fewer decoders is less attack surface for untrusted uploads, and naming
# them keeps Pillow from importing its ~40 other plugins on a cold start. TIFF is there for
# scans and print files (often CMYK with a profile); Pillow links libtiff in any case.
INPUT_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF")
OUTPUT_FORMATS = ("JPEG", "PNG", "WEBP")

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
JPEG_QUALITY = 82
WEBP_QUALITY = 80
WHITE = (255, 255, 255)
# Reduce by an integer factor (a box filter, cheap) down to at least twice the size, then
# LANCZOS the rest: against LANCZOS from every pixel that measures 54 dB PSNR.
REDUCING_GAP = 2.0
_ALPHA_MODES = ("RGBA", "LA")
_PREMULTIPLIED = {"RGBa": "RGBA", "La": "LA"}
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_ORIENTATION = 0x0112  # the EXIF tag
# How each EXIF orientation is turned upright, as ImageOps.exif_transpose() does it.
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}
_QUARTER_TURNS = (5, 6, 7, 8)  # orientations that swap width and height


class ImageRejected(ValueError):
    """An object we will not thumbnail: not an image we open, unreadable, or too many
    pixels. Retrying cannot help, so the caller skips the object."""


@dataclass(frozen=True, slots=True)
class Source:
    format: str
    mode: str
    width: int  # upright, after EXIF orientation
    height: int
    had_icc_profile: bool


@dataclass(frozen=True, slots=True)
class Thumbnail:
    size: int  # the bounding box asked for
    width: int
    height: int
    format: str
    data: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def output_format(source_format: str, has_alpha: bool, forced: str | None = None) -> str:
    """WebP stays WebP (it has alpha and lossy compression both); transparency needs PNG;
    everything else is JPEG, the smallest for opaque content and readable everywhere."""
    if forced is not None:
        return forced
    if source_format == "WEBP":
        return "WEBP"
    return "PNG" if has_alpha else "JPEG"


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Reads the header only and enforces the pixel limit before anything is decoded."""
    with warnings.catch_warnings():
        # Our limit decides; Pillow's warning would only repeat it. Pillow's hard error
        # (at twice its threshold) still stops absurd sizes whatever the setting.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=INPUT_FORMATS)
        except Image.DecompressionBombError as exc:
            raise ImageRejected(f"decompression bomb refused: {exc}") from None
        except UnidentifiedImageError:
            raise ImageRejected("not a JPEG, PNG, WebP, GIF or TIFF image") from None
        except (OSError, SyntaxError, ValueError) as exc:  # a plugin choked on the header
            raise ImageRejected(f"cannot decode the image: {exc}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            f"decompression bomb refused: {width}x{height} is {width * height} pixels, "
            f"over the limit of {max_pixels} (THUMB_MAX_PIXELS)")
    return image


def _resamplable(image: Image.Image) -> Image.Image:
    """A mode LANCZOS resamples as it should, converting only what cannot wait for the
    thumbnail: palette and colour-key transparency become real alpha (a palette cannot be
    averaged), 16-bit greyscale becomes 32-bit so no tone is lost before the shrink."""
    mode = image.mode
    if "transparency" in image.info and mode in ("1", "L", "P", "RGB"):
        return image.convert("RGBA")
    if mode in ("L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "I", "F"):
        return image
    if mode in _SIXTEEN_BIT:
        return image.convert("I")
    if mode == "1":
        return image.convert("L")
    if mode == "P":
        return image.convert("RGB")
    return image.convert("RGBA" if "A" in mode or "a" in mode else "RGB")


def _eight_bit(image: Image.Image) -> Image.Image:
    """One of L, LA, RGB, RGBA or CMYK, without losing tones or transparency: convert()
    would clip 16-bit values at 255 (a white image) where dividing by 257 keeps them."""
    mode = image.mode
    if mode in _PREMULTIPLIED:
        return image.convert(_PREMULTIPLIED[mode])
    if mode == "I":
        return image.point(lambda v: v * (1 / 257) + 0.5).convert("L")
    if mode == "F":
        low, high = _band_extrema(image)
        scale = 255 / (high - low) if high > low else 0.0
        return image.point(lambda v: (v - low) * scale).convert("L")
    return image


def _band_extrema(band: Image.Image) -> tuple[float, float]:
    low, high = band.getextrema()  # a pair of numbers for a one-band image
    assert isinstance(low, int | float) and isinstance(high, int | float)
    return float(low), float(high)


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """sRGB pixels: through the embedded ICC profile when there is one (CMYK, Display P3,
    Adobe RGB), so colours survive the profile being dropped from the output."""
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        from PIL import ImageCms  # noqa: PLC0415 - littlecms only for tagged images

        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(
                image, src, ImageCms.createProfile("sRGB"), outputMode=out_mode,
                renderingIntent=ImageCms.Intent.PERCEPTUAL)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a broken profile: fall back to the untagged conversion
        if converted is not None:
            return converted
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _has_alpha(image: Image.Image) -> bool:
    if image.mode not in _ALPHA_MODES:
        return False
    low, _high = _band_extrema(image.getchannel("A"))
    return low < 255


def _flatten(image: Image.Image) -> Image.Image:
    """Alpha composited onto white: a JPEG has no alpha, and dropping the channel would
    show whatever colour the transparent pixels happened to hold (often black)."""
    if image.mode == "LA":
        flat = Image.new("L", image.size, 255)
        flat.paste(image.getchannel("L"), mask=image.getchannel("A"))
        return flat
    flat = Image.new("RGB", image.size, WHITE)
    flat.paste(image.convert("RGB"), mask=image.getchannel("A"))
    return flat


def _encode(image: Image.Image, fmt: str, has_alpha: bool) -> bytes:
    image.info = {}  # PNG and WebP would otherwise carry over an ICC profile or EXIF
    if image.mode in _ALPHA_MODES and not has_alpha:
        image = image.convert("L" if image.mode == "LA" else "RGB")  # an opaque alpha
    elif image.mode in _ALPHA_MODES and fmt == "JPEG":
        image = _flatten(image)
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    elif fmt == "PNG":
        image.save(out, "PNG", compress_level=6)
    else:
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()


def fitted(width: int, height: int, box: int) -> tuple[int, int]:
    """The size Image.thumbnail() gives a width x height image in a box x box square,
    computed from the stored size: a thumbnail's size then depends on the source and the
    box only, not on the DCT scale of the decode or on which other sizes were asked for."""
    if width <= box and height <= box:
        return width, height
    aspect = width / height
    if aspect <= 1:
        return _round_aspect(box * aspect, lambda n: abs(aspect - n / box)), box
    return box, _round_aspect(box / aspect, lambda n: 0 if n == 0 else abs(aspect - box / n))


def _round_aspect(number: float, key: Callable[[int], float]) -> int:
    return max(min(math.floor(number), math.ceil(number), key=key), 1)


def _covering(width: int, height: int, target: tuple[int, int],
              gap: float) -> tuple[int, int]:
    """The size, `gap` times the target where the source allows it, that a decoder able to
    scale should deliver: the final LANCZOS then has `gap` times the pixels to work with."""
    scale = min(width / (target[0] * gap), height / (target[1] * gap))
    if scale <= 1:
        return width, height
    return max(round(width / scale), target[0]), max(round(height / scale), target[1])


def _decode(image: Image.Image, data: bytes, target: tuple[int, int]) -> Image.Image:
    """The pixels, at the smallest scale the format can decode that still covers `target`
    (the largest thumbnail, in the stored orientation)."""
    if image.format == "JPEG":
        # The smallest DCT scale that still covers the thumbnail. Pillow's own thumbnail()
        # keeps twice the box: measured against a full decode, that buys 55 dB PSNR
        # instead of 52 (both invisible) for 15% more time.
        image.draft(image.mode, target)
    elif image.format == "WEBP" and not getattr(image, "is_animated", False):
        scaled = webp.decode(data, image.size,
                             _covering(*image.size, target, REDUCING_GAP))
        if scaled is not None:
            return scaled
    image.load()
    return image


def _shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Box-reduce by an integer factor, then LANCZOS; Pillow premultiplies RGBA and LA for
    both steps (RGBa and La already are), so transparent pixels add no colour."""
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)


def make_thumbnails(data: bytes, sizes: Iterable[int], *,
                    max_pixels: int = DEFAULT_MAX_PIXELS,
                    force_format: str | None = None) -> tuple[Source, list[Thumbnail]]:
    """Every thumbnail of `data` (largest first), each fitting a `size` x `size` box.

    All are made in memory before the caller writes any, so a failure leaves nothing
    half-written. Raises ImageRejected for what should be skipped rather than retried.
    """
    boxes = sorted({int(s) for s in sizes}, reverse=True)
    if not boxes or boxes[-1] < 1:
        raise ValueError("thumbnail sizes must be positive integers")
    image = open_image(data, max_pixels)
    source_format = str(image.format)
    source_mode = image.mode
    stored_size = width, height = image.size  # before draft() shrinks the decode
    icc = image.info.get("icc_profile")
    opened = image
    try:
        image = _resamplable(_decode(opened, data, fitted(*stored_size, boxes[0])))
        # Read after decoding: Pillow turns a TIFF upright as it loads it (and reports its
        # size upright from the start), then drops the tag; a PNG's eXIf may follow IDAT.
        orientation = opened.getexif().get(_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"cannot decode the {source_format} image: {exc}") from None
    if orientation in _QUARTER_TURNS:
        width, height = height, width

    thumbs: list[Thumbnail] = []
    for box in boxes:
        # Shrink first, then turn upright: the rotation then touches box x box pixels.
        # The box is square, so the orientation does not change which size fits. Smaller
        # sizes are cut from the largest thumbnail, which is already in memory.
        image = _shrink(image, fitted(*stored_size, box))
        upright = _eight_bit(image)
        if orientation in _UPRIGHT:
            upright = upright.transpose(_UPRIGHT[orientation])
        upright = _to_srgb(upright, icc)
        alpha = _has_alpha(upright)
        fmt = output_format(source_format, alpha, force_format)
        thumbs.append(Thumbnail(box, upright.width, upright.height, fmt,
                                _encode(upright, fmt, alpha)))
    return Source(source_format, source_mode, width, height, icc is not None), thumbs
