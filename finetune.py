"""Fine-tune a sequential recommender (default: MISSRec on the embedded MovieLens-100K). See --help."""

from missrec.cli.finetune import main

if __name__ == "__main__":
    raise SystemExit(main())
