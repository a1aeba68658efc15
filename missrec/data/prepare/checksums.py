"""SHA-256 manifests of prepared dataset folders: written by every builder, verified by ``--check`` and, for the
files a loader reads, before every load (:func:`check_listed_files`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from missrec.errors import DataError, data_error
from missrec.io_utils import atomic_write_text


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(manifest: str | Path, files: Iterable[str | Path]) -> dict[str, str]:
    """Write ``<sha256>  <file name>`` lines (``sha256sum`` format) for ``files``, sorted by name."""
    manifest = Path(manifest)
    sums = {Path(f).name: sha256_file(f) for f in files}
    atomic_write_text(manifest, "".join(f"{h}  {name}\n" for name, h in sorted(sums.items())))
    return sums


def read_manifest(manifest: str | Path) -> dict[str, str]:
    """Parse a manifest written by :func:`write_manifest`."""
    sums = {}
    for n, line in enumerate(Path(manifest).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{manifest}:{n}: expected '<sha256>  <file>', found {line!r}. Fix: rebuild the folder")
        sums[parts[1]] = parts[0]
    return sums


def verify_manifest(manifest: str | Path, names: Iterable[str] | None = None) -> list[str]:
    """Check the files listed in ``manifest`` (or only ``names``); return one problem per bad file, [] if all good."""
    manifest = Path(manifest)
    if not manifest.is_file():
        return [f"{manifest}: missing checksum manifest"]
    sums = read_manifest(manifest)
    problems = []
    for name in sorted(names if names is not None else sums):
        path = manifest.parent / name
        if name not in sums:
            problems.append(f"{path}: not listed in {manifest.name}")
        elif not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != sums[name]:
            problems.append(f"{path}: checksum differs from {manifest.name}")
    return problems


# files verified in this process, by (path, size, mtime): a second load of an unchanged file is not hashed again
_VERIFIED: dict[tuple[str, int, int], str] = {}


def _digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_file(path)
    return _VERIFIED[key]


def check_listed_files(manifest: str | Path, names: Iterable[str]) -> None:
    """Before loading: each of ``names`` that ``manifest`` lists must exist and match its sha256; one
    :class:`DataError` otherwise. Files the manifest does not list are not checked; no manifest, no check.

    A file cut at a line boundary, or edited, after the build otherwise loads as a smaller or different dataset.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        return
    sums = read_manifest(manifest)
    fix = f"restore the file or rebuild the dataset (for an intended edit, delete {manifest.name})"
    for name in names:
        if name not in sums:
            continue
        path = manifest.parent / name
        if not path.is_file():
            raise data_error(path, f"the file listed in {manifest.name}", "no such file", fix)
        digest = _digest(path)
        if digest != sums[name]:
            raise data_error(path, f"the file listed in {manifest.name} (sha256 {sums[name][:12]}...)",
                             f"sha256 {digest[:12]}... ({path.stat().st_size} bytes): it changed after the build", fix)
