"""The thumbnailer end to end in the sandbox: an upload to A's bucket, the handler run as
A's execution role, thumbnails in B's bucket through the assumed role, an item in B's
table; and what must not happen: a bomb or a non-image written anywhere, a stale event
replacing a newer item, a write outside the granted prefix."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from crossgrant.functions import thumbnailer

A, B = "111111111111", "222222222222"
EXTERNAL_ID = "thumbnails-7f3a9c2e"


@pytest.fixture
def run(world: Any, as_function: Callable[..., None], event: Any,
        context: Any) -> Callable[..., dict[str, Any]]:
    """Upload `data` to A's bucket as `key`, then run the handler on its event."""

    def go(key: str, data: bytes, env: dict[str, str] | None = None,
           **event_kw: Any) -> dict[str, Any]:
        world.admin(A, "s3").put_object(Bucket=world.uploads, Key=key, Body=data)
        as_function("thumbnailer", {
            "TARGET_ROLE_ARN": world.thumb_role, "EXTERNAL_ID": EXTERNAL_ID,
            "TARGET_BUCKET": world.thumbs, "TARGET_TABLE": world.metadata,
            "THUMB_SIZES": "128,256", "THUMB_PREFIX": "thumbs/", **(env or {})})
        result: dict[str, Any] = thumbnailer.handler(
            event(world.uploads, key, size=len(data), **event_kw), context("thumbnailer"))
        return result

    return go


def thumbs_of(world: Any, key: str) -> dict[str, dict[str, Any]]:
    s3 = world.admin(B, "s3")
    found = {}
    for obj in s3.list_objects_v2(Bucket=world.thumbs, Prefix="thumbs/").get("Contents", []):
        if obj["Key"].split("/", 2)[2].startswith(key):
            got = s3.get_object(Bucket=world.thumbs, Key=obj["Key"])
            found[obj["Key"]] = {"content_type": got["ContentType"],
                                 "image": Image.open(io.BytesIO(got["Body"].read()))}
    return found


def item(world: Any, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = world.admin(B, "dynamodb").get_item(
        TableName=world.metadata, Key={"pk": {"S": f"{world.uploads}/{key}"}}).get("Item")
    return found


def test_photo_with_exif_orientation(world: Any, run: Any, images: Any) -> None:
    key = "in/holiday photo.jpg"  # a space: the event carries it URL-encoded
    result = run(key, images.jpeg_with_exif(1200, 800, 6))
    (done,) = result["thumbnails"]
    assert (done["format"], done["width"], done["height"]) == ("JPEG", 800, 1200)
    assert result["skipped"] == []
    found = thumbs_of(world, key)
    assert sorted(found) == ["thumbs/128/in/holiday photo.jpg",
                             "thumbs/256/in/holiday photo.jpg"]
    big = found["thumbs/256/in/holiday photo.jpg"]
    assert big["content_type"] == "image/jpeg"
    assert (big["image"].format, big["image"].size) == ("JPEG", (171, 256))
    assert found["thumbs/128/in/holiday photo.jpg"]["image"].size == (85, 128)
    # Orientation 6: the stored top-left (red) is displayed top-right.
    red = big["image"].getpixel((big["image"].width - 3, 3))
    assert red[0] > 180 and red[1] < 80
    assert len(big["image"].getexif()) == 0
    assert "icc_profile" not in big["image"].info
    stored = item(world, key)
    assert stored is not None
    assert stored["source_format"] == {"S": "JPEG"}
    assert (stored["width"], stored["height"]) == ({"N": "800"}, {"N": "1200"})
    assert stored["function"] == {"S": "thumbnailer"}
    assert [t["M"]["key"]["S"] for t in stored["thumbnails"]["L"]] == [
        "thumbs/256/in/holiday photo.jpg", "thumbs/128/in/holiday photo.jpg"]


def test_png_with_alpha_stays_png(world: Any, run: Any, images: Any) -> None:
    run("in/logo.png", images.png_with_alpha(800, 400))
    found = thumbs_of(world, "in/logo.png")
    assert {k: (v["content_type"], v["image"].format, v["image"].mode, v["image"].size)
            for k, v in found.items()} == {
        "thumbs/256/in/logo.png": ("image/png", "PNG", "RGBA", (256, 128)),
        "thumbs/128/in/logo.png": ("image/png", "PNG", "RGBA", (128, 64))}


def test_webp_and_16_bit_and_cmyk(world: Any, run: Any, images: Any) -> None:
    run("in/pic.webp", images.webp(600, 600))
    run("in/scan.png", images.png16(300, 200, 32768))
    run("in/print.jpg", images.cmyk_jpeg(400, 300, (255, 0, 0, 0)))
    webp = thumbs_of(world, "in/pic.webp")["thumbs/256/in/pic.webp"]
    assert (webp["content_type"], webp["image"].format, webp["image"].size) == (
        "image/webp", "WEBP", (256, 256))
    # An opaque 16-bit PNG becomes an 8-bit JPEG, mid-grey staying mid-grey.
    scan = thumbs_of(world, "in/scan.png")["thumbs/256/in/scan.png.jpg"]
    assert (scan["content_type"], scan["image"].mode) == ("image/jpeg", "L")
    assert abs(scan["image"].getpixel((50, 50)) - 128) <= 2
    cmyk = thumbs_of(world, "in/print.jpg")["thumbs/256/in/print.jpg"]
    assert cmyk["image"].mode == "RGB"
    r, g, b = cmyk["image"].getpixel((50, 50))
    assert r < 20 and g > 235 and b > 235


def test_decompression_bomb_is_skipped_and_nothing_is_written(
        world: Any, run: Any, images: Any, caplog: pytest.LogCaptureFixture) -> None:
    result = run("in/bomb.png", images.png_bomb())
    assert result["thumbnails"] == []
    (skipped,) = result["skipped"]
    assert skipped["key"] == "in/bomb.png"
    assert "decompression bomb" in skipped["reason"]
    assert thumbs_of(world, "in/bomb.png") == {}
    assert item(world, "in/bomb.png") is None
    assert any("skipped s3://" in r.getMessage() and "decompression bomb" in r.getMessage()
               for r in caplog.records)


def test_pixel_limit_from_the_environment(world: Any, run: Any, images: Any) -> None:
    result = run("in/large.jpg", images.jpeg_with_exif(1200, 800, 1),
                 env={"THUMB_MAX_PIXELS": "500000"})
    assert "over the limit of 500000" in result["skipped"][0]["reason"]
    assert thumbs_of(world, "in/large.jpg") == {}


def test_not_an_image_is_skipped(world: Any, run: Any) -> None:
    result = run("in/notes.txt", b"hello, not an image")
    assert result["skipped"][0]["reason"] == "not a JPEG, PNG, WebP, GIF or TIFF image"
    assert thumbs_of(world, "in/notes.txt") == {}


def test_duplicate_and_stale_events(world: Any, run: Any, images: Any) -> None:
    key = "in/twice.jpg"
    first = run(key, images.jpeg_with_exif(640, 480, 1), sequencer="00000000000000000A")
    again = run(key, images.jpeg_with_exif(640, 480, 1), sequencer="00000000000000000A")
    assert first["thumbnails"][0]["recorded"] and again["thumbnails"][0]["recorded"]
    newer = run(key, images.jpeg_with_exif(480, 640, 1), sequencer="0B")
    assert newer["thumbnails"][0]["recorded"]
    stale = run(key, images.jpeg_with_exif(640, 480, 1), sequencer="0A")
    assert stale["thumbnails"][0]["recorded"] is False
    stored = item(world, key)
    assert stored is not None
    assert stored["sequencer"] == {"S": "0" * 30 + "0B"}
    assert (stored["width"], stored["height"]) == ({"N": "480"}, {"N": "640"})
    assert len(thumbs_of(world, key)) == 2


def test_own_output_and_removals_are_ignored(world: Any, as_function: Callable[..., None],
                                            event: Any, context: Any) -> None:
    as_function("thumbnailer", {"TARGET_BUCKET": world.thumbs,
                                "TARGET_TABLE": world.metadata})
    loop = thumbnailer.handler(event(world.thumbs, "thumbs/128/in/a.jpg"), context("t"))
    removed = thumbnailer.handler(event(world.uploads, "in/a.jpg",
                                        name="ObjectRemoved:Delete"), context("t"))
    assert loop == {"thumbnails": [], "skipped": [
        {"bucket": world.thumbs, "key": "thumbs/128/in/a.jpg", "reason": "a thumbnail"}]}
    assert removed["skipped"][0]["reason"] == "event ObjectRemoved:Delete"


def test_writing_outside_the_granted_prefix_is_denied(world: Any, run: Any,
                                                      images: Any) -> None:
    with pytest.raises(ClientError) as denied:
        run("in/elsewhere.jpg", images.jpeg_with_exif(640, 480, 1),
            env={"THUMB_PREFIX": "public/"})
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: arn:aws:sts::{B}:assumed-role/fn-ThumbXRole/thumbnailer@0123456789ab is "
        f"not authorized to perform: s3:PutObject on resource: "
        f'"arn:aws:s3:::{world.thumbs}/public/256/in/elsewhere.jpg" because no '
        f"identity-based policy allows the s3:PutObject action")
    assert item(world, "in/elsewhere.jpg") is None


def test_another_role_of_a_cannot_assume_the_target_role(
        world: Any, as_function: Callable[..., None], event: Any, context: Any,
        images: Any) -> None:
    world.admin(A, "s3").put_object(Bucket=world.uploads, Key="in/other.jpg",
                                    Body=images.jpeg_with_exif(320, 240, 1))
    as_function("thumbnailer", {
        "TARGET_ROLE_ARN": world.thumb_role, "EXTERNAL_ID": EXTERNAL_ID,
        "TARGET_BUCKET": world.thumbs, "TARGET_TABLE": world.metadata},
        role_arn=world.other_role)
    with pytest.raises(ClientError) as denied:
        thumbnailer.handler(event(world.uploads, "in/other.jpg"), context("thumbnailer"))
    assert denied.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{A}:assumed-role/fn-OtherRole/thumbnailer is not authorized "
        f"to perform: sts:AssumeRole on resource:")
    assert thumbs_of(world, "in/other.jpg") == {}


def test_one_sts_call_across_warm_invocations(world: Any, run: Any, images: Any,
                                              event: Any, context: Any) -> None:
    data = images.jpeg_with_exif(320, 240, 1)
    run("in/warm-0.jpg", data)
    before = [r for r in world.sb.audit.records if r.action == "sts:AssumeRole"]
    for i in range(1, 6):  # five more invocations in the same execution environment
        world.admin(A, "s3").put_object(Bucket=world.uploads, Key=f"in/warm-{i}.jpg",
                                        Body=data)
        thumbnailer.handler(event(world.uploads, f"in/warm-{i}.jpg"), context("thumbnailer"))
    after = [r for r in world.sb.audit.records if r.action == "sts:AssumeRole"]
    assert len(after) == len(before)
    writes = [r for r in world.sb.audit.records
              if r.operation == "PutObject"
              and str(r.resource).startswith(f"arn:aws:s3:::{world.thumbs}/thumbs/256/in/warm-5")]
    assert {(r.decision, r.source_identity) for r in writes} == {("Allow", "thumbnailer")}
