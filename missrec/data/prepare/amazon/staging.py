"""Output folders that appear whole or not at all, each with a checksum manifest ``<folder>/<folder name>.sha256``.

A builder writes into a hidden temp folder beside the target and renames it into place at the end, so a failed or
interrupted build leaves the previous folder (or none) untouched. Steps that add files to a built folder (images,
features) write each file atomically and then refresh the manifest.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from missrec.data.prepare.checksums import read_manifest, verify_manifest, write_manifest
from missrec.errors import DataError
from missrec.io_utils import write_probe

MANIFEST_SUFFIX = ".sha256"
# write failures that are about the output place, not the data: reported as one line naming the folder
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG}
PROBE_BYTES = 4096


def output_error(folder: str | Path, error: OSError) -> DataError:
    """The one-line error for a folder that cannot take the output (read-only, full, no permission)."""
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(folder) else ""
    return DataError(
        f"{folder}: expected a writable output folder, found {error.strerror or error}{where}. "
        "Fix: free disk space, or pass an output folder on a writable disk"
    )


def ensure_writable(folder: str | Path) -> None:
    """Fail now, before any input is read, if files cannot be written in ``folder`` (or, when it does not exist
    yet, in the nearest folder above it, where it would be created): a read-only disk, a full disk (a
    :data:`PROBE_BYTES` block is written and synced), no permission, or a file in the way."""
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise DataError(f"{folder}: expected an output folder, found a file at {probe}. Fix: pass another folder")
    try:
        write_probe(probe, PROBE_BYTES)
    except OSError as e:
        if e.errno in OUTPUT_ERRNOS:
            raise output_error(folder, e) from None
        raise


@contextlib.contextmanager
def writing_to(folder: str | Path) -> Iterator[None]:
    """Turn a write failure of the output place (:data:`OUTPUT_ERRNOS`) in the body into :func:`output_error`."""
    try:
        yield
    except OSError as e:
        if e.errno in OUTPUT_ERRNOS:
            raise output_error(folder, e) from None
        raise


def manifest_name(name: str) -> str:
    """``<ds>.sha256``: the manifest of dataset folder ``<ds>`` (``sha256sum -c`` reads it)."""
    return f"{name}{MANIFEST_SUFFIX}"


def folder_files(folder: str | Path, name: str | None = None) -> list[Path]:
    """Files a manifest covers: every visible file (or link to one) in ``folder`` except the manifest itself.

    ``name`` is the dataset name (default: the folder's name; a staging folder passes the final one).
    """
    folder = Path(folder)
    skip = manifest_name(name or folder.name)
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name != skip and p.is_file())


def refresh_manifest(folder: str | Path, name: str | None = None) -> dict[str, str]:
    """(Re)write ``<folder>/<name>.sha256`` over :func:`folder_files`."""
    folder = Path(folder)
    name = name or folder.name
    return write_manifest(folder / manifest_name(name), folder_files(folder, name))


def check_folder(folder: str | Path) -> list[str]:
    """Problems found by verifying ``<folder>/<folder name>.sha256`` (empty: every file is listed and matches)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder}: no such folder"]
    manifest = folder / manifest_name(folder.name)
    problems = verify_manifest(manifest)
    if manifest.is_file():
        listed = set(read_manifest(manifest))
        problems += [f"{p}: not listed in {manifest.name}" for p in folder_files(folder) if p.name not in listed]
    return problems


@contextlib.contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty temp folder beside ``target``; on success it replaces ``target``, on error it is removed.

    The caller writes every file (and the manifest) into the yielded folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(staging, 0o755)  # mkdtemp creates 0700; outputs are ordinary shared folders
    try:
        yield staging
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists() and not target.is_symlink():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    if old.is_symlink():
        old.unlink()
    else:
        shutil.rmtree(old, ignore_errors=True)


def carry_over(old: Path, new: Path, same_if: str) -> list[str]:
    """Bring files a later step added to ``old`` (features, image report) into the rebuilt folder ``new``.

    Only when the file ``same_if`` (the ``.item2index``) is byte-identical in both: feature rows are indexed by it,
    so after any change of the item list the old features would be silently misaligned and are dropped instead.

    Returns:
        Names of the files carried over.
    """
    if not (old / same_if).is_file() or (old / same_if).read_bytes() != (new / same_if).read_bytes():
        return []
    carried = []
    for path in folder_files(old, old.name):
        dest = new / path.name
        if dest.exists() or dest.is_symlink():
            continue
        if path.is_symlink():
            os.symlink(os.readlink(path), dest)
        else:
            try:
                os.link(path, dest)  # a hard link: no copy of large feature files
            except OSError:
                shutil.copy2(path, dest)
        carried.append(path.name)
    return carried


def stale_files(old: Path, new: Path) -> list[str]:
    """Files in ``old`` that a rebuild into ``new`` will drop (reported to the user)."""
    if not old.is_dir():
        return []
    kept = {p.name for p in folder_files(new, old.name)}
    return [p.name for p in folder_files(old) if p.name not in kept]
