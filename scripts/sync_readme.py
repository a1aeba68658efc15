"""Copy the result tables into the README, so the numbers it shows are the files' numbers.

    python scripts/sync_readme.py            # rewrite every included block of README.md from its file
    python scripts/sync_readme.py --check    # exit 1, naming the blocks, when README.md differs from the files

A block is the lines between ``<!-- include results/ml100k.md -->`` and ``<!-- end include -->``; its content is the
file, with its first ``# title`` line as a plain line (the README's own heading names the section).
``scripts/reproduce.py`` and ``scripts/claims.py`` rewrite ``results/*.md``; run this after them. The test suite
runs ``--check``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from missrec.io_utils import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- include (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.S)


class SyncError(ValueError):
    """A README block names a file that is missing or outside the repository."""


def included_text(root: Path, relative: str) -> str:
    """The content a block of ``relative`` should hold: the file, its first ``# title`` line made a plain line."""
    path = (root / relative).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise SyncError(f"README.md includes {relative}, which is not a file of the repository. Fix: build it "
                        f"(scripts/reproduce.py, scripts/claims.py) or remove the block")
    lines = path.read_text().splitlines(keepends=True)
    if lines and lines[0].startswith("# "):
        lines[0] = lines[0][2:]
    return "".join(lines)


def synced(readme: str, root: Path) -> tuple[str, list[str]]:
    """``readme`` with every block rewritten from its file, and the paths of the blocks that changed."""
    changed: list[str] = []

    def replace(match: re.Match) -> str:
        body = included_text(root, match["path"])
        if body != match["body"]:
            changed.append(match["path"])
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, readme), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a block is out of date")
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="default: the repository's README.md")
    args = parser.parse_args(argv)
    readme_path = Path(args.readme)
    try:
        text, changed = synced(readme_path.read_text(), ROOT)
    except SyncError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        if changed:
            print(f"README.md is out of date for {', '.join(changed)}. Fix: python scripts/sync_readme.py",
                  file=sys.stderr)
            return 1
        return 0
    if changed:
        atomic_write_text(readme_path, text)
    print(f"README.md: {len(changed)} block(s) rewritten" + (f" ({', '.join(changed)})" if changed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
