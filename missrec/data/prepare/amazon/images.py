"""Item images: check a local folder of ``<asin>.<ext>`` files, or download the metadata URLs into it.

Downloads run in a thread pool with a progress bar and are resumable: a file already present that decodes is
kept; a new one is written atomically under the extension of the format it decodes as, so an interrupted run never
leaves half a file. Network errors, timeouts, truncated bodies and HTTP 408/429/5xx are retried with exponential
backoff; other HTTP errors (404 ...) and bodies that are not images are final.

The report ``<ds>.images.tsv`` lists every item in index order with ``ok``, ``no_url`` (no image in the metadata),
``missing`` (no local file and no download asked), ``unreadable`` (a local file that does not decode) or
``failed`` plus the reason. Items that are not ``ok`` get all-zero image feature rows.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from missrec.data.prepare.amazon.folder import BenchmarkFolder
from missrec.data.prepare.amazon.staging import ensure_writable, refresh_manifest
from missrec.encoders.images import FORMAT_EXTENSIONS, IMAGE_EXTENSIONS, find_image, image_format
from missrec.io_utils import atomic_open, atomic_write_bytes

REPORT_HEADER = "item_id:token\tstatus:token\tdetail:token_seq\n"
USER_AGENT = "missrec-image-fetch/1.0"


@dataclass(frozen=True)
class DownloadPolicy:
    """How hard to try: ``retries`` extra attempts after the first, sleeping ``backoff * 2**attempt`` seconds."""

    workers: int = 16
    retries: int = 3
    backoff: float = 1.0
    timeout: float = 30.0


class _Transient(Exception):
    """A failure worth retrying."""


def collect_images(
    folder: str | Path,
    image_dir: str | Path,
    download: bool = False,
    policy: DownloadPolicy = DownloadPolicy(),
    show_progress: bool = True,
) -> dict[str, int]:
    """Make sure ``image_dir`` holds a decodable image for as many items of ``folder`` as possible; write the report.

    Returns:
        Counts: ``ok``, ``no_url``, ``missing``, ``unreadable``, ``failed`` (report statuses, they sum to the number
        of items) plus ``downloaded`` (fetched in this run) and ``kept`` (already present and valid).
    """
    bench = BenchmarkFolder(folder)
    image_dir = Path(image_dir)
    ensure_writable(bench.path)  # the report; before every image is decoded
    if download:
        ensure_writable(image_dir)
    item_ids = bench.item_ids()
    urls = bench.image_urls(item_ids)
    image_dir.mkdir(parents=True, exist_ok=True)

    workers = max(1, policy.workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # decoding every present file is the slow part
        valid = list(tqdm(pool.map(lambda asin: _valid_local(image_dir, asin), item_ids), total=len(item_ids),
                          desc="checking images", unit=" img", disable=not show_progress))
    status: dict[str, tuple[str, str]] = {}
    todo: list[tuple[str, str]] = []
    for asin, url, ok in zip(item_ids, urls, valid, strict=True):
        present = find_image(image_dir, asin)
        if ok:
            status[asin] = ("ok", "")
        elif download and url:
            todo.append((asin, url))
        elif present is not None:
            status[asin] = ("unreadable", present.name)
        else:
            status[asin] = ("missing", "") if url else ("no_url", "")
    status.update(_download(todo, image_dir, policy, show_progress))

    with atomic_open(bench.file("images.tsv")) as f:
        f.write(REPORT_HEADER)
        for asin in item_ids:
            state, detail = status[asin]
            f.write(f"{asin}\t{state}\t{detail}\n")
    refresh_manifest(bench.path)
    counts = Counter(state for state, _ in status.values())
    summary = {k: counts.get(k, 0) for k in ("ok", "no_url", "missing", "unreadable", "failed")}
    summary["downloaded"] = sum(1 for asin, _ in todo if status[asin][0] == "ok")
    summary["kept"] = sum(valid)
    return summary


def _download(
    todo: list[tuple[str, str]], image_dir: Path, policy: DownloadPolicy, show_progress: bool
) -> dict[str, tuple[str, str]]:
    """Fetch ``(asin, url)`` pairs in parallel; on Ctrl-C the queued ones are cancelled (finished files are whole)."""
    status: dict[str, tuple[str, str]] = {}
    if not todo:
        return status
    pool = ThreadPoolExecutor(max_workers=max(1, policy.workers))
    try:
        futures = {pool.submit(fetch_image, url, image_dir, asin, policy): asin for asin, url in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc="downloading images", unit=" img",
                           disable=not show_progress):
            status[futures[future]] = future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return status


def _valid_local(image_dir: Path, asin: str) -> bool:
    path = find_image(image_dir, asin)
    return path is not None and image_format(path.read_bytes()) is not None


def fetch_image(url: str, image_dir: Path, asin: str, policy: DownloadPolicy) -> tuple[str, str]:
    """Download one image to ``<image_dir>/<asin>.<ext>``. Returns ``("ok", "")`` or ``("failed", reason)``."""
    if not url.startswith(("http://", "https://")):
        return "failed", "not an http(s) URL"
    reason = ""
    for attempt in range(policy.retries + 1):
        if attempt:
            time.sleep(policy.backoff * 2 ** (attempt - 1))
        try:
            data = _get(url, policy.timeout)
        except _Transient as e:
            reason = str(e)
            continue
        except urllib.error.HTTPError as e:
            return "failed", f"HTTP {e.code}"
        fmt = image_format(data)
        if fmt is None:
            return "failed", "not a decodable image"
        ext = FORMAT_EXTENSIONS.get(fmt, IMAGE_EXTENSIONS[0])
        for stale in IMAGE_EXTENSIONS:  # an undecodable leftover under another extension would be found first
            if stale != ext and (image_dir / f"{asin}{stale}").is_file():
                os.unlink(image_dir / f"{asin}{stale}")
        atomic_write_bytes(image_dir / f"{asin}{ext}", data)
        return "ok", ""
    return "failed", f"{reason} (after {policy.retries + 1} attempts)"


def _get(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        if e.code in (408, 429) or e.code >= 500:
            raise _Transient(f"HTTP {e.code}") from None
        raise
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError, OSError) as e:
        raise _Transient(type(e).__name__) from None
