"""What a file of evidence is, read from its bytes alone: the type, the SHA-256, and for a photo the
EXIF time and position and a thumbnail. Pure: no database, no file names trusted.

The type is recognised by content (Pillow decodes the whole image; a PDF must open with ``%PDF-`` and
end with ``%%EOF``), so a script renamed ``photo.jpg`` or a truncated upload is refused, not stored.
Positions are taken as EXIF records them: WGS84 degrees from the phone's GPS. (Some Chinese camera
apps write GCJ-02 instead; such a photo lands 300-600 m off and is flagged far from its compound.)
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from gis import clock
from gis.errors import InvalidRequestError

# Pillow's format name -> the IANA media type
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff"}
PDF = "application/pdf"
MAX_PIXELS = 200_000_000  # a 200-megapixel scan is the largest real one; beyond: a decompression bomb
EXIF_TIME = "%Y:%m:%d %H:%M:%S"


class EvidenceFileError(InvalidRequestError):
    """A file that is not evidence gisplan takes: unknown type by content, damaged, or too large."""

    status = 415
    title = "Unsupported Media Type"


@dataclass(frozen=True)
class FileFacts:
    """What the bytes say: ``media_type`` by content, ``sha256`` (hex), ``size`` (bytes), and for a
    photo ``width``/``height`` and, when its EXIF has them, ``taken_at`` (aware) and ``lon``/``lat``
    (WGS84 degrees)."""

    media_type: str
    sha256: str
    size: int
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


def inspect(data: bytes, *, allowed: list[str] | None = None, zone: tzinfo | None = None) -> FileFacts:
    """Recognise ``data`` by its content and read what it records.

    Parameters
    ----------
    data
        The whole file.
    allowed
        The media types taken (default: every type this module reads).
    zone
        The time zone of an EXIF time that carries no offset (default: the programme's).

    Raises
    ------
    EvidenceFileError
        The content is none of the allowed types, or it does not decode whole.
    """
    digest = hashlib.sha256(data).hexdigest()
    facts = _pdf(data, digest) if data.startswith(b"%PDF-") else _image(data, digest, zone or clock.zone())
    if allowed is not None and facts.media_type not in allowed:
        raise EvidenceFileError(f"{facts.media_type} is not taken (only {', '.join(allowed)}) / 不支持的文件类型")
    return facts


def thumbnail(data: bytes, px: int) -> bytes | None:
    """A JPEG of the image whose long side is at most ``px``, turned upright as its EXIF says; None
    for a file that is not an image (a PDF)."""
    if data.startswith(b"%PDF-"):
        return None
    with _open(data) as img:
        small = ImageOps.exif_transpose(img)
        small.thumbnail((px, px))
        out = io.BytesIO()
        small.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()


def _pdf(data: bytes, digest: str) -> FileFacts:
    if b"%%EOF" not in data[-2048:]:
        raise EvidenceFileError("the PDF has no end marker (%%EOF): truncated or damaged / PDF 文件不完整")
    return FileFacts(PDF, digest, len(data))


def _open(data: bytes) -> Image.Image:
    """The image, decoded whole (a truncated file or a bomb refused)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in IMAGE_TYPES:
                raise EvidenceFileError(f"{img.format} images are not taken / 不支持的图片格式")
            if img.width * img.height > MAX_PIXELS:
                raise EvidenceFileError(f"{img.width}x{img.height} pixels is beyond any photo or scan / 图片像素过大")
            img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise EvidenceFileError(
            "not a photo, scan or PDF by its content (JPEG, PNG, WebP, TIFF, PDF) / 文件内容不是图片或 PDF"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's words for a damaged or truncated file
        raise EvidenceFileError(f"the image does not decode whole ({exc}) / 图片已损坏或不完整") from exc
    return img


def _image(data: bytes, digest: str, zone: tzinfo) -> FileFacts:
    with _open(data) as img:
        exif = img.getexif()
        fmt = str(img.format)
        size = img.size
    lon, lat = _position(exif.get_ifd(ExifTags.IFD.GPSInfo))
    return FileFacts(IMAGE_TYPES[fmt], digest, len(data), size[0], size[1], _taken_at(exif, zone), lon, lat)


def _taken_at(exif: Image.Exif, zone: tzinfo) -> datetime | None:
    """DateTimeOriginal (else the file's DateTime), with OffsetTimeOriginal when the camera wrote it."""
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    raw = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(raw, str):
        return None
    try:
        naive = datetime.strptime(raw.strip("\x00 "), EXIF_TIME)
    except ValueError:
        return None  # "0000:00:00 00:00:00" and other blanks cameras write
    offset = sub.get(ExifTags.Base.OffsetTimeOriginal)
    return naive.replace(tzinfo=_offset(offset) or zone)


def _offset(raw: object) -> tzinfo | None:
    """``+08:00`` as a time zone; None for anything else."""
    if not isinstance(raw, str) or len(raw) != 6 or raw[0] not in "+-" or raw[3] != ":":
        return None
    try:
        minutes = int(raw[1:3]) * 60 + int(raw[4:6])
    except ValueError:
        return None
    return timezone(timedelta(minutes=minutes if raw[0] == "+" else -minutes))


def _position(gps: dict[int, object]) -> tuple[float | None, float | None]:
    """(lon, lat) in degrees from the GPS IFD; (None, None) when it has none or it is out of range."""
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
    lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None  # 0,0 is what a phone writes before it has a fix
    return lon, lat


def _degrees(dms: object, ref: object, negative: str) -> float | None:
    """Degrees, minutes, seconds (rationals) and a hemisphere letter as signed degrees."""
    if not isinstance(dms, tuple) or len(dms) != 3:
        return None
    try:
        d, m, s = (float(v) for v in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not math.isfinite(value):
        return None
    return -value if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative else value
