"""Videos are stored without any metadata (read back with PyAV), their first video and audio
streams only, with a poster frame; long, big, unknown and broken files are refused with the
field named and leave nothing behind; the public sees a video only once it is released."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import av
import pytest
from PIL import Image

from tests.reports.conftest import WARD
from tests.reports.media.conftest import stored_keys
from tests.support.videos import OWNER, PLACE, phone_video
from tinhso.core.calendar import shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.errors import InvalidInput
from tinhso.registry.accounts import account_service
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.media.videos import MAX_SECONDS, MAX_VIDEOS, release, store_video, videos_of
from tinhso.reports.models import Channel, Report
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official
    from tests.reports.conftest import ReportsWorld
    from tinhso.core.storage import FileStore


def _report(session: Session) -> Report:
    return report_service.submit(
        session,
        Submission(
            category_code="dien-nuoc",
            description="Ống nước vỡ",
            channel=Channel.WEB,
            unit_code=WARD,
        ),
        shipped_calendar(),
        DeadlinePolicy.from_settings(ReportsSection()),
    ).report


def test_the_stored_video_has_no_metadata_and_a_poster(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, report_files: FileStore
) -> None:
    original = phone_video(seconds=2)
    with av.open(io.BytesIO(original)) as sent:  # the test video does carry the place
        assert sent.metadata["location"] == PLACE and sent.metadata["artist"] == OWNER
    with sessions.begin() as session:
        video = store_video(session, _report(session), io.BytesIO(original), report_files)
    stored = report_files.read(video.stored_path)
    assert video.media_type == "video/mp4" and video.stored_path.endswith(".mp4")
    assert PLACE.encode() not in stored and OWNER.encode() not in stored
    assert b"secret title" not in stored
    with av.open(io.BytesIO(stored)) as kept:
        assert not {"location", "location-eng", "artist", "title"} & set(kept.metadata)
        assert [stream.type for stream in kept.streams] == ["video", "audio"]
        assert all("title" not in stream.metadata for stream in kept.streams)
        assert stored.index(b"moov") < stored.index(b"mdat")  # plays while downloading
    assert (video.width, video.height) == (64, 48)
    assert 1900 <= video.duration_ms <= 2200
    with Image.open(io.BytesIO(report_files.read(video.poster_path))) as poster:
        assert poster.format == "JPEG" and poster.size == (64, 48) and not poster.getexif()
    assert sorted(stored_keys(report_files)) == sorted([video.stored_path, video.poster_path])


def test_a_webm_stays_a_webm(
    sessions: sessionmaker[Session], reports_world: ReportsWorld, report_files: FileStore
) -> None:
    original = phone_video(muxer="webm", video_codec="libvpx", audio_codec="libopus")
    with sessions.begin() as session:
        video = store_video(session, _report(session), io.BytesIO(original), report_files)
    assert video.media_type == "video/webm"
    with av.open(io.BytesIO(report_files.read(video.stored_path))) as kept:
        assert "webm" in kept.format.name
        assert "artist" not in kept.metadata and "location" not in kept.metadata


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not a video at all", "not a readable video"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 60, "not a readable video"),
        (phone_video(seconds=MAX_SECONDS + 5), f"at most {MAX_SECONDS} seconds"),
        (phone_video(video_codec="mpeg2video", audio_codec=None, muxer="mp4"), "is not supported"),
    ],
    ids=["text", "truncated", "too-long", "codec"],
)
def test_refused_videos_leave_nothing(
    sessions: sessionmaker[Session],
    reports_world: ReportsWorld,
    report_files: FileStore,
    data: bytes,
    says: str,
) -> None:
    with sessions.begin() as session:
        report = _report(session)
        with pytest.raises(InvalidInput) as refused:
            store_video(session, report, io.BytesIO(data), report_files)
        assert refused.value.errors[0].field == "video"
        assert says in refused.value.message.en
        assert refused.value.message.vi != refused.value.message.en
    assert stored_keys(report_files) == []


def test_oversize_is_refused_before_reading(
    sessions: sessionmaker[Session],
    reports_world: ReportsWorld,
    report_files: FileStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tinhso.reports.media.videos.MAX_VIDEO_BYTES", 1000)
    with sessions.begin() as session, pytest.raises(InvalidInput) as refused:
        store_video(session, _report(session), io.BytesIO(phone_video()), report_files)
    assert "at most" in refused.value.message.en and "MB" in refused.value.message.en


def test_at_most_two_videos_and_the_public_sees_released_ones_only(
    sessions: sessionmaker[Session],
    reports_world: ReportsWorld,
    report_files: FileStore,
    admin: Official,
) -> None:
    with sessions.begin() as session:
        report = _report(session)
        first = store_video(session, report, io.BytesIO(phone_video()), report_files)
        for _ in range(MAX_VIDEOS - 1):
            store_video(session, report, io.BytesIO(phone_video(seconds=1)), report_files)
        with pytest.raises(InvalidInput):
            store_video(session, report, io.BytesIO(phone_video()), report_files)
        assert videos_of(session, report, released_only=True) == []
        assert len(videos_of(session, report, released_only=False)) == MAX_VIDEOS
        release(session, first, account_service.get(session, admin.username).id)
        assert videos_of(session, report, released_only=True) == [first]
