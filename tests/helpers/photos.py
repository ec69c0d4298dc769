"""Photos for the evidence tests, made with Pillow: EXIF time and GPS where a test puts them."""

from __future__ import annotations

import io
from fractions import Fraction

from PIL import ExifTags, Image


def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    """Decimal degrees as EXIF's degrees, minutes, seconds (seconds to 1/10000)."""
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round(((value - degrees) * 60 - minutes) * 60 * 10000), 10000)
    return Fraction(degrees), Fraction(minutes), seconds


Degrees = float | tuple[float, float, float]


def photo(
    *, lon: Degrees | None = None, lat: Degrees | None = None, taken: str | None = None, colour: int = 90
) -> bytes:
    """A JPEG of 640 x 480 with DateTimeOriginal ``taken`` ("2026:05:10 09:30:00") and a GPS fix in
    decimal degrees or as EXIF's (degrees, minutes, seconds)."""
    img = Image.new("RGB", (640, 480), (120, 160, colour))
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if lat is not None and lon is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps[ExifTags.GPS.GPSLatitude] = lat if isinstance(lat, tuple) else dms(lat)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps[ExifTags.GPS.GPSLongitude] = lon if isinstance(lon, tuple) else dms(lon)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
