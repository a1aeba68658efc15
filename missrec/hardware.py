"""One line naming the hardware a run used, for results files and checkpoint cards."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the architecture where that is not readable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_hardware(device: torch.device | str, threads: int | None = None) -> str:
    """E.g. ``"NVIDIA H200, torch 2.6.0+cu124"`` or ``"AMD EPYC (2 cores), 1 thread per process, torch 2.13.0+cpu"``;
    ``threads`` defaults to this process's torch threads."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    threads = torch.get_num_threads() if threads is None else threads
    return (f"{cpu_model()} ({os.cpu_count()} cores), {threads} thread{'s' if threads != 1 else ''} per process, "
            f"torch {torch.__version__}")
