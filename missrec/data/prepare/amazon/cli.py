"""``python -m missrec.data.prepare.amazon <step>``: one command per step of the Amazon 2018 pipeline.

Steps: ``build`` (a category -> benchmark folder), ``images`` (check / download item images), ``features`` (encode
texts and images into feature files), ``pretrain`` (multi-domain corpus), ``export-mmrec`` (MMRec format). Every step
writes a checksum manifest ``<folder>/<name>.sha256``; ``--check`` verifies it instead of building. Walkthrough:
datasets/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from missrec.data.prepare.amazon.build import BuildOptions, build_category
from missrec.data.prepare.amazon.categories import CATEGORIES, EXPECTED_STATS, FHCKM, category_of, find_raw_files
from missrec.data.prepare.amazon.sequences import DEDUP_MODES
from missrec.data.prepare.amazon.staging import OUTPUT_ERRNOS, check_folder, output_error
from missrec.encoders import IMAGE_ENCODERS, TEXT_ENCODERS
from missrec.errors import ConfigError, MissrecError

SUFFIX = "_mm_full"


def plain_name(value: str, option: str) -> str:
    """``value`` if it is a plain file name (no folder part, not hidden), else a :class:`ConfigError`.

    A dataset name becomes a folder name under ``--out``; a name with ``/`` or ``..`` would write outside it.
    """
    if not value or value in (".", "..") or "/" in value or "\\" in value or value.startswith(".") or "\0" in value:
        raise ConfigError(
            f"{option} {value!r}: expected a plain name (letters, digits, '_', '-'), found a path or a hidden name. "
            "Fix: pass the name alone and the parent folder as --out"
        )
    return value


def _add_build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user-k", type=int, default=5, help="keep users with at least this many interactions (5)")
    p.add_argument("--item-k", type=int, default=5, help="keep items with at least this many interactions (5)")
    p.add_argument("--max-len", type=int, default=50, help="history length kept in item_id_list (50)")
    p.add_argument("--dedup", choices=DEDUP_MODES, default="exact",
                   help="exact: drop repeated identical records, as UniSRec (default); pair: one per (user, item)")


def _build_options(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions(user_k=args.user_k, item_k=args.item_k, max_len=args.max_len, dedup=args.dedup)


def parser() -> argparse.ArgumentParser:
    """The command-line parser (one sub-command per step)."""
    top = argparse.ArgumentParser(prog="python -m missrec.data.prepare.amazon", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = top.add_subparsers(dest="step", required=True, metavar="STEP")
    check = {"action": "store_true",
             "help": "verify the output folder against its <name>.sha256 manifest instead of building"}

    p = steps.add_parser("build", help="one category -> <out>/<Name>_mm_full/")
    p.add_argument("--name", required=True, help=f"dataset name; known short names: {', '.join(CATEGORIES)}")
    p.add_argument("--category", help="Amazon 2018 category file name (default: from --name, e.g. Prime_Pantry)")
    p.add_argument("--raw-dir", help="folder with the category's raw files (<Category>.csv|_5.json[.gz], meta_...)")
    p.add_argument("--reviews", help="interactions file (reviews JSON lines or ratings CSV); overrides --raw-dir")
    p.add_argument("--meta", help="metadata JSON-lines file; overrides --raw-dir")
    p.add_argument("--out", required=True, help="parent folder, e.g. datasets/downstream")
    p.add_argument("--suffix", default=SUFFIX, help=f"folder/dataset name suffix ({SUFFIX})")
    _add_build_options(p)
    p.add_argument("--check", **check)

    p = steps.add_parser("images", help="check a folder of <asin>.jpg|png, or download the metadata image URLs")
    p.add_argument("--folder", required=True, help="benchmark folder written by build")
    p.add_argument("--image-dir", required=True, help="folder of <asin>.<ext> images (read, and written by --download)")
    p.add_argument("--download", action="store_true", help="fetch missing images from the metadata URLs")
    p.add_argument("--workers", type=int, default=16, help="parallel downloads (16)")
    p.add_argument("--retries", type=int, default=3, help="extra attempts after a transient failure (3)")
    p.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds, doubled each time (1)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
    p.add_argument("--check", **check)

    p = steps.add_parser("features", help="encode item texts / images into .feat1CLS / .feat3CLS")
    p.add_argument("--folder", required=True, help="benchmark folder written by build")
    p.add_argument("--text-encoder", choices=sorted(TEXT_ENCODERS),
                   help="minilm (384-d, offline) or clip (512-d for ViT-B/32, needs --clip-dir)")
    p.add_argument("--image-encoder", choices=sorted(IMAGE_ENCODERS),
                   help="efficientnet-lite0 (1280-d, offline) or clip (512-d for ViT-B/32, needs --clip-dir)")
    p.add_argument("--image-dir", help="folder of <asin>.<ext> images (required with --image-encoder)")
    p.add_argument("--clip-dir", help="local CLIP folder (save_pretrained of openai/clip-vit-base-patch32)")
    p.add_argument("--clip-normalize", action="store_true", help="L2-normalise CLIP features (default: raw)")
    p.add_argument("--text-suffix", default="feat1CLS", help="text feature file suffix (feat1CLS)")
    p.add_argument("--image-suffix", default="feat3CLS", help="image feature file suffix (feat3CLS)")
    p.add_argument("--word-drop", type=float, default=0.0,
                   help="also write .feat2CLS from word-dropped texts (UniSRec's augmentation); 0 = off")
    p.add_argument("--seed", type=int, default=2020, help="seed of the word drop (2020)")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--batch-size", type=int, default=64, help="encoder batch size (64)")
    p.add_argument("--workers", type=int, default=4, help="threads decoding images (4)")
    p.add_argument("--check", **check)

    p = steps.add_parser("pretrain", help="several domains -> <out>/<SHORT>_mm_full/ (FHCKM layout)")
    p.add_argument("--domains", default=",".join(FHCKM),
                   help=f"comma-separated domains, each 'Name' or 'Name=Amazon_Category' ({','.join(FHCKM)})")
    p.add_argument("--out", required=True, help="parent folder of the domain folders and the corpus")
    p.add_argument("--raw-dir", help="raw files, to build domain folders that are missing or stale")
    p.add_argument("--rebuild", action="store_true", help="rebuild every domain folder from --raw-dir")
    p.add_argument("--copy-features", action="store_true", help="copy feature files instead of symlinking them")
    p.add_argument("--suffix", default=SUFFIX, help=f"corpus name suffix ({SUFFIX})")
    _add_build_options(p)
    p.add_argument("--check", **check)

    p = steps.add_parser("export-mmrec", help="benchmark folder -> MMRec folder (<ds>.inter, text/image_feat.npy)")
    p.add_argument("--folder", required=True, help="benchmark folder with features")
    p.add_argument("--out", required=True, help="parent folder, e.g. data (MMRec's data/<ds>/)")
    p.add_argument("--name", help="MMRec dataset name (default: the folder name without _mm_full)")
    p.add_argument("--text-suffix", default="feat1CLS", help="feature file exported as text_feat.npy (feat1CLS)")
    p.add_argument("--image-suffix", default="feat3CLS", help="feature file exported as image_feat.npy (feat3CLS)")
    p.add_argument("--seed", type=int, default=2020, help="seed of the per-user random split (2020)")
    p.add_argument("--missing-image", choices=("zero", "mean"), default="zero",
                   help="rows of items without image: zero (MISSRec) or the mean feature (MMRec)")
    p.add_argument("--check", **check)
    return top


def _check(folders: Sequence[Path]) -> int:
    bad = 0
    for folder in folders:
        problems = check_folder(folder)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{folder}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        bad += bool(problems)
    return 1 if bad else 0


def _print(obj: object) -> None:
    print(json.dumps(obj, indent=2))


def run_build(args: argparse.Namespace) -> int:
    folder = Path(args.out) / plain_name(f"{plain_name(args.name, '--name')}{args.suffix}", "--name + --suffix")
    if args.check:
        return _check([folder])
    if args.reviews and args.meta:
        reviews, meta = Path(args.reviews), Path(args.meta)
    elif args.raw_dir:
        reviews, meta = find_raw_files(args.raw_dir, category_of(args.name, args.category))
        reviews, meta = Path(args.reviews or reviews), Path(args.meta or meta)
    else:
        raise SystemExit("build: pass --raw-dir, or both --reviews and --meta")
    stats = build_category(reviews, meta, folder, _build_options(args))
    _print(stats)
    for warning in stats.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    if args.name in EXPECTED_STATS:
        users, items, inters = EXPECTED_STATS[args.name]
        print(f"published (UniSRec): users {users:,}, items {items:,}, interactions {inters:,}; "
              f"built: users {stats['users']:,}, items {stats['items']:,}, interactions {stats['interactions']:,}")
    print(f"wrote {folder}")
    return 0


def run_images(args: argparse.Namespace) -> int:
    from missrec.data.prepare.amazon.images import DownloadPolicy, collect_images

    if args.check:
        return _check([Path(args.folder)])
    policy = DownloadPolicy(workers=args.workers, retries=args.retries, backoff=args.backoff, timeout=args.timeout)
    _print(collect_images(args.folder, args.image_dir, download=args.download, policy=policy))
    print(f"report: {Path(args.folder) / (Path(args.folder).name + '.images.tsv')}")
    return 0


def run_features(args: argparse.Namespace) -> int:
    from missrec.data.prepare.amazon import features
    from missrec.data.prepare.amazon.folder import BenchmarkFolder
    from missrec.encoders import get_image_encoder, get_text_encoder

    if args.check:
        return _check([Path(args.folder)])
    if not args.text_encoder and not args.image_encoder:
        raise SystemExit("features: pass --text-encoder and/or --image-encoder")
    if args.image_encoder and not args.image_dir:
        raise SystemExit("features: --image-encoder needs --image-dir")
    BenchmarkFolder(args.folder)  # a missing folder fails before any model is loaded
    done = {}
    for kind, name in (("text", args.text_encoder), ("image", args.image_encoder)):
        if not name:
            continue
        kwargs: dict = {"device": args.device}
        if name == "clip":
            kwargs.update(model_dir=args.clip_dir, normalize=args.clip_normalize)
        if kind == "text":
            encoder = get_text_encoder(name, **kwargs)
            text = features.encode_texts(args.folder, encoder, args.text_suffix, args.batch_size)
            done[args.text_suffix] = text.shape
            if args.word_drop > 0:
                done[features.WORD_DROP_SUFFIX] = features.encode_texts(
                    args.folder, encoder, features.WORD_DROP_SUFFIX, args.batch_size, args.word_drop, args.seed
                ).shape
        else:
            encoder = get_image_encoder(name, **kwargs)
            array, unusable = features.encode_images(args.folder, encoder, args.image_dir, args.image_suffix,
                                                     args.batch_size, workers=args.workers)
            done[args.image_suffix] = array.shape
            print(f"{len(unusable)} of {array.shape[0]} items have no usable image (all-zero rows)")
    _print({suffix: list(shape) for suffix, shape in done.items()})
    return 0


def run_pretrain(args: argparse.Namespace) -> int:
    from missrec.data.prepare.amazon.pretrain import build_corpus, ensure_domain, short_name

    # "Name" (a known short name) or "Name=Amazon_Category"
    entries = [d.strip().partition("=") for d in args.domains.split(",") if d.strip()]
    names = [plain_name(name, "--domains") for name, _, _ in entries]
    out = Path(args.out)
    corpus = out / plain_name(f"{short_name(names)}{args.suffix}", "--suffix")
    if args.check:
        return _check([out / n for n in names] + [corpus])
    folders = []
    for name, _, category in entries:
        folder, action = ensure_domain(out, name, args.raw_dir, _build_options(args), category or None,
                                       rebuild=args.rebuild)
        print(f"{action} {folder}")
        folders.append(folder)
    _print(build_corpus(folders, corpus, copy=args.copy_features))
    print(f"wrote {corpus}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from missrec.data.prepare.amazon.mmrec import export_mmrec

    folder = Path(args.folder)
    name = plain_name(args.name or folder.name.removesuffix(SUFFIX), "--name")
    target = Path(args.out) / name
    if args.check:
        return _check([target])
    _print(export_mmrec(folder, target, args.text_suffix, args.image_suffix, args.seed, args.missing_image))
    print(f"wrote {target}")
    return 0


STEPS = {"build": run_build, "images": run_images, "features": run_features, "pretrain": run_pretrain,
         "export-mmrec": run_export}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; a data problem is printed as one line and gives exit status 2."""
    args = parser().parse_args(argv)
    try:
        return STEPS[args.step](args)
    except (MissrecError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full or read-only disk met mid-step, after the early check
        if e.errno not in OUTPUT_ERRNOS:
            raise
        print(f"error: {output_error(e.filename or '.', e)}", file=sys.stderr)
        return 2
