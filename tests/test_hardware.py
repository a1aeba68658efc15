"""missrec/hardware.py: the one-line hardware description written into results and checkpoint cards."""

import os

import torch

from missrec.hardware import cpu_model, describe_hardware


def test_cpu_description_names_the_model_cores_threads_and_torch():
    line = describe_hardware("cpu", threads=1)
    assert line == f"{cpu_model()} ({os.cpu_count()} cores), 1 thread per process, torch {torch.__version__}"
    assert "4 threads per process" in describe_hardware(torch.device("cpu"), threads=4)
    assert f"{torch.get_num_threads()} thread" in describe_hardware("cpu")
    assert cpu_model()
