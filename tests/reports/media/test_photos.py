"""Photos are stored without any metadata (read back with Pillow), upright, bounded in size;
their GPS position can be read first; bad files are refused with the field named."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from tests.reports.conftest import WARD
from tests.reports.media.conftest import stored_keys
from tinhso.core.calendar import shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.errors import InvalidInput
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.media.photos import MAX_SIDE, gps_position, store_photo
from tinhso.reports.models import Channel
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.reports.conftest import ReportsWorld
    from tinhso.core.storage import FileStore


def _photo_with_gps(width: int = 3000, height: int = 1000) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show upright
    exif[0x013B] = "Nguyễn Văn An"  # Artist
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (21.0, 16.0, 24.6), 3: "E", 4: (106.0, 11.0, 40.56)})
    output = io.BytesIO()
    image.save(output, "JPEG", exif=exif, comment=b"secret comment")
    return output.getvalue()


def test_metadata_is_gone_from_the_stored_file(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, report_files: FileStore
) -> None:
    original = _photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()  # the test photo does carry EXIF
    position = gps_position(original)
    assert position is not None
    assert position == pytest.approx((21.27350, 106.19460), abs=1e-4)
    with sessions.begin() as session:
        report = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Cột điện nghiêng",
                channel=Channel.WEB,
                unit_code=WARD,
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        ).report
        photo = store_photo(session, report, original, report_files)
    stored = report_files.read(photo.stored_path)
    assert b"Camera maker" not in stored and "Nguyễn".encode() not in stored
    assert b"secret comment" not in stored and b"Exif" not in stored
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert "exif" not in image.info and "comment" not in image.info
    # Turned upright by its orientation (3000x1000 rotated), then bounded to MAX_SIDE.
    width, height = image.size
    assert height == MAX_SIDE and width < height


@pytest.mark.parametrize(
    "data",
    [b"not an image", b"GIF89a" + b"\x00" * 20, b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40],
)
def test_unreadable_or_refused_files(
    sessions: sessionmaker[Session],
    reports_world: ReportsWorld,
    report_files: FileStore,
    data: bytes,
) -> None:
    with sessions.begin() as session:
        report = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc", description="x", channel=Channel.WEB, unit_code=WARD
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        ).report
        with pytest.raises(InvalidInput) as refused:
            store_photo(session, report, data, report_files)
        assert refused.value.errors[0].field == "photo"
    assert stored_keys(report_files) == []


def _heic_with_gps() -> bytes:
    image = Image.new("RGB", (1200, 800), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x013B] = "Nguyễn Văn An"  # Artist
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (21.0, 16.0, 24.6), 3: "E", 4: (106.0, 11.0, 40.56)})
    output = io.BytesIO()
    image.save(output, "HEIF", exif=exif.tobytes(), quality=60)
    return output.getvalue()


def test_a_heic_photo_is_read_and_stored_as_a_jpeg_without_its_metadata(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, report_files: FileStore
) -> None:
    original = _heic_with_gps()
    assert original[4:12] == b"ftypheic"  # what an iPhone sends
    assert gps_position(original) == pytest.approx((21.27350, 106.19460), abs=1e-4)
    with sessions.begin() as session:
        report = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Ảnh từ điện thoại",
                channel=Channel.WEB,
                unit_code=WARD,
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        ).report
        photo = store_photo(session, report, original, report_files)
    stored = report_files.read(photo.stored_path)
    assert b"Camera maker" not in stored and b"Exif" not in stored
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and not image.getexif()
    assert (photo.width, photo.height) == (1200, 800)
    red, _green, blue = image.getpixel((600, 400))  # type: ignore[misc]
    assert blue > 150 and red < 80  # the pixels came through the HEIF decoder
