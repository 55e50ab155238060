"""Short videos of reports: checked, copied into a new file without metadata, and shown to
the public only once an official has released them.

A phone's video carries the place it was filmed (QuickTime ``location`` tags, and on some
phones a whole GPS data track), the phone's make and the owner's name. Only the first video
stream and the first audio stream are kept; their packets are copied (not re-encoded, so a
60-second clip is handled in well under a second) into a new MP4 or WebM container that is
written with no container or stream tags, and every other stream (data, subtitles, timed
metadata) is dropped. ``tests/reports/test_videos.py`` reads the stored files back with
PyAV to check. A poster frame is decoded and stored as a JPEG of pixels only.

Unlike a photo, a video cannot have an area covered, so the public sees it only after an
official of the report's organisation has watched it and released it
(:func:`release`); until then the handling officials alone see it.

Decoding stops after the first frame: FFmpeg (in PyAV's wheel) only demuxes the rest.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import av
from PIL import Image
from sqlalchemy import func, select

from tinhso.core.db import utcnow
from tinhso.core.errors import InvalidInput
from tinhso.reports.models import ReportVideo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.storage import FileStore
    from tinhso.reports.models import Report

MAX_VIDEO_BYTES = 30 * 1024 * 1024
MAX_VIDEOS = 2
MAX_SECONDS = 60
MAX_SIDE = 3840  # 4K on its longer side
POSTER_SIDE = 1280
# The codecs browsers play, by the container they are stored in.
MP4_VIDEO = frozenset({"h264", "hevc", "mpeg4", "av1", "vp9"})
MP4_AUDIO = frozenset({"aac", "mp3", "opus"})
WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
WEBM_AUDIO = frozenset({"opus", "vorbis"})
_CONTAINERS = ("mp4", "mov", "matroska", "webm")


def _refuse(vi: str, en: str) -> InvalidInput:
    return InvalidInput(vi, en, field="video")


def _unreadable() -> InvalidInput:
    return _refuse(
        "Tệp không phải video đọc được (MP4, MOV hoặc WebM)",
        "The file is not a readable video (MP4, MOV or WebM)",
    )


@dataclass(frozen=True)
class CleanVideo:
    """A video as it is stored: its bytes, type, size in pixels, length and poster frame."""

    data: bytes
    media_type: str
    suffix: str
    width: int
    height: int
    duration_ms: int
    poster: bytes


def _size_of(source: IO[bytes]) -> int:
    source.seek(0, io.SEEK_END)
    size = source.tell()
    source.seek(0)
    return size


def _output_format(video_codec: str, audio_codec: str | None) -> tuple[str, str, str]:
    """(muxer, media type, file suffix) for the streams, or a refusal naming the codecs."""
    if video_codec in MP4_VIDEO and (audio_codec is None or audio_codec in MP4_AUDIO):
        return "mp4", "video/mp4", ".mp4"
    if video_codec in WEBM_VIDEO and (audio_codec is None or audio_codec in WEBM_AUDIO):
        return "webm", "video/webm", ".webm"
    codecs = video_codec if audio_codec is None else f"{video_codec} + {audio_codec}"
    raise _refuse(
        f"Video mã hoá {codecs} chưa được hỗ trợ; hãy gửi video MP4 (H.264) từ điện thoại",
        f"A video encoded as {codecs} is not supported; send an MP4 (H.264) from a phone",
    )


def _poster(container: av.container.InputContainer) -> bytes:
    for frame in container.decode(video=0):
        image = frame.to_image()  # type: ignore[no-untyped-call]
        image.thumbnail((POSTER_SIDE, POSTER_SIDE))
        pixels_only = Image.new("RGB", image.size)
        pixels_only.paste(image.convert("RGB"))
        output = io.BytesIO()
        pixels_only.save(output, "JPEG", quality=80, optimize=True)
        return output.getvalue()
    raise _unreadable()


def clean_video(source: IO[bytes], scratch: Path) -> CleanVideo:
    """The video's first video and audio streams in a new container with no metadata.

    ``scratch`` is a file the new container is written to first (the MP4 muxer moves its
    index to the front, for playback while downloading, by re-reading the file).
    """
    if _size_of(source) > MAX_VIDEO_BYTES:
        raise _refuse(
            f"Video lớn quá {MAX_VIDEO_BYTES // 1024 // 1024} MB",
            f"A video may be at most {MAX_VIDEO_BYTES // 1024 // 1024} MB",
        )
    try:
        with av.open(source, "r") as container:
            if not any(name in container.format.name.split(",") for name in _CONTAINERS):
                raise _unreadable()
            if not container.streams.video:
                raise _refuse("Tệp không có hình ảnh video", "The file has no video picture")
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            width, height = video.codec_context.width, video.codec_context.height
            if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                raise _refuse(
                    f"Video lớn quá {MAX_SIDE} điểm ảnh mỗi chiều",
                    f"A video may be at most {MAX_SIDE} pixels on each side",
                )
            muxer, media_type, suffix = _output_format(
                video.codec_context.name, audio.codec_context.name if audio else None
            )
            if container.duration is not None and container.duration > MAX_SECONDS * 1_000_000:
                raise _too_long()
            kept = [video] if audio is None else [video, audio]
            end = 0.0
            options = {"movflags": "+faststart"} if muxer == "mp4" else {}
            with av.open(str(scratch), "w", format=muxer, options=options) as output:
                streams = {stream.index: output.add_stream_from_template(stream) for stream in kept}
                for packet in container.demux(*kept):
                    if packet.dts is None:  # the demuxer's flush packet
                        continue
                    if packet.pts is not None and packet.time_base is not None:
                        end = max(
                            end, float((packet.pts + (packet.duration or 0)) * packet.time_base)
                        )
                        if end > MAX_SECONDS + 1:  # a header that lied about the length
                            raise _too_long()
                    packet.stream = streams[packet.stream.index]
                    output.mux(packet)
            if end <= 0:
                raise _unreadable()
            container.seek(0)
            poster = _poster(container)
    except InvalidInput:
        scratch.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError, TypeError) as error:
        scratch.unlink(missing_ok=True)
        raise _unreadable() from error
    data = scratch.read_bytes()
    scratch.unlink(missing_ok=True)
    return CleanVideo(
        data, media_type, suffix, width, height, min(round(end * 1000), MAX_SECONDS * 1000), poster
    )


def _too_long() -> InvalidInput:
    return _refuse(
        f"Video dài quá {MAX_SECONDS} giây", f"A video may be at most {MAX_SECONDS} seconds long"
    )


def store_video(
    session: Session, report: Report, source: IO[bytes], files: FileStore
) -> ReportVideo:
    count = session.scalar(
        select(func.count(ReportVideo.id)).where(ReportVideo.report_id == report.id)
    )
    if (count or 0) >= MAX_VIDEOS:
        raise _refuse(f"Tối đa {MAX_VIDEOS} video", f"At most {MAX_VIDEOS} videos")
    with tempfile.TemporaryDirectory(prefix="tinhso-video-") as folder:
        cleaned = clean_video(source, Path(folder) / f"incoming-{secrets.token_hex(8)}")
    digest = hashlib.sha256(cleaned.data).hexdigest()
    relative = f"reports/videos/{report.id}/{digest[:32]}{cleaned.suffix}"
    poster = f"reports/videos/{report.id}/{digest[:32]}.poster.jpg"
    files.put(relative, cleaned.data)
    files.put(poster, cleaned.poster)
    video = ReportVideo(
        report_id=report.id,
        stored_path=relative,
        poster_path=poster,
        media_type=cleaned.media_type,
        duration_ms=cleaned.duration_ms,
        width=cleaned.width,
        height=cleaned.height,
        size=len(cleaned.data),
        sha256=digest,
    )
    session.add(video)
    session.flush()
    return video


def release(session: Session, video: ReportVideo, user_id: int) -> ReportVideo:
    """An official has watched the video: the public may see it from now on."""
    if video.released_at is None:
        video.released_at = utcnow()
        video.released_by_id = user_id
        session.flush()
    return video


def videos_of(session: Session, report: Report, *, released_only: bool) -> list[ReportVideo]:
    query = select(ReportVideo).where(ReportVideo.report_id == report.id)
    if released_only:
        query = query.where(ReportVideo.released_at.is_not(None))
    return list(session.scalars(query.order_by(ReportVideo.id)))
