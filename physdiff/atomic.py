"""The one atomic writer: files and folders appear complete or not at all.

Everything physdiff writes (datasets and their shards, checkpoints, model and baseline
folders, results, reports, figures, logs) goes through here: it is written under a
temporary sibling name ``<name>.tmp-<pid>-<n>`` and moved into place with ``os.replace``.

* **Permissions follow the umask.** Temporary files and folders are created with plain
  ``open``/``mkdir`` (not ``mkstemp``/``mkdtemp``, whose 0600/0700 modes would survive the
  rename), and before the rename every entry is given the mode a new file or folder gets
  under the umask (some writers, safetensors among them, create 0600 files), so results
  are as readable as any other file the user makes.
* **Leftovers are cleaned.** A process killed mid-write leaves its temporary entry behind;
  :func:`clean_stale` (run by the next writer in that folder) removes those whose process is
  gone, and never touches another live process's work.
* **Folders are swapped**: an existing folder is renamed aside, the new one renamed into
  place, then the old one removed, so a reader sees the old or the new folder, never a mix.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

__all__ = ["temp_sibling", "atomic_file", "atomic_dir", "write_text", "replace_path",
           "remove_path", "clean_stale"]

_COUNTER = itertools.count()
_STALE = re.compile(r"\.(?:tmp|old)-(\d+)(?:-\d+)?$")


def temp_sibling(path: str | os.PathLike, kind: str = "tmp") -> Path:
    """A fresh temporary name next to ``path``: ``<name>.<kind>-<pid>-<n>``.

    Examples
    --------
    >>> temp_sibling("out/data.nc").name.startswith("data.nc.tmp-")
    True
    """
    path = Path(path)
    return path.with_name(f"{path.name}.{kind}-{os.getpid()}-{next(_COUNTER)}")


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or unknowable): leave it
    return True


def clean_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary entries in ``folder`` left by writers that no longer run.

    Returns the removed paths.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = open(f"{d}/x.nc.tmp-999999999-0", "w").close()
    ...     [p.name for p in clean_stale(d)]
    ['x.nc.tmp-999999999-0']
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        m = _STALE.search(entry.name)
        if m and not _alive(int(m.group(1))):
            remove_path(entry)
            removed.append(entry)
    return removed


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _apply_umask(path: Path) -> None:
    """Give ``path`` (and, for a folder, everything in it) the modes the umask implies."""
    mask = _umask()
    entries = [path] + (list(path.rglob("*")) if path.is_dir() else [])
    for entry in entries:
        if entry.is_symlink():
            continue
        entry.chmod((0o777 if entry.is_dir() else 0o666) & ~mask)


def replace_path(tmp: Path, path: Path) -> None:
    """Move ``tmp`` onto ``path``: a file atomically, a folder by swap (see module doc)."""
    if path.exists() and not path.is_symlink() and (path.is_dir() or tmp.is_dir()):
        old = temp_sibling(path, "old")
        os.replace(path, old)
        os.replace(tmp, path)
        remove_path(old)
    else:
        os.replace(tmp, path)


@contextmanager
def _into_place(path: str | os.PathLike, folder: bool) -> Iterator[Path]:
    """A temporary sibling of ``path`` (a fresh folder when ``folder``), moved into place
    with the umask's modes on success and removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent)
    tmp = temp_sibling(path)
    if folder:
        tmp.mkdir()
    try:
        yield tmp
        _apply_umask(tmp)
        replace_path(tmp, path)
    finally:
        remove_path(tmp)


def atomic_file(path: str | os.PathLike) -> AbstractContextManager[Path]:
    """A context manager yielding a temporary path to write; on success it replaces ``path``.

    On an error the temporary file is removed and ``path`` is left as it was. The writer may
    also make a folder there (a zarr store): it replaces ``path`` the same way.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with atomic_file(f"{d}/a.txt") as tmp:
    ...         _ = tmp.write_text("done")
    ...     open(f"{d}/a.txt").read()
    'done'
    """
    return _into_place(path, folder=False)


def atomic_dir(path: str | os.PathLike) -> AbstractContextManager[Path]:
    """A context manager yielding a fresh temporary folder to fill; on success it replaces
    the folder ``path``.

    The folder is made with ``mkdir`` (mode from the umask). An existing ``path`` is swapped
    out only once the new folder is complete.
    """
    return _into_place(path, folder=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
