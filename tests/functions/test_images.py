"""The Pillow pipeline on generated images: sizes, orientation, formats, colour, alpha,
metadata, and the guards that refuse what should not be decoded."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageStat

from crossgrant.functions import webp
from crossgrant.functions.images import (
    DEFAULT_MAX_PIXELS,
    ImageRejected,
    fitted,
    make_thumbnails,
    output_format,
)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel: Any, color: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, color, strict=False))


def assert_no_metadata(image: Image.Image) -> None:
    assert len(image.getexif()) == 0
    assert "exif" not in image.info
    assert "icc_profile" not in image.info
    assert "xmp" not in image.info and "XML:com.adobe.xmp" not in image.info


# Where the stored top-left (red) and bottom-right (blue) corners end up once the image is
# displayed upright, for every EXIF orientation: (red corner, blue corner) as
# (x fraction, y fraction) of the upright image.
UPRIGHT_CORNERS = {
    1: ((0, 0), (1, 1)), 2: ((1, 0), (0, 1)), 3: ((1, 1), (0, 0)), 4: ((0, 1), (1, 0)),
    5: ((0, 0), (1, 1)), 6: ((1, 0), (0, 1)), 7: ((1, 1), (0, 0)), 8: ((0, 1), (1, 0)),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(images: Any, orientation: int) -> None:
    data = images.jpeg_with_exif(1200, 800, orientation)
    source, thumbs = make_thumbnails(data, [256, 128])
    quarter = orientation >= 5
    assert (source.width, source.height) == ((800, 1200) if quarter else (1200, 800))
    assert [(t.size, t.width, t.height) for t in thumbs] == (
        [(256, 171, 256), (128, 85, 128)] if quarter else [(256, 256, 171), (128, 128, 85)])
    for thumb in thumbs:
        image = decode(thumb.data)
        assert (thumb.format, image.format, image.mode) == ("JPEG", "JPEG", "RGB")
        red, blue = UPRIGHT_CORNERS[orientation]
        w, h = image.width - 1, image.height - 1
        assert near(image.getpixel((red[0] * w, red[1] * h)), (230, 20, 20))
        assert near(image.getpixel((blue[0] * w, blue[1] * h)), (20, 20, 230))
        assert_no_metadata(image)


def test_png_with_alpha_stays_png_without_dark_fringes(images: Any) -> None:
    _, thumbs = make_thumbnails(images.png_with_alpha(1000, 500), [128])
    (thumb,) = thumbs
    image = decode(thumb.data)
    assert (thumb.format, thumb.content_type, image.mode) == ("PNG", "image/png", "RGBA")
    assert (image.width, image.height) == (128, 64)
    assert image.getpixel((0, 32))[3] == 0
    assert image.getpixel((127, 32)) == (20, 200, 20, 255)
    # The half-transparent edge keeps the green; an alpha-unaware resize darkens it.
    edge = [image.getpixel((x, 32)) for x in range(128)
            if 16 <= image.getpixel((x, 32))[3] < 255]
    assert edge and all(near(p[:3], (20, 200, 20), 10) for p in edge)
    assert_no_metadata(image)


def test_forced_jpeg_flattens_alpha_onto_white(images: Any) -> None:
    _, (thumb,) = make_thumbnails(images.png_with_alpha(1000, 500), [128], force_format="JPEG")
    image = decode(thumb.data)
    assert (thumb.format, image.mode) == ("JPEG", "RGB")
    assert near(image.getpixel((5, 32)), (255, 255, 255), 6)  # was transparent black
    assert near(image.getpixel((120, 32)), (20, 200, 20), 12)


def test_opaque_png_becomes_jpeg(images: Any) -> None:
    out = io.BytesIO()
    images.photo(600, 400).save(out, "PNG")
    _, (thumb,) = make_thumbnails(out.getvalue(), [100])
    assert (thumb.format, thumb.content_type, thumb.extension) == ("JPEG", "image/jpeg", "jpg")


@pytest.mark.parametrize("alpha", [False, True])
def test_webp_stays_webp(images: Any, alpha: bool) -> None:
    _, (thumb,) = make_thumbnails(images.webp(900, 600, alpha=alpha), [150])
    image = decode(thumb.data)
    assert (thumb.format, thumb.content_type, image.format) == ("WEBP", "image/webp", "WEBP")
    assert image.size == (150, 100)
    assert image.mode == ("RGBA" if alpha else "RGB")
    assert_no_metadata(image)


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (32768, 128), (65535, 255)])
def test_16_bit_greyscale_is_scaled_not_clipped(images: Any, value: int,
                                               expected: int) -> None:
    source, (thumb,) = make_thumbnails(images.png16(400, 300, value), [64])
    assert source.mode == "I;16"
    image = decode(thumb.data)
    assert (thumb.format, image.mode, image.size) == ("JPEG", "L", (64, 48))
    assert abs(image.getpixel((32, 24)) - expected) <= 2


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour(images: Any) -> None:
    source, (thumb,) = make_thumbnails(images.cmyk_jpeg(800, 600, (255, 0, 0, 0)), [64])
    assert source.mode == "CMYK"
    image = decode(thumb.data)
    assert (thumb.format, image.mode) == ("JPEG", "RGB")
    assert near(image.getpixel((32, 24)), (0, 255, 255), 12)  # pure cyan


def test_icc_profile_is_applied_then_dropped(images: Any) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = images.jpeg_with_exif(640, 480, 1, icc=srgb)
    source, thumbs = make_thumbnails(data, [128])
    assert source.had_icc_profile
    image = decode(thumbs[0].data)
    assert_no_metadata(image)
    assert near(image.getpixel((5, 5)), (230, 20, 20))


def test_a_broken_icc_profile_falls_back_to_the_pixels(images: Any) -> None:
    data = images.jpeg_with_exif(640, 480, 1, icc=b"not a profile" * 20)
    _, thumbs = make_thumbnails(data, [128])
    assert near(decode(thumbs[0].data).getpixel((5, 5)), (230, 20, 20))


def test_exif_and_camera_data_are_stripped(images: Any) -> None:
    data = images.jpeg_with_exif(640, 480, 6)
    assert b"crossgrant-test-camera" in data
    for thumb in make_thumbnails(data, [256, 128])[1]:
        assert b"crossgrant-test-camera" not in thumb.data
        assert b"secret-software" not in thumb.data
        assert b"Exif" not in thumb.data


def test_decompression_bomb_is_refused_from_the_header(images: Any) -> None:
    bomb = images.png_bomb()
    assert len(bomb) < 10_000
    with pytest.raises(ImageRejected, match="decompression bomb"):
        make_thumbnails(bomb, [128])


def test_pixel_limit_is_ours_to_set(images: Any) -> None:
    data = images.png16(2000, 1000, 1000)
    with pytest.raises(ImageRejected, match=r"2000x1000 is 2000000 pixels, over the limit "
                                            r"of 1000000 \(THUMB_MAX_PIXELS\)"):
        make_thumbnails(data, [128], max_pixels=1_000_000)
    bigger = images.png_bomb(10_000, 9_000)  # 90 MP: over the default, under Pillow's error
    assert DEFAULT_MAX_PIXELS < 10_000 * 9_000
    with pytest.raises(ImageRejected, match="over the limit of 89478485"):
        make_thumbnails(bigger, [128])


@pytest.mark.parametrize("data", [b"", b"hello world", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
                                  b"GIF89a" + b"\x00" * 10])
def test_what_is_not_an_image_is_rejected(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        make_thumbnails(data, [128])


def test_a_truncated_jpeg_is_rejected(images: Any) -> None:
    data = images.jpeg_with_exif(640, 480, 1)
    with pytest.raises(ImageRejected, match="cannot decode"):
        make_thumbnails(data[: len(data) // 3], [128])


def test_formats_we_do_not_open_are_rejected() -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, "BMP")
    with pytest.raises(ImageRejected, match="not a JPEG, PNG, WebP, GIF or TIFF image"):
        make_thumbnails(out.getvalue(), [32])


def test_gif_with_transparency_becomes_png() -> None:
    image = Image.new("P", (200, 100), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (100, 0, 200, 100))
    out = io.BytesIO()
    image.save(out, "GIF", transparency=0)
    _, (thumb,) = make_thumbnails(out.getvalue(), [50])
    decoded = decode(thumb.data)
    assert (thumb.format, decoded.mode) == ("PNG", "RGBA")
    assert decoded.getpixel((0, 10))[3] == 0
    assert decoded.getpixel((49, 10)) == (255, 0, 0, 255)


def test_small_images_are_not_enlarged(images: Any) -> None:
    _, thumbs = make_thumbnails(images.jpeg_with_exif(100, 60, 1), [256, 128])
    assert [(t.width, t.height) for t in thumbs] == [(100, 60), (100, 60)]


def test_output_format_rule() -> None:
    assert output_format("JPEG", False) == "JPEG"
    assert output_format("PNG", True) == "PNG"
    assert output_format("PNG", False) == "JPEG"
    assert output_format("WEBP", True) == "WEBP"
    assert output_format("GIF", True) == "PNG"
    assert output_format("PNG", True, "WEBP") == "WEBP"


def test_bad_sizes_are_an_error(images: Any) -> None:
    with pytest.raises(ValueError, match="positive"):
        make_thumbnails(images.png16(10, 10, 0), [0])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2500), st.integers(1, 2500), st.integers(1, 600))
def test_sizes_are_the_ones_thumbnail_gives(width: int, height: int, box: int) -> None:
    image = Image.new("L", (width, height))
    image.thumbnail((box, box))
    assert fitted(width, height, box) == image.size


# -- formats beyond the photo: alpha, ICC, TIFF, first frames, the libwebp path -------------

# sRGB's primaries adapted to D50, as an ICC profile states them; a profile that swaps red
# and blue makes a pixel stored as red display as blue, so only a real conversion passes.
SRGB_RED, SRGB_GREEN, SRGB_BLUE = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971),
                                   (0.1431, 0.0606, 0.7141))
LOSSLESS = {"JPEG": {"quality": 95}, "PNG": {}, "WEBP": {"lossless": True},
            "TIFF": {"compression": "tiff_deflate"}, "GIF": {}}


@pytest.mark.parametrize(("fmt", "params"), [
    ("PNG", {}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 90, "exact": True}),
    ("TIFF", {"compression": "tiff_deflate"})], ids=["png", "webp-lossless", "webp-lossy",
                                                     "tiff"])
def test_transparent_colour_does_not_bleed_into_the_edge(images: Any, fmt: str,
                                                         params: dict[str, Any]) -> None:
    data = images.encode(images.red_beside_blue(800, 400), fmt, **params)
    for thumb in make_thumbnails(data, [100, 50], force_format="PNG")[1]:
        image = decode(thumb.data)
        assert image.mode == "RGBA"
        row = [image.getpixel((x, image.height // 2)) for x in range(image.width)]
        assert [p for p in row if 16 <= p[3] < 240], "the shrink averaged across the edge"
        # Visible pixels are blue however transparent: the red that was under alpha 0
        # must not show. Averaging straight colour would give (127, 0, 127, 127).
        assert all(p[0] <= 8 and p[2] >= 200 for p in row if p[3] >= 16), row


def test_grey_with_alpha_does_not_bleed_either(images: Any) -> None:
    grey = Image.new("LA", (800, 400), (255, 0))  # transparent white...
    grey.paste((0, 255), (403, 0, 800, 400))  # ...beside opaque black
    _, (thumb,) = make_thumbnails(images.encode(grey, "PNG"), [100])
    image = decode(thumb.data).convert("LA")
    row = [image.getpixel((x, 25)) for x in range(image.width)]
    assert [p for p in row if 16 <= p[1] < 240]
    assert all(p[0] <= 8 for p in row if p[1] >= 16), row


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_an_icc_profile_is_converted_to_srgb(images: Any, fmt: str) -> None:
    swapped = images.rgb_icc_profile(SRGB_BLUE, SRGB_GREEN, SRGB_RED)
    stored = Image.new("RGB", (600, 400), (230, 20, 20))
    data = images.encode(stored, fmt, icc_profile=swapped, **LOSSLESS[fmt])
    source, (thumb,) = make_thumbnails(data, [128])
    assert source.had_icc_profile
    image = decode(thumb.data)
    assert near(image.getpixel((64, 40)), (12, 12, 231), 12)  # stored red, displayed blue
    assert_no_metadata(image)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_exif_orientation_in_every_format(images: Any, fmt: str) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = images.encode(images.photo(1200, 800), fmt, exif=exif.tobytes(), **LOSSLESS[fmt])
    source, thumbs = make_thumbnails(data, [256, 128], force_format="PNG")
    assert (source.width, source.height) == (800, 1200)
    for thumb in thumbs:
        image = decode(thumb.data)
        assert image.size == ((171, 256) if thumb.size == 256 else (85, 128))
        red, blue = UPRIGHT_CORNERS[6]
        w, h = image.width - 1, image.height - 1
        assert near(image.getpixel((red[0] * w, red[1] * h)), (230, 20, 20))
        assert near(image.getpixel((blue[0] * w, blue[1] * h)), (20, 20, 230))


def test_tiff_rgb_becomes_jpeg_with_its_colours(images: Any) -> None:
    data = images.encode(images.photo(900, 600), "TIFF", compression="tiff_lzw")
    source, (thumb,) = make_thumbnails(data, [150])
    assert (source.format, source.mode, thumb.format, thumb.width, thumb.height) == (
        "TIFF", "RGB", "JPEG", 150, 100)
    image = decode(thumb.data)
    assert near(image.getpixel((3, 3)), (230, 20, 20))
    assert near(image.getpixel((146, 96)), (20, 20, 230))


def test_cmyk_tiff_becomes_rgb_with_the_right_colour(images: Any) -> None:
    data = images.encode(Image.new("CMYK", (800, 600), (0, 255, 255, 0)), "TIFF")
    source, (thumb,) = make_thumbnails(data, [64])
    assert (source.mode, thumb.format) == ("CMYK", "JPEG")
    assert near(decode(thumb.data).getpixel((32, 24)), (255, 0, 0), 12)  # pure red


def test_16_bit_tiff_is_scaled_not_clipped(images: Any) -> None:
    data = images.encode(Image.new("I;16", (400, 300), 32768), "TIFF")
    source, (thumb,) = make_thumbnails(data, [64])
    image = decode(thumb.data)
    assert (source.mode, image.mode, image.size) == ("I;16", "L", (64, 48))
    assert abs(image.getpixel((32, 24)) - 128) <= 2


def test_16_bit_gradient_keeps_its_tones(images: Any) -> None:
    """Shrunk in 32 bits, scaled to 8 on the thumbnail: a ramp stays a ramp."""
    ramp = Image.linear_gradient("L").resize((512, 256)).rotate(90, expand=True)
    sixteen = ramp.convert("I").point(lambda v: v * 257).convert("I;16")
    _, (thumb,) = make_thumbnails(images.encode(sixteen, "PNG"), [64])
    image = decode(thumb.data)
    values = [image.getpixel((x, 16)) for x in range(image.width)]
    expected = [ramp.resize(image.size, Image.Resampling.LANCZOS).getpixel((x, 16))
                for x in range(image.width)]
    assert all(abs(a - b) <= 3 for a, b in zip(values, expected, strict=True))


def test_multipage_tiff_gives_its_first_page(images: Any) -> None:
    pages = [Image.new("RGB", (300, 200), color) for color in ((230, 20, 20), (20, 200, 20))]
    data = images.encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    _, (thumb,) = make_thumbnails(data, [60])
    assert near(decode(thumb.data).getpixel((30, 20)), (230, 20, 20), 12)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_gives_its_first_frame(images: Any, fmt: str) -> None:
    frames = [Image.new("RGB", (300, 200), color) for color in ((230, 20, 20), (20, 200, 20))]
    data = images.encode(frames[0], fmt, save_all=True, append_images=frames[1:],
                         duration=100, **LOSSLESS[fmt])
    source, (thumb,) = make_thumbnails(data, [60])
    assert source.format == fmt
    assert thumb.format == ("WEBP" if fmt == "WEBP" else "JPEG")
    assert near(decode(thumb.data).getpixel((30, 20)), (230, 20, 20), 16)


def test_a_truncated_webp_is_rejected(images: Any) -> None:
    data = images.webp(640, 480)
    with pytest.raises(ImageRejected, match="cannot decode"):
        make_thumbnails(data[: len(data) // 2], [128])


def _psnr(a: Image.Image, b: Image.Image) -> float:
    diff = ImageStat.Stat(ImageChops.difference(a, b))
    mse = sum(v * v for v in diff.rms) / len(diff.rms)
    return 99.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse)


@pytest.mark.parametrize("alpha", [False, True], ids=["opaque", "alpha"])
@pytest.mark.parametrize("params", [{"quality": 85}, {"lossless": True}],
                         ids=["lossy", "lossless"])
def test_webp_through_libwebp_matches_pillow(images: Any, monkeypatch: pytest.MonkeyPatch,
                                             alpha: bool, params: dict[str, Any]) -> None:
    """libwebp's scaled decode gives the thumbnails Pillow's full decode gives, within what
    the eye cannot see, and the fallback to Pillow works."""
    assert webp.available()
    photo = images.photo(1600, 1200).convert("RGBA")
    if alpha:
        photo.putalpha(Image.radial_gradient("L").resize(photo.size))
    data = images.encode(photo if alpha else photo.convert("RGB"), "WEBP", **params)
    calls: list[tuple[int, int]] = []
    real = webp.decode

    def spy(blob: bytes, size: tuple[int, int],
            scaled: tuple[int, int]) -> Image.Image | None:
        calls.append(scaled)
        decoded = real(blob, size, scaled)
        assert decoded is not None
        return decoded

    monkeypatch.setattr(webp, "decode", spy)
    _, fast = make_thumbnails(data, [200, 100], force_format="PNG")
    assert calls == [(400, 300)]  # twice the largest thumbnail
    monkeypatch.setattr(webp, "decode", lambda blob, size, scaled: None)
    _, slow = make_thumbnails(data, [200, 100], force_format="PNG")
    for a, b in zip(fast, slow, strict=True):
        assert (a.width, a.height) == (b.width, b.height)
        mode = "RGBa" if alpha else "RGB"
        assert _psnr(decode(a.data).convert(mode), decode(b.data).convert(mode)) > 40


def test_libwebp_scales_unless_alpha_would_bleed(images: Any) -> None:
    opaque = webp.decode(images.webp(1600, 1200), (1600, 1200), (400, 300))
    assert opaque is not None and (opaque.mode, opaque.size) == ("RGB", (400, 300))
    lossless = webp.decode(images.encode(images.red_beside_blue(800, 400), "WEBP",
                                         lossless=True), (800, 400), (200, 100))
    assert lossless is not None and (lossless.mode, lossless.size) == ("RGBa", (200, 100))
    lossy = webp.decode(images.webp(800, 600, alpha=True), (800, 600), (200, 150))
    assert lossy is not None and (lossy.mode, lossy.size) == ("RGBa", (800, 600))


def test_libwebp_declines_what_pillow_should_handle(images: Any) -> None:
    data = images.webp(800, 600)
    assert webp.decode(data, (800, 600), (200, 150)) is not None
    assert webp.decode(data, (801, 600), (200, 150)) is None  # not what the header said
    assert webp.decode(data[: len(data) // 2], (800, 600), (200, 150)) is None
    assert webp.decode(b"RIFF\x00\x00\x00\x00WEBPVP8 ", (10, 10), (10, 10)) is None
