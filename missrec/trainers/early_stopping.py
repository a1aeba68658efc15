"""Early stopping on a validation metric, with the tie rule named.

RecBole (and so MISSRec/UniSRec) counts a score equal to the best as an improvement (``>=``); MMRec and the
LATTICE/MICRO/MMSSL scripts need a strictly better score (``>``, graph_models.md §2). Both stop at the
``(stopping_step + 1)``-th consecutive validation without improvement (RecBole's and MMRec's ``cur_step >
stopping_step``): ``stopping_step: 10`` with validation every epoch stops 11 epochs after the best one.
"""

from __future__ import annotations


def early_stopping(
    value: float, best: float, cur_step: int, max_step: int, bigger: bool = True, tie_improves: bool = True
) -> tuple[float, int, bool, bool]:
    """One validation's update of the early-stopping state.

    Args:
        value: this validation's score.
        best: the best score so far.
        cur_step: consecutive validations without improvement so far.
        max_step: ``stopping_step``; training stops once ``cur_step`` exceeds it.
        bigger: whether a larger score is better.
        tie_improves: whether ``value == best`` counts as an improvement.

    Returns:
        ``(best, cur_step, stop, improved)``.
    """
    better = value > best if bigger else value < best
    if better or (tie_improves and value == best):
        return value, 0, False, True
    cur_step += 1
    return best, cur_step, cur_step > max_step, False
