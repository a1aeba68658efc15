"""scripts/sync_readme.py: README blocks hold their result files, and the repository's README is in sync."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "scripts" / "sync_readme.py")
sync_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_readme)

README = """# project

## Results
<!-- include results/t.md -->
old numbers
<!-- end include -->

text after
"""


def test_blocks_take_the_file_with_its_title_as_a_plain_line(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "t.md").write_text("# t: title\n\n| row | x |\n|---|---|\n| a | 1 |\n")
    text, changed = sync_readme.synced(README, tmp_path)
    assert changed == ["results/t.md"]
    assert "<!-- include results/t.md -->\nt: title\n\n| row | x |\n|---|---|\n| a | 1 |\n<!-- end include -->" in text
    assert "old numbers" not in text and text.endswith("text after\n") and text.startswith("# project\n")
    assert sync_readme.synced(text, tmp_path) == (text, [])  # idempotent


@pytest.mark.parametrize("path", ["results/missing.md", "../outside.md"])
def test_a_missing_or_outside_file_is_one_error(tmp_path, path):
    (tmp_path.parent / "outside.md").write_text("x\n")
    with pytest.raises(sync_readme.SyncError, match=path.replace(".", r"\.")):
        sync_readme.synced(README.replace("results/t.md", path), tmp_path)


def test_the_readme_shows_the_result_files():
    done = subprocess.run([sys.executable, "scripts/sync_readme.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
