"""Every Amazon command in datasets/README.md parses with the real command-line parser."""

from __future__ import annotations

import shlex
from pathlib import Path

from missrec.data.prepare.amazon.cli import STEPS, parser

README = Path(__file__).resolve().parents[3] / "datasets" / "README.md"
PREFIX = "python -m missrec.data.prepare.amazon "


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip()[len(PREFIX):] for line in text.splitlines() if line.strip().startswith(PREFIX)]


def test_readme_commands_parse():
    commands = readme_commands()
    assert len(commands) >= 16
    steps = set()
    for command in commands:
        argv = shlex.split(command.replace('"', "").replace("$", "X"))
        args = parser().parse_args(argv)
        steps.add(args.step)
    assert steps == set(STEPS)
    names = {c.split("--name ")[1].split()[0] for c in commands if c.startswith("build --name")}
    assert names == {"Scientific", "Pantry", "Instruments", "Arts", "Office"}



def test_the_mmrec_export_lands_where_train_graph_looks():
    """datasets/README.md exports into the folder ``train_graph.py -d <name>`` reads (issue 9)."""
    import yaml

    data_path = yaml.safe_load((README.parents[1] / "props" / "general.yaml").read_text())["data_path"]
    exports = [c for c in readme_commands() if c.startswith("export-mmrec")]
    assert exports and all(parser().parse_args(shlex.split(c)).out.rstrip("/") == data_path.rstrip("/")
                            for c in exports)
    text = README.read_text(encoding="utf-8")
    assert "python train_graph.py --model FREEDOM -d Scientific" in text
