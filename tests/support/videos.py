"""Short test videos made with PyAV, carrying what a phone puts in one: the place it was
filmed, the owner's name and a stream title."""

from __future__ import annotations

import io
from fractions import Fraction
from typing import cast

import av
import numpy as np

PLACE = "+21.2731+106.1946/"
OWNER = "Nguyen Van An"


def phone_video(
    *,
    seconds: float = 2,
    muxer: str = "mp4",
    video_codec: str = "mpeg4",
    audio_codec: str | None = "aac",
    width: int = 64,
    height: int = 48,
) -> bytes:
    output = io.BytesIO()
    with av.open(output, "w", format=muxer) as container:
        container.metadata.update({"location": PLACE, "artist": OWNER})
        video = cast("av.VideoStream", container.add_stream(video_codec, rate=10))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.metadata["title"] = "secret title"
        audio = (
            cast("av.AudioStream", container.add_stream(audio_codec, rate=48000))
            if audio_codec
            else None
        )
        for number in range(round(10 * seconds)):
            pixels = np.full((height, width, 3), (number * 10) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            samples = 1024
            for number in range(round(seconds * 48000 / samples)):
                sound = av.AudioFrame.from_ndarray(
                    np.zeros((1, samples), np.float32), format="fltp", layout="mono"
                )
                sound.sample_rate = 48000
                sound.pts = number * samples
                sound.time_base = Fraction(1, 48000)
                container.mux(audio.encode(sound))
            container.mux(audio.encode(None))
    return output.getvalue()
