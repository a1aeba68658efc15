"""``python recommend.py RUN_DIR``: top-k items from a trained run, for a history, a user or every user."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from missrec.cli.common import run_reporting_errors
from missrec.recommend.catalogue import UnknownItemsWarning
from missrec.recommend.errors import RecommendError

DESCRIPTION = (
    "Recommend items with a trained model: MISSRec, UniSRec and SASRec by history or user, the graph models by user. "
    "Loads the run's config and best checkpoint and checks that the dataset is the one it was trained on."
)
EPILOG = """examples:
  python recommend.py runs/MISSRec-ML100K_mm_full-inductive-... --history 1 121 50
  python recommend.py RUN --user 42 -k 20 --json
  python recommend.py RUN --all-users --out recs.tsv
  python recommend.py RUN --history 1 121 50 --add-items new.tsv --explain
  python recommend.py runs/x/checkpoints/best.safetensors --dataset ML100K_mm_full --history 1 2 3

--add-items takes a TSV of 'id<TAB>text' lines (texts are encoded with MiniLM, offline) or a folder with items.tsv
and one <modality>.npy float32 [n, d] per modality. Unknown history ids are an error unless --skip-unknown."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recommend.py", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="RUN_DIR", help="run folder (runs/<run>) or a checkpoint .safetensors file")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--history", nargs="+", metavar="ID", help="raw item ids, oldest first (sequential models)")
    query.add_argument("--user", metavar="USER", help="a known user's raw id (their latest history / interactions)")
    query.add_argument("--all-users", action="store_true", help="every known user, streamed to --out")
    parser.add_argument("--out", default=None, help="output file of --all-users (.tsv, or JSON lines with --json)")
    parser.add_argument("-k", "--k", type=int, default=10, help="items per list (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout (JSON lines in --out for --all-users)")
    history = parser.add_mutually_exclusive_group()
    history.add_argument("--exclude-history", dest="exclude_history", action="store_true", default=True,
                         help="leave out items the history / user already has (default)")
    history.add_argument("--include-history", dest="exclude_history", action="store_false",
                         help="rank the history's items too")
    parser.add_argument("--skip-unknown", action="store_true", help="drop unknown history ids with a counted warning")
    parser.add_argument("--add-items", metavar="PATH", help="new items (TSV id<TAB>text, or a features folder)")
    parser.add_argument("--explain", action="store_true", help="MISSRec: interests, fusion weights, per-modality cosines")
    parser.add_argument("--index", choices=["flat", "ivf", "hnsw"], default=None,
                        help="faiss candidates re-scored by the model; flat is certified exact (default: exact "
                        "chunked scoring, no index)")
    parser.add_argument("--dataset", default=None, help="dataset of a checkpoint file (default: the one it records)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=256, help="users encoded at once by --all-users (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar for --all-users")
    return parser


def _warn_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    from missrec.recommend import render
    from missrec.recommend.recommender import Recommendation, Recommender

    if args.all_users and not args.out:
        raise RecommendError("--all-users writes one list per user: give --out recs.tsv (or recs.jsonl with --json)")
    if args.out and not args.all_users:
        raise RecommendError("--out is for --all-users; a single list is printed on stdout")
    if args.explain and args.all_users:
        raise RecommendError("--explain explains one list: use it with --history or --user")
    if args.k <= 0:
        raise RecommendError(f"-k: expected a positive integer (how many items to return), found {args.k}. Fix: e.g. -k 10")
    if args.batch_size <= 0:
        raise RecommendError(f"--batch-size: expected a positive integer (users encoded at once), found {args.batch_size}")
    started = time.perf_counter()
    path = Path(args.run)
    if path.suffix in (".safetensors", ".json") or path.is_file():
        rec = Recommender.from_checkpoint(path, dataset=args.dataset, device=args.device)
    else:
        rec = Recommender.from_run(path, device=args.device)
    loaded = time.perf_counter() - started
    added = _add_items(rec, args.add_items) if args.add_items else []
    if args.index:
        rec.build_index(args.index)
    header = f"{rec.model_name} on {rec.loaded.config['dataset']} ({len(rec.catalogue) - rec.catalogue.first_item} items), loaded in {loaded:.1f} s"
    if args.all_users:
        _all_users(rec, args, header)
        return
    query = {"history": args.history} if args.history is not None else {"user": args.user}
    explanation = None
    with warnings.catch_warnings():  # skipped unknown ids: one "warning: ..." line each on stderr
        warnings.simplefilter("always", UnknownItemsWarning)
        warnings.showwarning = _warn_to_stderr
        if args.explain:
            if args.user is not None:
                query["history"] = rec.user_history(args.user)
            explanation = rec.explain(args.history, k=args.k, exclude_history=args.exclude_history,
                                      skip_unknown=args.skip_unknown, user=args.user)
            recs = [Recommendation(i["item_id"], i["score"], i["text"]) for i in explanation["items"]]
        elif args.history is not None:
            recs = rec.recommend(args.history, k=args.k, exclude_history=args.exclude_history, skip_unknown=args.skip_unknown)
        else:
            recs = rec.recommend_user(args.user, k=args.k, exclude_history=args.exclude_history)
    if args.json:
        payload = {"model": rec.model_name, "dataset": rec.loaded.config["dataset"], **query, "k": args.k,
                   "exclude_history": args.exclude_history, "added": added, "items": render.as_dicts(recs)}
        if explanation is not None:
            payload["explanation"] = explanation
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    print(header)
    if added:
        print(f"added {len(added)} new item(s): {', '.join(a['item_id'] for a in added)}")
    print(render.table(recs, {a["item_id"] for a in added}))
    if explanation is not None:
        from missrec.recommend.explain import format_explanation

        print()
        print(format_explanation(explanation))


def _add_items(rec, source: str) -> list[dict]:
    from missrec.recommend.new_items import read_items_folder, read_items_tsv

    path = Path(source)
    if path.is_dir():
        ids, texts, features = read_items_folder(path)
        report = rec.add_items(ids, texts=texts if any(texts) else None, features=features)
    else:
        ids, texts = read_items_tsv(path)
        report = rec.add_items(ids, texts=texts)
    interests = report.get("interests") or [None] * len(ids)
    return [{"item_id": i, "text": t, "interests": c} for i, t, c in zip(ids, texts, interests, strict=True)]


def _all_users(rec, args: argparse.Namespace, header: str) -> None:
    from tqdm import tqdm

    from missrec.io_utils import atomic_open
    from missrec.recommend import render

    users = rec.all_users()
    started = time.perf_counter()
    with atomic_open(args.out, "w") as f:
        if not args.json:
            f.write(render.TSV_HEADER)
        stream = rec.recommend_many(users=users, k=args.k, exclude_history=args.exclude_history, batch_size=args.batch_size)
        for user, recs in tqdm(stream, total=len(users), desc="users", unit="user", file=sys.stderr, disable=args.no_progress):
            f.write(render.json_line(user, recs) if args.json else render.tsv_rows(user, recs))
    seconds = time.perf_counter() - started
    print(f"{header}\nwrote top-{args.k} of {len(users)} users to {args.out} in {seconds:.2f} s "
          f"({len(users) / max(seconds, 1e-9):,.0f} users/s)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(lambda: run(args))
