"""Built-in models; importing this package registers them (see :mod:`missrec.registry`)."""

from missrec.models import missrec, pop, sasrec, unisrec  # noqa: F401
from missrec.models import graph  # noqa: F401
