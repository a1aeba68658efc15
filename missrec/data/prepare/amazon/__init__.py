"""Amazon Review Data (2018) -> UniSRec/MISSRec benchmark folders, features, pre-training corpus, MMRec export.

One module per job: ``raw`` (read files), ``text`` (item text), ``kcore`` (filters), ``sequences`` (ordering and
ids), ``build`` (one category), ``images`` (check / download), ``features`` (encode), ``pretrain`` (multi-domain
corpus), ``mmrec`` (export), ``staging`` (atomic folders and manifests), ``cli`` (commands).
"""

from missrec.data.prepare.amazon.build import BuildOptions, build_category

__all__ = ["BuildOptions", "build_category"]
