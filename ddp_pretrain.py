"""Multi-domain contrastive pre-training; launch with `accelerate launch ddp_pretrain.py`. See --help."""

from missrec.cli.pretrain import main

if __name__ == "__main__":
    raise SystemExit(main())
