"""Offscreen recording of a MuJoCo simulation to an animated GIF.

Rendering needs an OpenGL context. ``mujoco.Renderer`` takes the backend
``MUJOCO_GL`` named when ``mujoco`` was first imported (``import hydrax``
sets ``egl`` when there is no display and ``MUJOCO_GL`` is unset); when
that backend is GLFW and there is no display (``mujoco`` was imported
first) an EGL context is made directly. EGL needs
the system packages ``libegl1`` and a driver such as ``libegl-mesa0``
(Debian/Ubuntu) or a GPU's. Frames are written with Pillow (no ffmpeg).
"""

from __future__ import annotations

import os
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image

from hydrax.utils import has_display
from hydrax.utils.video import write_gif


class GifRecorder:
    """Render frames of an ``MjData`` at a fixed simulated frame rate."""

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        fps: float = 30.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        """Create the offscreen renderer.

        Args:
            mj_model: The model to render (its offscreen buffer is enlarged
                to the frame size when smaller).
            fps: Frames per simulated second.
            width: Frame width in pixels.
            height: Frame height in pixels.

        Raises:
            RuntimeError: if no OpenGL context can be made (see the module
                docstring for the system packages).
        """
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if width < 1 or height < 1:
            raise ValueError(f"bad frame size {width}x{height}")
        vis = mj_model.vis.global_
        vis.offwidth = max(vis.offwidth, width)
        vis.offheight = max(vis.offheight, height)
        try:
            if _glfw_without_display():
                # GLFW cannot open its hidden window; trying it first can
                # leave the process unable to make any context.
                self.renderer = _EGLRenderer(mj_model, width, height)
            else:
                self.renderer = mujoco.Renderer(mj_model, height, width)
        except Exception as err:  # MuJoCo's FatalError, EGL's errors
            raise RuntimeError(
                "cannot render offscreen: need EGL (system packages "
                "libegl1 and libegl-mesa0, or a GPU driver's EGL); "
                f"MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: {err}"
            ) from err
        self.fps = fps
        self.frames: list[Image.Image] = []
        self._next_time = 0.0
        self._root, self._reach = _framing(mj_model)
        self._model = mj_model

    def maybe_capture(
        self,
        data: mujoco.MjData,
        camera: int | mujoco.MjvCamera = -1,
    ) -> None:
        """Render a frame if one is due at ``data.time``.

        Args:
            data: The state to render.
            camera: A fixed camera id, a viewer's camera, or -1 (free).
        """
        if data.time + 1e-9 < self._next_time:
            return
        if isinstance(camera, int) and camera < 0:
            camera = self._follow(data)
        self.renderer.update_scene(data, camera=camera)
        frame = np.asarray(self.renderer.render())
        # A palette image is ~3x smaller than RGB; GIFs store one anyway.
        self.frames.append(Image.fromarray(frame).quantize(colors=255))
        # On a fixed grid, so the average rate is fps whatever the timestep.
        while self._next_time <= data.time + 1e-9:
            self._next_time += 1.0 / self.fps

    def _follow(self, data: mujoco.MjData) -> mujoco.MjvCamera:
        """The free camera, on the moving root body with its reach in view.

        Where the MJCF sets its own view (``<visual><global azimuth
        elevation>``), MuJoCo's default free camera of that view.
        """
        cam = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(self._model, cam)
        if self._root is not None:
            cam.lookat[:] = data.xpos[self._root]
            cam.distance = 3.2 * self._reach  # fovy 45°: ±1.3 reach in view
            cam.elevation = -20.0
        return cam

    def save(self, path: str | Path) -> Path:
        """Write the frames as an animated GIF (atomically).

        Args:
            path: The output file (``.gif``).

        Returns:
            The path written.
        """
        return write_gif(self.frames, path, self.fps)

    def close(self) -> None:
        """Free the renderer."""
        self.renderer.close()


def _framing(mj_model: mujoco.MjModel) -> tuple[int | None, float]:
    """The body a free camera follows, and how far the model reaches from it.

    The body is the world's one child with joints (a pendulum's pole about
    its pivot, a cart, a floating base); the reach is the farthest geom
    surface of its subtree from it in the default pose, so a pole keeps in
    view upright as hanging. None (MuJoCo's default free camera): the MJCF
    sets its own view (an azimuth or elevation other than MuJoCo's 90,
    -45), or the world has no or several moving subtrees (a robot and a
    free object, a fixed-base arm), where following one would lose the
    rest.
    """
    view = mj_model.vis.global_
    roots = [
        b
        for b in range(1, mj_model.nbody)
        if mj_model.body_parentid[b] == 0 and mj_model.body_jntnum[b] > 0
    ]
    if (view.azimuth, view.elevation) != (90.0, -45.0) or len(roots) != 1:
        return None, 0.0
    [root] = roots
    data = mujoco.MjData(mj_model)
    mujoco.mj_forward(mj_model, data)
    reach = [
        np.linalg.norm(data.geom_xpos[g] - data.xpos[root])
        + mj_model.geom_rbound[g]
        for g in range(mj_model.ngeom)
        if mj_model.body_rootid[mj_model.geom_bodyid[g]] == root
    ]
    return root, float(max(reach, default=mj_model.stat.extent))


def _glfw_without_display() -> bool:
    """Whether mujoco.Renderer would use GLFW where no display exists."""
    from mujoco.rendering.classic import gl_context

    backend = getattr(gl_context, "GLContext", None)
    return not has_display() and "glfw" in getattr(backend, "__module__", "")


class _EGLRenderer:
    """A minimal offscreen renderer on an EGL context of its own."""

    def __init__(
        self, mj_model: mujoco.MjModel, width: int, height: int
    ) -> None:
        from mujoco.egl import GLContext

        self._context = GLContext(width, height)
        self._context.make_current()
        self._model = mj_model
        self._scene = mujoco.MjvScene(mj_model, maxgeom=10000)
        self._option = mujoco.MjvOption()
        self._perturb = mujoco.MjvPerturb()
        self._mjr = mujoco.MjrContext(
            mj_model, mujoco.mjtFontScale.mjFONTSCALE_150
        )
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._mjr)
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._pixels = np.zeros((height, width, 3), np.uint8)

    def update_scene(
        self, data: mujoco.MjData, camera: int | mujoco.MjvCamera = -1
    ) -> None:
        if isinstance(camera, mujoco.MjvCamera):
            cam = camera
        else:
            cam = mujoco.MjvCamera()
            mujoco.mjv_defaultFreeCamera(self._model, cam)
            if camera >= 0:
                cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
                cam.fixedcamid = camera
        mujoco.mjv_updateScene(
            self._model,
            data,
            self._option,
            self._perturb,
            cam,
            mujoco.mjtCatBit.mjCAT_ALL,
            self._scene,
        )

    def render(self) -> np.ndarray:
        self._context.make_current()
        mujoco.mjr_render(self._rect, self._scene, self._mjr)
        mujoco.mjr_readPixels(self._pixels, None, self._rect, self._mjr)
        return np.flipud(self._pixels).copy()

    def close(self) -> None:
        self._mjr.free()
        self._context.free()
