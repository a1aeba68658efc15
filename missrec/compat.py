"""The one place that makes recbole 1.2.1 run on today's numpy / scipy / torch / pandas.

Import this module before anything from recbole (``import missrec`` does). What it does and why
(see the environment spec for the measurements):

* pandas 3 silently breaks RecBole (``Series.agg(len)``, chained ``fillna``): refuse it with a clear error.
* scipy >= 1.13 removed ``dok_matrix._update``, used by RecBole's graph models: add it back where missing.
* ``recbole/model/sequential_recommender/sine.py`` switches autograd anomaly mode on for the whole process at
  import time (a 1.3-26x slowdown): import it once here and switch anomaly mode off again.
* :class:`SafeConfig` is RecBole's ``Config`` without its side effects: it does not parse ``sys.argv``, does not
  set ``CUDA_VISIBLE_DEVICES`` and does not patch numpy's removed aliases (``np.float`` ...), which nothing we run
  needs.
* torch >= 2.6 loads with ``weights_only=True`` and RecBole pickles its ``Config`` into checkpoints: we never use
  RecBole's checkpoint code; ``missrec.checkpoint`` writes safetensors + JSON instead.

``recbole.quick_start`` is never imported: it imports ray, which needs numpy<2 and has no Python 3.12 wheels.
"""

from __future__ import annotations

import importlib.util

import pandas as pd
import scipy.sparse as sp
import torch

if int(pd.__version__.split(".")[0]) >= 3:
    raise ImportError(
        f"pandas {pd.__version__} is installed, but recbole 1.2.1 mis-parses sequence features under pandas 3. "
        "Fix: pip install 'pandas>=2.2,<3'"
    )

if importlib.util.find_spec("recbole") is None:
    raise ImportError("recbole is not installed. Fix: pip install --no-deps recbole==1.2.1 (see the README)")

for _cls in (sp.dok_matrix, getattr(sp, "dok_array", None)):
    if _cls is not None and not hasattr(_cls, "_update"):
        _cls._update = lambda self, data: self._dict.update(data)  # removed in scipy 1.13

_anomaly_before = torch.is_anomaly_enabled()
import recbole.model.sequential_recommender  # noqa: E402,F401  (sine.py turns anomaly mode on)

torch.autograd.set_detect_anomaly(_anomaly_before)

from recbole.config import Config  # noqa: E402


class SafeConfig(Config):
    """RecBole ``Config`` that reads no command line, sets no environment variable and patches no numpy.

    The device comes from the ``device`` key (``cpu``, ``cuda``, ``cuda:1``; default: cuda when available).
    """

    def compatibility_settings(self) -> None:  # RecBole: np.float = np.float_ ... (gone in numpy 2)
        return None

    def _load_cmd_line(self) -> dict:  # RecBole: every ``--k=v`` in sys.argv becomes a config entry
        return {}

    def _init_device(self) -> None:  # RecBole: os.environ["CUDA_VISIBLE_DEVICES"] = gpu_id
        requested = self.final_config_dict.get("device")
        if requested in (None, "", "auto"):
            requested = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device '{requested}' was requested but CUDA is not available. Fix: device=cpu")
        self.final_config_dict["device"] = device
        self.final_config_dict["use_gpu"] = device.type == "cuda"
        self.final_config_dict["single_spec"] = True
        self.final_config_dict["local_rank"] = 0
