"""Seed 003: thumbnails of the images uploaded to A's bucket, stored in B's.

For each S3 ObjectCreated record: read the object as A's execution role, make every
thumbnail in memory (crossgrant.functions.images), write them to B's bucket under
THUMB_PREFIX through the assumed role, then record them in B's table. Objects that are
not images we open, or that are decompression bombs, are skipped with a warning: retrying
would fail the same way. Everything else (a denied call, throttling) raises, so Lambda
retries the event; the writes are idempotent (same keys, and a conditional item write
keyed on S3's event sequencer), so a retry or a duplicate delivery does no harm.

Environment: TARGET_BUCKET, TARGET_TABLE (name or ARN), TARGET_ROLE_ARN and EXTERNAL_ID
(assume-role grants), THUMB_SIZES ("128,256"), THUMB_PREFIX ("thumbs/"),
THUMB_MAX_PIXELS (89478485), THUMB_MAX_BYTES (52428800), THUMB_FORMAT ("auto", or jpeg,
png, webp to force one), TARGET_TABLE_KEY ("pk").
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.functions.clients import setting, source_client, target_client
from crossgrant.functions.images import (
    DEFAULT_MAX_PIXELS,
    OUTPUT_FORMATS,
    ImageRejected,
    Source,
    Thumbnail,
    make_thumbnails,
)

log = logging.getLogger("crossgrant.functions.thumbnailer")

DEFAULT_SIZES = "128,256"
DEFAULT_PREFIX = "thumbs/"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_SUFFIXES = {"JPEG": (".jpg", ".jpeg", ".jpe"), "PNG": (".png",), "WEBP": (".webp",)}
# S3's sequencer is hex of varying length: left-padded to one width, later events compare
# greater as strings, which is how DynamoDB compares them in a condition.
_SEQUENCER_WIDTH = 32


@dataclass(frozen=True, slots=True)
class Settings:
    bucket: str
    table: str
    table_key: str
    prefix: str
    sizes: tuple[int, ...]
    max_pixels: int
    max_bytes: int
    force_format: str | None

    @classmethod
    def from_env(cls) -> Settings:
        try:
            sizes = tuple(sorted({int(s) for s in
                                  setting("THUMB_SIZES", DEFAULT_SIZES).split(",")}))
        except ValueError:
            raise ValueError("THUMB_SIZES must be comma-separated integers, e.g. "
                             "'128,256'") from None
        if not sizes or sizes[0] < 1:
            raise ValueError("THUMB_SIZES must be positive")
        forced = setting("THUMB_FORMAT", "auto").upper()
        if forced != "AUTO" and forced not in OUTPUT_FORMATS:
            raise ValueError("THUMB_FORMAT must be auto, jpeg, png or webp")
        return cls(bucket=setting("TARGET_BUCKET"), table=setting("TARGET_TABLE"),
                   table_key=setting("TARGET_TABLE_KEY", "pk"),
                   prefix=setting("THUMB_PREFIX", DEFAULT_PREFIX), sizes=sizes,
                   max_pixels=int(setting("THUMB_MAX_PIXELS", str(DEFAULT_MAX_PIXELS))),
                   max_bytes=int(setting("THUMB_MAX_BYTES", str(DEFAULT_MAX_BYTES))),
                   force_format=None if forced == "AUTO" else forced)


def thumbnail_key(prefix: str, source_key: str, thumb: Thumbnail) -> str:
    """`PREFIX SIZE/SOURCE_KEY`, with the output's extension added when the format
    changed (in/a.png -> thumbs/256/in/a.png.jpg), so two sources never share a key."""
    key = f"{prefix}{thumb.size}/{source_key}"
    if not source_key.lower().endswith(_SUFFIXES[thumb.format]):
        key += f".{thumb.extension}"
    return key


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_env()
    done: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        name = str(record.get("eventName", ""))
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        if not name.startswith("ObjectCreated"):
            skipped.append({"bucket": bucket, "key": key, "reason": f"event {name}"})
            continue
        if bucket == settings.bucket and key.startswith(settings.prefix):
            # Our own output: a notification on B's bucket must not loop.
            skipped.append({"bucket": bucket, "key": key, "reason": "a thumbnail"})
            continue
        try:
            done.append(process(settings, bucket, key, record))
        except ImageRejected as exc:
            log.warning("skipped s3://%s/%s: %s", bucket, key, exc)
            skipped.append({"bucket": bucket, "key": key, "reason": str(exc)})
    return {"thumbnails": done, "skipped": skipped}


def _read(settings: Settings, bucket: str, key: str) -> tuple[bytes, str]:
    try:
        obj = source_client("s3").get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise ImageRejected("the object no longer exists") from None
        raise
    body = obj["Body"]
    try:
        if int(obj.get("ContentLength", 0)) > settings.max_bytes:
            raise ImageRejected(f"{obj['ContentLength']} bytes is over the limit of "
                                f"{settings.max_bytes} (THUMB_MAX_BYTES)")
        return body.read(), str(obj.get("ETag", "")).strip('"')
    finally:
        body.close()


def process(settings: Settings, bucket: str, key: str,
            record: dict[str, Any]) -> dict[str, Any]:
    data, etag = _read(settings, bucket, key)
    source, thumbs = make_thumbnails(data, settings.sizes, max_pixels=settings.max_pixels,
                                     force_format=settings.force_format)
    s3 = target_client("s3")
    written = []
    for thumb in thumbs:  # all made before the first write: nothing half-written
        thumb_key = thumbnail_key(settings.prefix, key, thumb)
        s3.put_object(Bucket=settings.bucket, Key=thumb_key, Body=thumb.data,
                      ContentType=thumb.content_type)
        written.append({"size": thumb.size, "key": thumb_key, "width": thumb.width,
                        "height": thumb.height, "content_type": thumb.content_type,
                        "bytes": len(thumb.data)})
    recorded = _record(settings, bucket, key, etag, source, written, record)
    log.info("s3://%s/%s: %d thumbnails in s3://%s/%s", bucket, key, len(written),
             settings.bucket, settings.prefix)
    return {"bucket": bucket, "key": key, "format": source.format, "width": source.width,
            "height": source.height, "thumbnails": written, "recorded": recorded}


def _record(settings: Settings, bucket: str, key: str, etag: str, source: Source,
            written: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """The metadata item. A conditional put on S3's sequencer: an event delivered twice
    writes the same item again, an older event arriving late never replaces a newer one.
    Returns False for such a stale event."""
    item: dict[str, Any] = {
        settings.table_key: {"S": f"{bucket}/{key}"},
        "source_bucket": {"S": bucket},
        "source_key": {"S": key},
        "source_etag": {"S": etag},
        "source_format": {"S": source.format},
        "width": {"N": str(source.width)},
        "height": {"N": str(source.height)},
        "target_bucket": {"S": settings.bucket},
        "thumbnails": {"L": [{"M": {
            "size": {"N": str(t["size"])}, "key": {"S": t["key"]},
            "width": {"N": str(t["width"])}, "height": {"N": str(t["height"])},
            "content_type": {"S": t["content_type"]}, "bytes": {"N": str(t["bytes"])},
        }} for t in written]},
    }
    if record.get("eventTime"):
        item["event_time"] = {"S": str(record["eventTime"])}
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        item["function"] = {"S": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
    args: dict[str, Any] = {"TableName": settings.table, "Item": item}
    sequencer = record.get("s3", {}).get("object", {}).get("sequencer")
    if sequencer:
        item["sequencer"] = {"S": str(sequencer).upper().rjust(_SEQUENCER_WIDTH, "0")}
        args["ConditionExpression"] = "attribute_not_exists(#pk) OR #seq <= :seq"
        args["ExpressionAttributeNames"] = {"#pk": settings.table_key, "#seq": "sequencer"}
        args["ExpressionAttributeValues"] = {":seq": item["sequencer"]}
    try:
        target_client("dynamodb").put_item(**args)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            log.info("s3://%s/%s: a newer event is already recorded", bucket, key)
            return False
        raise
    return True
