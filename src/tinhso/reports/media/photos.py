"""Photos of reports: decoded, turned upright, re-encoded as JPEG without any metadata, and
stored under ``reports/photos/<report id>/`` in the file store (:mod:`.storage`).

Every stored copy is a new JPEG written from pixels only, so EXIF (GPS position, camera,
owner), XMP, IPTC and comments never reach the disk; ``tests/reports`` reads the stored files
back with Pillow to check. Before that, with the reporter's consent, the GPS position in the
EXIF block may pre-fill the report's location (:func:`gps_position`). JPEG, PNG, WebP and
HEIC/HEIF (phones' default format, decoded by pillow-heif's opener for Pillow) are accepted.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener
from sqlalchemy import func, select

from tinhso.core.db import utcnow
from tinhso.core.errors import InvalidInput
from tinhso.reports.models import ReportPhoto

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.storage import FileStore
    from tinhso.reports.models import Report

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 5
MAX_SIDE = 2048
MAX_PIXELS = 50_000_000  # a decompression bomb is refused before decoding
ACCEPTED = {"JPEG", "PNG", "WEBP", "MPO", "HEIF"}
_GPS_IFD = 0x8825

register_heif_opener()  # Image.open reads HEIC/HEIF from here on


def _refuse(vi: str, en: str) -> InvalidInput:
    return InvalidInput(vi, en, field="photo")


def _open(data: bytes) -> Image.Image:
    if len(data) > MAX_PHOTO_BYTES:
        raise _refuse(
            f"Ảnh lớn quá {MAX_PHOTO_BYTES // 1024 // 1024} MB",
            f"A photo may be at most {MAX_PHOTO_BYTES // 1024 // 1024} MB",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise _refuse("Ảnh có quá nhiều điểm ảnh", "The photo has too many pixels")
            if image.format not in ACCEPTED:
                raise _refuse(
                    "Chỉ nhận ảnh JPEG, PNG, WebP hoặc HEIC",
                    "Only JPEG, PNG, WebP or HEIC photos are accepted",
                )
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        ValueError,
    ) as error:
        raise _refuse(
            "Tệp không phải ảnh đọc được (JPEG, PNG, WebP, HEIC)",
            "The file is not a readable photo (JPEG, PNG, WebP, HEIC)",
        ) from error
    return image


def _degrees(value: object) -> float:
    parts = [float(part) for part in value]  # type: ignore[attr-defined]
    return parts[0] + parts[1] / 60 + parts[2] / 3600


def gps_position(data: bytes) -> tuple[float, float] | None:
    """(latitude, longitude) from the photo's EXIF GPS block, if it has a usable one."""
    try:
        gps = Image.open(io.BytesIO(data)).getexif().get_ifd(_GPS_IFD)
        latitude = _degrees(gps[2]) * (-1 if gps.get(1) == "S" else 1)
        longitude = _degrees(gps[4]) * (-1 if gps.get(3) == "W" else 1)
    except (KeyError, TypeError, ValueError, IndexError, OSError, UnidentifiedImageError):
        return None
    if -90 <= latitude <= 90 and -180 <= longitude <= 180:
        return latitude, longitude
    return None


def clean_jpeg(data: bytes) -> tuple[bytes, int, int]:
    """The photo as a new JPEG of its pixels only (upright, at most MAX_SIDE px)."""
    image = ImageOps.exif_transpose(_open(data))
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    pixels_only = Image.new("RGB", image.size)
    pixels_only.paste(image)
    output = io.BytesIO()
    pixels_only.save(output, "JPEG", quality=85, optimize=True)
    return output.getvalue(), pixels_only.width, pixels_only.height


def store_photo(session: Session, report: Report, data: bytes, files: FileStore) -> ReportPhoto:
    count = session.query(ReportPhoto).filter(ReportPhoto.report_id == report.id).count()
    if count >= MAX_PHOTOS:
        raise _refuse(f"Tối đa {MAX_PHOTOS} ảnh", f"At most {MAX_PHOTOS} photos")
    cleaned, width, height = clean_jpeg(data)
    digest = hashlib.sha256(cleaned).hexdigest()
    relative = f"reports/photos/{report.id}/{digest[:32]}.jpg"
    files.put(relative, cleaned)
    photo = ReportPhoto(
        report_id=report.id,
        stored_path=relative,
        width=width,
        height=height,
        size=len(cleaned),
        sha256=digest,
    )
    session.add(photo)
    session.flush()
    return photo


@dataclass(frozen=True)
class Area:
    """A rectangle of a photo in percent of its width and height (0-100)."""

    left: float
    top: float
    width: float
    height: float

    def check(self) -> None:
        values = (self.left, self.top, self.width, self.height)
        if not all(0 <= value <= 100 for value in values) or self.width <= 0 or self.height <= 0:
            raise InvalidInput(
                "Vùng che phải nằm trong ảnh (phần trăm từ 0 đến 100, rộng và cao lớn hơn 0)",
                "The area must lie in the photo (percent 0-100, width and height above 0)",
                field="area",
            )


def redact(
    session: Session, photo: ReportPhoto, area: Area, files: FileStore, user_id: int
) -> ReportPhoto:
    """Cover an area of the public copy (black), keeping the stored copy for staff."""
    area.check()
    source = files.read(photo.redacted_path or photo.stored_path)
    with Image.open(io.BytesIO(source)) as opened:
        image = opened.convert("RGB")
    box = (
        round(image.width * area.left / 100),
        round(image.height * area.top / 100),
        round(image.width * min(area.left + area.width, 100) / 100),
        round(image.height * min(area.top + area.height, 100) / 100),
    )
    ImageDraw.Draw(image).rectangle(box, fill=(0, 0, 0))
    output = io.BytesIO()
    image.save(output, "JPEG", quality=85)
    relative = f"{photo.stored_path.removesuffix('.jpg')}.public.jpg"
    files.put(relative, output.getvalue())
    photo.redacted_path = relative
    photo.redacted_by_id = user_id
    photo.redacted_at = utcnow()
    session.flush()
    return photo


def public_path(photo: ReportPhoto) -> str:
    """The copy anyone may see: the redacted one once staff covered something."""
    return photo.redacted_path or photo.stored_path


def photos_of(session: Session, report: Report) -> list[ReportPhoto]:
    return list(
        session.query(ReportPhoto)
        .filter(ReportPhoto.report_id == report.id)
        .order_by(ReportPhoto.id)
    )


def first_photos(session: Session, report_ids: list[int]) -> dict[int, int]:
    """Report id -> the id of its first photo, for the reports that have one."""
    if not report_ids:
        return {}
    rows = session.execute(
        select(ReportPhoto.report_id, func.min(ReportPhoto.id))
        .where(ReportPhoto.report_id.in_(report_ids))
        .group_by(ReportPhoto.report_id)
    )
    return {int(row[0]): int(row[1]) for row in rows}
