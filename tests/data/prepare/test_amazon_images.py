"""Item images: local folder check, and downloads from a local HTTP server (retries, resume, 404, corrupt, report)."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from missrec.data.prepare.amazon.build import build_category
from missrec.data.prepare.amazon.cli import main
from missrec.data.prepare.amazon.images import DownloadPolicy, collect_images, fetch_image
from missrec.data.prepare.amazon.staging import check_folder

pytest.importorskip("PIL")

try:
    from . import amazon_fixtures as fx
except ImportError:
    import amazon_fixtures as fx

FAST = DownloadPolicy(workers=4, retries=2, backoff=0.01, timeout=5)


def _report(folder: Path) -> list[str]:
    return (folder / f"{folder.name}.images.tsv").read_text().splitlines()


def _build(raw: Path, out: Path) -> Path:
    folder = out / "Alpha_mm_full"
    build_category(raw / f"{fx.ALPHA}_5.json", raw / f"meta_{fx.ALPHA}.json", folder, show_progress=False)
    return folder


def test_local_folder_report(tmp_path):
    folder = _build(fx.write_raw(tmp_path / "raw"), tmp_path / "out")
    images = fx.write_alpha_images(tmp_path / "images")
    summary = collect_images(folder, images, show_progress=False)
    assert summary == {"ok": 5, "no_url": 2, "missing": 2, "unreadable": 1, "failed": 0, "downloaded": 0, "kept": 5}
    assert _report(folder) == [
        "item_id:token\tstatus:token\tdetail:token_seq",
        "P00\tok\t", "P01\tok\t", "P02\tno_url\t", "P03\tok\t", "P04\tok\t", "P05\tok\t",
        "P06\tno_url\t", "P07\tunreadable\tP07.jpg", "P08\tmissing\t", "P09\tmissing\t",
    ]
    assert check_folder(folder) == []


class _Server:
    """Serves fixture images on 127.0.0.1; counts requests per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.flaky: dict[str, int] = {}  # path -> number of 503s before it succeeds
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.hits[self.path] += 1
                if server.flaky.get(self.path, 0) >= server.hits[self.path]:
                    status, body = 503, b"busy"
                else:
                    status, body = server.routes.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_retries_resumes_and_reports(tmp_path):
    with _Server() as server:
        folder = _build(fx.write_raw(tmp_path / "raw", image_base=server.base), tmp_path / "out")
        server.routes = {
            "/P00.png": (200, fx.png_bytes((255, 0, 0))),
            "/P01.jpg": (200, fx.png_bytes((0, 255, 0), fmt="JPEG")),
            "/P03.jpg": (200, fx.png_bytes((0, 0, 255))),  # a PNG behind a .jpg URL: saved as .png
            # /P04.jpg: 404
            "/P05.jpg": (200, b"<html>not an image</html>"),
            "/P07.jpg": (200, fx.png_bytes((1, 2, 3), fmt="JPEG")),
            "/P08.jpg": (200, fx.png_bytes((4, 5, 6), fmt="JPEG")),
            "/P09.jpg": (500, b"down"),
        }
        server.flaky = {"/P03.jpg": 2}  # two 503s, then the image
        images = tmp_path / "images"
        summary = collect_images(folder, images, download=True, policy=FAST, show_progress=False)
        assert summary == {"ok": 5, "no_url": 2, "missing": 0, "unreadable": 0, "failed": 3, "downloaded": 5, "kept": 0}
        assert server.hits["/P03.jpg"] == 3 and server.hits["/P09.jpg"] == 3 and server.hits["/P04.jpg"] == 1
        assert server.hits["/P05.jpg"] == 1  # not an image: final, not retried
        report = _report(folder)
        assert report[1:] == [
            "P00\tok\t", "P01\tok\t", "P02\tno_url\t", "P03\tok\t", "P04\tfailed\tHTTP 404",
            "P05\tfailed\tnot a decodable image", "P06\tno_url\t", "P07\tok\t", "P08\tok\t",
            "P09\tfailed\tHTTP 500 (after 3 attempts)",
        ]
        assert sorted(p.name for p in images.iterdir()) == ["P00.png", "P01.jpg", "P03.png", "P07.jpg", "P08.jpg"]

        # resume: nothing valid is fetched again; only the failed ones are retried; same report bytes
        before = (folder / "Alpha_mm_full.images.tsv").read_bytes()
        hits = Counter(server.hits)
        summary = collect_images(folder, images, download=True, policy=FAST, show_progress=False)
        assert (summary["downloaded"], summary["kept"], summary["failed"]) == (0, 5, 3)
        assert server.hits - hits == Counter({"/P04.jpg": 1, "/P05.jpg": 1, "/P09.jpg": 3})
        assert (folder / "Alpha_mm_full.images.tsv").read_bytes() == before

        # the server recovers: a third run fetches P09 only; a corrupt leftover is replaced
        server.routes["/P09.jpg"] = (200, fx.png_bytes((7, 8, 9), fmt="JPEG"))
        (images / "P07.jpg").write_bytes(b"truncated")
        assert main(["images", "--folder", str(folder), "--image-dir", str(images), "--download",
                     "--backoff", "0.01", "--retries", "0"]) == 0
        assert "P09\tok\t" in _report(folder) and "P07\tok\t" in _report(folder)
        assert server.hits["/P07.jpg"] == 2
        assert check_folder(folder) == []


def test_fetch_refuses_non_http_urls(tmp_path):
    assert fetch_image("file:///etc/passwd", tmp_path, "X", FAST) == ("failed", "not an http(s) URL")
    assert list(tmp_path.iterdir()) == []
