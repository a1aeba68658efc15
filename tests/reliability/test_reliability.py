"""Each case of the reliability table: one clear error (or the run going through) and nothing touched that must
not be (see :mod:`tests.reliability.harness`)."""

from __future__ import annotations

import pytest

from tests.reliability.harness import execute
from tests.reliability.table import CASES
from tests.reliability.world import build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("reliability_world"))


def test_the_table_is_large_enough():
    assert len(CASES) >= 100
    assert {c.kind for c in CASES} == {"error", "warn", "ok"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, world, tmp_path):
    outcome = execute(case, tmp_path / "case", world)
    assert outcome.status == "clear", outcome.explain()
