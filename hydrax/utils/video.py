"""Upstream's ``VideoRecorder``, and the animated-GIF writer of the project.

``VideoRecorder`` keeps upstream hydrax's constructor and methods (``start``,
``add_frame`` of raw RGB bytes, ``stop``, ``video_path``,
``is_recording``). With ``ffmpeg`` on the path it writes an H.264 MP4 as
upstream does; without it, where upstream disables recording, it writes an
animated GIF with Pillow, so a script that records still gets its video.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    first, *rest = frames
    first.save(
        tmp,
        format="GIF",
        save_all=True,
        append_images=rest,
        duration=round(1000.0 / fps),
        loop=0,
    )
    os.replace(tmp, path)
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

    def start(self) -> bool:
        """Start a new video, ``simulation_<date>_<time>.mp4`` (or ``.gif``).

        Returns:
            True (recording has started, or was already under way).
        """
        if self.is_recording:
            print("Warning: Recording already in progress")
            return True
        os.makedirs(self.output_dir, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
        ffmpeg = shutil.which("ffmpeg")
        suffix = ".mp4" if ffmpeg else ".gif"
        self.video_path = os.path.join(
            self.output_dir, f"simulation_{stamp}{suffix}"
        )
        if ffmpeg:
            self.ffmpeg_process = subprocess.Popen(
                [
                    ffmpeg,
                    "-y",
                    "-loglevel",
                    "error",
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "rgb24",
                    "-s",
                    f"{self.width}x{self.height}",
                    "-r",
                    str(self.fps),
                    "-i",
                    "-",
                    "-an",
                    "-vcodec",
                    "h264",
                    "-pix_fmt",
                    "yuv420p",
                    "-movflags",
                    "+faststart",
                    self.video_path,
                ],
                stdin=subprocess.PIPE,
            )
        self._frames = []
        self.is_recording = True
        print(f"Recording video to {self.video_path}")
        return True

    def add_frame(self, frame: bytes | np.ndarray) -> bool:
        """Add one frame: ``height × width × 3`` RGB bytes (or a uint8 array).

        Returns:
            True if the frame was added, False when not recording or the
            encoder has stopped.

        Raises:
            ValueError: if the frame is not ``height × width × 3`` bytes.
        """
        if not self.is_recording:
            return False
        data = frame.tobytes() if isinstance(frame, np.ndarray) else frame
        expected = self.width * self.height * 3
        if len(data) != expected:
            raise ValueError(
                f"a frame of {len(data)} bytes; a {self.width}x{self.height} "
                f"RGB frame has {expected}"
            )
        if self.ffmpeg_process is None:
            image = Image.frombytes("RGB", (self.width, self.height), data)
            self._frames.append(image.quantize(colors=255))
            return True
        try:
            self.ffmpeg_process.stdin.write(data)
            return True
        except (BrokenPipeError, OSError):
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
            return False
        self.is_recording = False
        if self.ffmpeg_process is not None:
            process, self.ffmpeg_process = self.ffmpeg_process, None
            process.stdin.close()
            if process.wait() != 0:
                print(f"Warning: ffmpeg failed writing {self.video_path}")
                return False
        elif self._frames:
            write_gif(self._frames, self.video_path, self.fps)
            self._frames = []
        else:
            print("Warning: no frames were added; no video written")
            return False
        print(f"Video saved to {self.video_path}")
        return True
