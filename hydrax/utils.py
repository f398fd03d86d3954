"""Small shared utilities."""

from __future__ import annotations

import os
from pathlib import Path

import jax


def enable_compilation_cache(path: str | Path | None = None) -> Path:
    """Keep compiled XLA programs on disk so later runs skip compiling.

    Controllers and training steps take seconds to compile on a CPU; with the
    cache a second run of the same configuration loads them instead. The
    directory is ``$HYDRAX_JAX_CACHE`` or ``~/.cache/hydrax/jax`` unless
    given.

    Args:
        path: The cache directory.

    Returns:
        The directory used.
    """
    default = Path.home() / ".cache" / "hydrax" / "jax"
    path = Path(path or os.environ.get("HYDRAX_JAX_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
