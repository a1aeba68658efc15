"""Recommend items with a trained run (by history, user or for every user; new items; explanations). See --help."""

from missrec.recommend.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
