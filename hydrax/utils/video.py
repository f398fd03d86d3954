"""Upstream's ``VideoRecorder``, and the animated-GIF writer of the project.

``VideoRecorder`` keeps upstream hydrax's constructor and methods (``start``,
``add_frame`` of raw RGB bytes, ``stop``, ``video_path``,
``is_recording``). With ``ffmpeg`` on the path it writes an H.264 MP4 as
upstream does; without it, where upstream disables recording, it writes an
animated GIF with Pillow, so a script that records still gets its video.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from hydrax.atomic import atomic_path


def gif_stride(fps: float) -> int:
    """Every how many frames a GIF at ``fps`` keeps one.

    A GIF's frame delay is in hundredths of a second, and players show
    delays under 20 ms slower: above 50 fps every k-th frame is kept.
    """
    return math.ceil(fps / 50.0)


def write_gif(
    frames: Sequence[Image.Image], path: str | Path, fps: float
) -> Path:
    """Write frames as an animated GIF, atomically (a temporary file, renamed).

    Args:
        frames: The frames, in order.
        path: The output file.
        fps: Frames per second.

    Returns:
        The path written.

    Raises:
        ValueError: if there are no frames.
    """
    path = Path(path)
    if not frames:
        raise ValueError(f"no frames to write to {path}")
    step = gif_stride(fps)
    frames, fps = frames[::step], fps / step
    first, *rest = frames
    with atomic_path(path) as tmp:  # its folder made; no partial file left
        first.save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=rest,
            duration=round(1000.0 / fps),
            loop=0,
        )
    return path


class VideoRecorder:
    """Record raw RGB frames to a video file (MP4 with ffmpeg, else GIF)."""

    def __init__(
        self,
        output_dir: str | Path,
        width: int = 720,
        height: int = 480,
        fps: float = 30.0,
    ) -> None:
        """Set the output folder and the frames' size.

        Args:
            output_dir: The folder the video goes to (made if missing).
            width: Frame width in pixels.
            height: Frame height in pixels.
            fps: Frames per second.
        """
        if width < 1 or height < 1:
            raise ValueError(f"bad frame size {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.output_dir = str(output_dir)
        self.width = width
        self.height = height
        self.fps = fps
        self.ffmpeg_process: subprocess.Popen | None = None
        self.video_path: str | None = None
        self.is_recording = False
        self._frames: list[Image.Image] = []
        self._offered = 0  # frames given since start()
        self._stride = gif_stride(fps)

    def start(self) -> bool:
        """Start a new video, ``simulation_<date>_<time>.mp4`` (or ``.gif``).

        Returns:
            True (recording has started, or was already under way).
        """
        if self.is_recording:
            print("Warning: Recording already in progress")
            return True
        self._finish_encoder()  # one left by a failed write
        os.makedirs(self.output_dir, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
        path = os.path.join(self.output_dir, f"simulation_{stamp}")
        self.ffmpeg_process = _start_ffmpeg(
            path + ".mp4", self.width, self.height, self.fps
        )
        gif = self.ffmpeg_process is None
        self.video_path = path + (".gif" if gif else ".mp4")
        self._frames, self._offered = [], 0
        self.is_recording = True
        if gif:
            print(
                "No working ffmpeg with an H.264 encoder on the path: "
                "writing an animated GIF"
            )
        print(f"Recording video to {self.video_path}")
        return True

    def add_frame(self, frame: bytes | memoryview | np.ndarray) -> bool:
        """Add one frame: ``height × width × 3`` RGB bytes (or a uint8 array).

        Returns:
            True if the frame was added, False when not recording or the
            encoder has stopped.

        Raises:
            ValueError: if the frame is not ``height × width × 3`` bytes.
        """
        if not self.is_recording:
            return False
        if isinstance(frame, np.ndarray):
            data = memoryview(np.ascontiguousarray(frame, np.uint8)).cast("B")
        else:
            data = memoryview(frame).cast("B")
        expected = self.width * self.height * 3
        if data.nbytes != expected:
            raise ValueError(
                f"a frame of {data.nbytes} bytes; a {self.width}x"
                f"{self.height} RGB frame has {expected}"
            )
        if self.ffmpeg_process is None:
            # Frames the GIF would drop are not kept (see gif_stride).
            self._offered += 1
            if (self._offered - 1) % self._stride:
                return True
            size = (self.width, self.height)
            image = Image.frombytes("RGB", size, bytes(data))
            # The fast octree palette: ~2 ms a 720x480 frame, where the
            # default median cut takes ~100 ms (a frame per plant step).
            self._frames.append(
                image.quantize(colors=255, method=Image.Quantize.FASTOCTREE)
            )
            return True
        try:
            self.ffmpeg_process.stdin.write(data)
            return True
        except OSError:  # BrokenPipeError: ffmpeg has stopped
            print("Warning: Failed to write frame to video")
            self.is_recording = False
            return False

    def stop(self) -> bool:
        """Finish the video.

        Returns:
            True if a video was written, False if none was being recorded
            or it could not be finished.
        """
        if not self.is_recording:
            self._finish_encoder()
            return False
        self.is_recording = False
        if self.ffmpeg_process is not None:
            if not self._finish_encoder():
                print(f"Warning: ffmpeg failed writing {self.video_path}")
                return False
        elif self._frames:
            kept = self.fps / self._stride
            write_gif(self._frames, self.video_path, kept)
            self._frames = []
        else:
            print("Warning: no frames were added; no video written")
            return False
        print(f"Video saved to {self.video_path}")
        return True

    def _finish_encoder(self) -> bool:
        """Close ffmpeg's input and wait for it; whether it succeeded."""
        process, self.ffmpeg_process = self.ffmpeg_process, None
        if process is None:
            return False
        try:
            process.stdin.close()
        except OSError:  # it had stopped: its unread input is lost
            pass
        return process.wait() == 0


def _start_ffmpeg(
    path: str, width: int, height: int, fps: float
) -> subprocess.Popen | None:
    """An ffmpeg writing H.264 to ``path`` from raw RGB on its input.

    None when there is no working ffmpeg on the path, or one without an
    H.264 encoder (``ffmpeg -encoders`` lists none; some builds lack it).
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    try:
        encoders = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"],
            capture_output=True,
            check=True,
            timeout=30,
            text=True,
        ).stdout
        if "H.264" not in encoders:
            return None
        return subprocess.Popen(
            [ffmpeg, "-y", "-loglevel", "error",
             "-f", "rawvideo", "-pix_fmt", "rgb24",
             "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-an",
             "-vcodec", "h264", "-pix_fmt", "yuv420p",
             "-movflags", "+faststart", path],
            stdin=subprocess.PIPE,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
