"""WebP decoded straight to thumbnail scale by libwebp, through the copy Pillow already loads.

Pillow decodes every WebP through libwebp's animation decoder: the full canvas as RGBA,
copied twice (92 MB for a 12-megapixel photo), with no way to ask for less. libwebp itself
can scale while it decodes (`WebPDecoderOptions.use_scaling`): the frame is still entropy-
decoded at full size, but rows are area-averaged as they come out, so neither the
colour conversion nor a full-size buffer is ever paid for. pyvips's `shrink` on load is the
same feature. We call it with ctypes on the libwebp that Pillow's `_webp` module links
(dlsym searches a library's dependencies), so no decoder is added to the function and the
WebP code that runs is the one Pillow would have run.

Where libwebp's scaler would be wrong, we decode at full size instead: its lossy path
averages colour without weighting by alpha, so a transparent red pixel bleeds into an
opaque blue neighbour. Lossy WebP with alpha is therefore decoded at full size into
premultiplied RGBA (still one buffer, no copies) and shrunk by Pillow. Anything else that
does not go to plan (no libwebp symbols, an animation, a truncated file) returns None and
the caller falls back to Pillow's decoder, whose errors are the ones reported.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

from PIL import Image

# decode.h: the major byte must match the library's (WEBP_ABI_IS_INCOMPATIBLE compares
# `version >> 8`); every libwebp since 0.5 has decoder ABI 0x02xx with these layouts.
_DECODER_ABI = 0x0209
_MODE_RGB, _MODE_PREMULTIPLIED_RGBA = 0, 7  # WEBP_CSP_MODE: MODE_RGB, MODE_rgbA
_FORMAT_LOSSY = 1  # WebPBitstreamFeatures.format: 0 mixed, 1 lossy, 2 lossless
_OK = 0  # VP8_STATUS_OK


class _Features(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int),
                ("has_alpha", ctypes.c_int), ("has_animation", ctypes.c_int),
                ("format", ctypes.c_int), ("pad", ctypes.c_uint32 * 5)]


class _RGBABuffer(ctypes.Structure):
    _fields_ = [("rgba", ctypes.c_void_p), ("stride", ctypes.c_int),
                ("size", ctypes.c_size_t)]


class _YUVABuffer(ctypes.Structure):
    _fields_ = [("y", ctypes.c_void_p), ("u", ctypes.c_void_p), ("v", ctypes.c_void_p),
                ("a", ctypes.c_void_p), ("y_stride", ctypes.c_int),
                ("u_stride", ctypes.c_int), ("v_stride", ctypes.c_int),
                ("a_stride", ctypes.c_int), ("y_size", ctypes.c_size_t),
                ("u_size", ctypes.c_size_t), ("v_size", ctypes.c_size_t),
                ("a_size", ctypes.c_size_t)]


class _Buffers(ctypes.Union):
    _fields_ = [("RGBA", _RGBABuffer), ("YUVA", _YUVABuffer)]


class _DecBuffer(ctypes.Structure):
    _fields_ = [("colorspace", ctypes.c_int), ("width", ctypes.c_int),
                ("height", ctypes.c_int), ("is_external_memory", ctypes.c_int),
                ("u", _Buffers), ("pad", ctypes.c_uint32 * 4),
                ("private_memory", ctypes.c_void_p)]


class _Options(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in (
        "bypass_filtering", "no_fancy_upsampling", "use_cropping", "crop_left", "crop_top",
        "crop_width", "crop_height", "use_scaling", "scaled_width", "scaled_height",
        "use_threads", "dithering_strength", "flip", "alpha_dithering_strength")
    ] + [("pad", ctypes.c_uint32 * 5)]


class _Config(ctypes.Structure):
    # `spare` is room to grow: a later minor ABI may use the pad fields, never more.
    _fields_ = [("input", _Features), ("output", _DecBuffer), ("options", _Options),
                ("spare", ctypes.c_uint8 * 64)]


@functools.cache
def _libwebp() -> Any:
    """libwebp's decoder entry points, or None when they cannot be found."""
    try:
        from PIL import _webp  # noqa: PLC0415 - Pillow built without WebP has none

        lib = ctypes.CDLL(_webp.__file__)
        init = lib.WebPInitDecoderConfigInternal
        features = lib.WebPGetFeaturesInternal
        decode = lib.WebPDecode
    except (ImportError, OSError, AttributeError):
        return None
    init.argtypes = [ctypes.POINTER(_Config), ctypes.c_int]
    init.restype = ctypes.c_int
    features.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Features),
                         ctypes.c_int]
    features.restype = ctypes.c_int
    decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Config)]
    decode.restype = ctypes.c_int
    return lib


def available() -> bool:
    return _libwebp() is not None


def decode(data: bytes, size: tuple[int, int],
           scaled: tuple[int, int]) -> Image.Image | None:
    """The still WebP in `data`, whose header says it is `size`, decoded at `scaled`, or at
    full size where scaling would bleed colour through alpha (see the module's docstring).
    The result's mode is RGB, or RGBa (premultiplied) when the image has alpha. None: use
    Pillow instead, as for anything libwebp reads differently from Pillow's header."""
    lib = _libwebp()
    if lib is None:
        return None
    config = _Config()
    if not lib.WebPInitDecoderConfigInternal(ctypes.byref(config), _DECODER_ABI):
        return None
    if lib.WebPGetFeaturesInternal(data, len(data), ctypes.byref(config.input),
                                   _DECODER_ABI) != _OK:
        return None
    features = config.input
    if features.has_animation or (features.width, features.height) != size:
        return None
    alpha = bool(features.has_alpha)
    width, height = size if alpha and features.format == _FORMAT_LOSSY else scaled
    if (width, height) != size:
        config.options.use_scaling = 1
        config.options.scaled_width, config.options.scaled_height = width, height
    channels = 4 if alpha else 3
    stride = width * channels
    pixels = bytearray(stride * height)
    view = (ctypes.c_char * len(pixels)).from_buffer(pixels)  # libwebp writes in place
    output = config.output
    output.colorspace = _MODE_PREMULTIPLIED_RGBA if alpha else _MODE_RGB
    output.is_external_memory = 1
    output.u.RGBA.rgba = ctypes.addressof(view)
    output.u.RGBA.stride = stride
    output.u.RGBA.size = len(pixels)
    status = lib.WebPDecode(data, len(data), ctypes.byref(config))
    del view  # releases the export, so the image below may hold the bytearray
    if status != _OK:
        return None
    if alpha:
        return Image.frombuffer("RGBa", (width, height), pixels, "raw", "RGBa", 0, 1)
    return Image.frombuffer("RGB", (width, height), pixels, "raw", "RGB", 0, 1)
