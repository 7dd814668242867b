"""The reference functions run in-process against the sandbox over HTTPS, as a function in A
would: this process takes the environment Lambda gives a function (a session of A's
execution role, the region, the function's name and log stream) plus AWS_ENDPOINT_URL and
AWS_CA_BUNDLE, the way the sandbox's runner sets them. Every call the handler makes is
then authorized by the sandbox with real IAM rules.

The world mirrors examples/thumbnails.yaml and examples/archive.yaml: A's execution role
may read A's upload bucket and assume three roles in B; each role in B trusts it (the
thumbnail role with an external id) and may write only its own prefix or table.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.config import Config
from PIL import ExifTags, Image, ImageChops, ImageDraw

from crossgrant.functions import clients
from crossgrant.runtime import clear_cache
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
TAG = "fn"  # names unique to this package: moto's backends are shared per process
EXTERNAL_ID = "thumbnails-7f3a9c2e"
STREAM = "2030/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
CFG = Config(retries={"max_attempts": 1})


@dataclass(frozen=True)
class World:
    sb: Sandbox
    exec_role: str
    other_role: str
    thumb_role: str
    archive_role: str
    table_role: str
    uploads: str  # A's bucket
    thumbs: str  # B's thumbnail bucket
    metadata: str  # B's thumbnail table
    archive: str  # B's archive bucket
    orders: str  # B's table for the table writer

    def admin(self, account: str, service: str) -> Any:
        return self.sb.client(account, service, config=CFG)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _role(sb: Sandbox, account: str, name: str, trust: str, policy: str) -> str:
    iam = sb.client(account, "iam", config=CFG)
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return arn


def _table(sb: Sandbox, name: str) -> None:
    sb.client(B, "dynamodb", config=CFG).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])


def _bucket(sb: Sandbox, account: str, name: str) -> None:
    sb.client(account, "s3", config=CFG).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    sb = Sandbox(port=0, accounts=(A, B), region=REGION).start()
    uploads, thumbs, archive = f"{TAG}-a-uploads", f"{TAG}-b-thumbs", f"{TAG}-b-archive"
    metadata, orders = f"{TAG}-thumb-metadata", f"{TAG}-orders"
    admin_may_assume = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                            "Action": "sts:AssumeRole"})
    exec_policy = doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{uploads}/*"},
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
         "Resource": f"arn:aws:iam::{B}:role/{TAG}-*"})
    exec_role = _role(sb, A, f"{TAG}-ThumbExec", admin_may_assume, exec_policy)
    other_role = _role(sb, A, f"{TAG}-OtherRole", admin_may_assume, exec_policy)
    trust = {"Effect": "Allow", "Principal": {"AWS": exec_role},
             "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}
    thumb_role = _role(
        sb, B, f"{TAG}-ThumbXRole",
        doc({**trust, "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}),
        doc({"Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{thumbs}/thumbs/*"},
            {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
             "Resource": f"arn:aws:dynamodb:{REGION}:{B}:table/{metadata}"}))
    archive_role = _role(
        sb, B, f"{TAG}-S3CrossAccountAccessRole", doc(trust),
        doc({"Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{archive}/processed/*"}))
    table_role = _role(
        sb, B, f"{TAG}-CrossAccountDynamoRole", doc(trust),
        doc({"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
             "Resource": f"arn:aws:dynamodb:{REGION}:{B}:table/{orders}"}))
    _bucket(sb, A, uploads)
    for name in (thumbs, archive):
        _bucket(sb, B, name)
    for name in (metadata, orders):
        _table(sb, name)
    yield World(sb, exec_role, other_role, thumb_role, archive_role, table_role, uploads,
                thumbs, metadata, archive, orders)
    sb.stop()


@pytest.fixture
def as_function(world: World, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Callable[..., None]]:
    """Make this process a Lambda function running as a role of A, with `env` on top."""

    def become(function: str, env: dict[str, str], role_arn: str | None = None) -> None:
        creds = world.admin(A, "sts").assume_role(
            RoleArn=role_arn or world.exec_role, RoleSessionName=function)["Credentials"]
        full = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"],
                "AWS_ENDPOINT_URL": world.sb.endpoint, "AWS_CA_BUNDLE": str(world.sb.ca_bundle),
                "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_LOG_STREAM_NAME": STREAM,
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                **env}
        for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL_STS", "TARGET_ROLE_ARN", "EXTERNAL_ID",
                    "THUMB_SIZES", "THUMB_PREFIX", "THUMB_MAX_PIXELS", "THUMB_FORMAT",
                    "THUMB_MAX_BYTES", "ARCHIVE_PREFIX", "ARCHIVE_KMS_KEY_ID"):
            monkeypatch.delenv(var, raising=False)
        for key, value in full.items():
            monkeypatch.setenv(key, value)
        clear_cache()
        clients.clear()

    yield become
    clear_cache()
    clients.clear()


class Context:
    """What the handler reads of Lambda's context object."""

    def __init__(self, function: str, request_id: str = "req-0001") -> None:
        self.function_name = function
        self.aws_request_id = request_id
        self.log_stream_name = STREAM

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


_SEQ = iter(range(1, 1_000_000))


def s3_event(bucket: str, key: str, *, size: int = 0, sequencer: str | None = None,
             name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """An S3 notification record as S3 sends it (the key URL-encoded)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2030-01-01T00:00:00.000Z", "eventName": name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "thumbs",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}",
                          "ownerIdentity": {"principalId": "A"}},
               "object": {"key": quote_plus(key), "size": size, "eTag": "x",
                          "sequencer": sequencer or f"{next(_SEQ):016X}"}}}]}


# -- generated images -------------------------------------------------------------------------

RED, GREEN, BLUE = (230, 20, 20), (20, 200, 20), (20, 20, 230)


class Images:
    """Generated test images, every one made in memory."""

    @staticmethod
    def photo(width: int, height: int) -> Image.Image:
        """Photo-like: gradients, shapes and noise; a red block marks the stored top-left
        corner and a blue one the stored bottom-right, so orientation can be checked."""
        size = (width, height)
        base = Image.merge("RGB", (Image.linear_gradient("L").resize(size),
                                   Image.radial_gradient("L").resize(size),
                                   Image.linear_gradient("L").rotate(90).resize(size)))
        noise = Image.effect_noise((width, height), 8).convert("RGB")
        base = ImageChops.add(base, ImageChops.subtract(noise, Image.new("RGB", base.size,
                                                                          (128, 128, 128))))
        draw = ImageDraw.Draw(base)
        w, h = width // 4, height // 4
        draw.rectangle((0, 0, w, h), fill=RED)
        draw.rectangle((width - w, height - h, width, height), fill=BLUE)
        return base

    @staticmethod
    def jpeg_with_exif(width: int, height: int, orientation: int, *,
                       icc: bytes | None = None) -> bytes:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        exif[ExifTags.Base.Make] = "crossgrant-test-camera"
        exif[ExifTags.Base.Software] = "secret-software-1.0"
        out = io.BytesIO()
        kwargs: dict[str, Any] = {"exif": exif.tobytes(), "quality": 90}
        if icc:
            kwargs["icc_profile"] = icc
        Images.photo(width, height).save(out, "JPEG", **kwargs)
        return out.getvalue()

    @staticmethod
    def png_with_alpha(width: int, height: int) -> bytes:
        """Left half transparent black, right half opaque green, a soft band between."""
        image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        image.paste((*GREEN, 255), (width // 2, 0, width, height))
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    @staticmethod
    def webp(width: int, height: int, *, alpha: bool = False) -> bytes:
        image = Images.photo(width, height)
        if alpha:
            image = image.convert("RGBA")
            image.putalpha(Image.linear_gradient("L").resize((width, height)))
        out = io.BytesIO()
        image.save(out, "WEBP", quality=85)
        return out.getvalue()

    @staticmethod
    def png_chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    @staticmethod
    def png16(width: int, height: int, value: int) -> bytes:
        """A 16-bit greyscale PNG, every sample `value` (0..65535)."""
        row = b"\x00" + struct.pack(">H", value) * width
        return (b"\x89PNG\r\n\x1a\n"
                + Images.png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0))
                + Images.png_chunk(b"IDAT", zlib.compress(row * height))
                + Images.png_chunk(b"IEND", b""))

    @staticmethod
    def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
        """A header that promises width x height pixels over a few hundred bytes of data:
        decoding it would need gigabytes."""
        row = b"\x00" + b"\x00" * (width // 8)
        data = zlib.compress(row * 8, 9)
        return (b"\x89PNG\r\n\x1a\n"
                + Images.png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                + Images.png_chunk(b"IDAT", data) + Images.png_chunk(b"IEND", b""))

    @staticmethod
    def cmyk_jpeg(width: int, height: int, cmyk: tuple[int, int, int, int]) -> bytes:
        out = io.BytesIO()
        Image.new("CMYK", (width, height), cmyk).save(out, "JPEG", quality=95)
        return out.getvalue()

    @staticmethod
    def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
        out = io.BytesIO()
        image.save(out, fmt, **params)
        return out.getvalue()

    @staticmethod
    def red_beside_blue(width: int, height: int) -> Image.Image:
        """Fully transparent red on the left, opaque blue on the right, the edge off every
        multiple of 2, 4 and 8 so that a shrink averages across it. Resampling that does
        not weight colour by alpha turns the edge purple."""
        image = Image.new("RGBA", (width, height), (255, 0, 0, 0))
        image.paste((0, 0, 255, 255), (width // 2 + 3, 0, width, height))
        return image

    @staticmethod
    def rgb_icc_profile(red: tuple[float, float, float], green: tuple[float, float, float],
                        blue: tuple[float, float, float], gamma: float = 2.2) -> bytes:
        """A matrix/TRC ICC v2 display profile with these D50 primaries (XYZ)."""

        def s15(value: float) -> bytes:
            return struct.pack(">i", round(value * 65536))

        def xyz(x: float, y: float, z: float) -> bytes:
            return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

        curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))
        name = b"crossgrant test RGB\0"
        desc = b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(8 + 3 + 67)
        white = (0.9642, 1.0, 0.8249)
        tags = [(b"desc", desc), (b"cprt", b"text" + bytes(4) + b"none\0"),
                (b"wtpt", xyz(*white)), (b"rXYZ", xyz(*red)), (b"gXYZ", xyz(*green)),
                (b"bXYZ", xyz(*blue)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
        offset = 128 + 4 + 12 * len(tags)
        table = body = b""
        for signature, data in tags:
            padded = data + bytes(-len(data) % 4)
            table += signature + struct.pack(">II", offset + len(body), len(padded))
            body += padded
        header = (struct.pack(">I", offset + len(body)) + b"lcms"
                  + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + bytes(12) + b"acsp"
                  + bytes(28) + s15(white[0]) + s15(white[1]) + s15(white[2]) + bytes(48))
        return header + struct.pack(">I", len(tags)) + table + body


@pytest.fixture
def images() -> type[Images]:
    return Images


@pytest.fixture
def event() -> Callable[..., dict[str, Any]]:
    return s3_event


@pytest.fixture
def context() -> type[Context]:
    return Context
