"""Atomic file writes and Ctrl-C guards: a reader never sees a partial file.

Every writer here puts its bytes into a temporary file beside the target,
flushes and (by default) fsyncs it, then renames it over the target
(``os.replace`` is atomic on POSIX and Windows). On any error, the temporary
file is deleted and the target is left as it was. This module imports
nothing from hydrax, so every layer may use it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_deferring: list[Any] = []  # the received signals of the outermost block


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block is done (main thread only).

    Blocks nest: an inner block defers to the outermost one, so a Ctrl-C
    that arrives inside any of them is raised once, when the outermost
    block ends. A caller can thus make "write a file, then record it" one
    step that Ctrl-C cannot split, even though the write defers on its own.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _deferring:  # nested: the outermost block raises
        yield
        return
    received: list[Any] = []
    _deferring.append(received)
    previous = signal.signal(signal.SIGINT, lambda *a: received.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _deferring.pop()
        if received:
            raise KeyboardInterrupt


_kept: list[list[int]] = []  # the signals received by each open block


@contextmanager
def sigint_kept() -> Iterator[None]:
    """Ctrl-C raises as usual, and is kept until the block ends.

    A ``KeyboardInterrupt`` that arrives while a finalizer (``__del__``)
    runs is printed and swallowed by Python, so a loop would go on as if
    Ctrl-C had never been pressed. Inside the block
    :func:`raise_kept_sigint` raises it again (a loop calls it at each
    step), and the block raises it when it ends. Where SIGINT is ignored (a
    job started with ``nohup``) or off the main thread nothing changes.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    received: list[int] = []

    def note(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note)
    _kept.append(received)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _kept.pop()
    if received:  # the block ended normally: the Ctrl-C was swallowed
        raise KeyboardInterrupt


def raise_kept_sigint() -> None:
    """Raise the Ctrl-C that the innermost :func:`sigint_kept` received.

    Raised once: the block's end does not raise it again.
    """
    if _kept and _kept[-1]:
        _kept[-1].clear()
        raise KeyboardInterrupt


@contextmanager
def atomic_path(path: str | Path, fsync: bool = True) -> Iterator[Path]:
    """A temporary path to write; on success it replaces ``path``.

    The directory of ``path`` is created. The caller writes the temporary
    file by any means (e.g. a library that takes a path); when the block
    ends without an error the file is fsynced and renamed over ``path``,
    otherwise it is deleted. Ctrl-C is held until the rename is done.

    Args:
        path: The target file.
        fsync: Flush the file to the disk before the rename, so that even a
            power loss leaves the old or the new file. Without it a crash of
            the process still cannot leave a partial file (the rename is
            atomic); that costs ~3 ms less per file, which matters when
            writing many small logs.

    Yields:
        The temporary file's path (a hidden ``.<name>.<random>.tmp`` beside
        the target).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sigint_deferred():
        tmp = _new_temporary(path)
        try:
            yield tmp
            if fsync:
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _new_temporary(path: Path) -> Path:
    """Create an empty, unique temporary file beside ``path``.

    Unlike ``tempfile.mkstemp`` (mode 0600), the file gets the usual
    permissions (0666 less the umask), which the renamed target keeps.
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path}: no free temporary name beside it")


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: object) -> Path:
    """Write ``obj`` as indented JSON (and a newline) atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2) + "\n")
