"""Every reliability case, by area."""

from __future__ import annotations

from tests.reliability import cases_checkpoint, cases_cli, cases_config, cases_data, cases_graph, cases_output, cases_pretrain
from tests.reliability.harness import Case

CASES: list[Case] = [
    *cases_config.CASES,
    *cases_cli.CASES,
    *cases_data.CASES,
    *cases_checkpoint.CASES,
    *cases_output.CASES,
    *cases_pretrain.CASES,
    *cases_graph.CASES,
]

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})
