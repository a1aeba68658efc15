"""Train a general (graph) recommender (default: LightGCN on the embedded MovieLens-100K). See --help."""

from missrec.cli.train_graph import main

if __name__ == "__main__":
    raise SystemExit(main())
