"""Named few-shot budgets that match published settings, with their arithmetic.

A budget counts training *target windows*. ``FewShotConfig(budget=NAME)`` resolves to the number
of windows registered for the run's dataset; a dataset without an entry is an error naming the
datasets that have one.

``st-llm-10%``
    ST-LLM (Liu et al., MDM 2024, table IV) trains its "10%" few-shot models on 10% of the
    training windows of a 6:2:2 split of CHBike (4,368 half-hour steps, 12 -> 12): 4,368 - 24 + 1
    = 4,345 windows, ``round(0.6 * 4,345)`` = 2,607 training windows, 10% of them = 261 windows
    (about 284 steps, 5.9 days). The published drop-off test windows are exactly ours
    (``nycbike-drop``), so at 261 windows our number can stand beside theirs. Which 10% ST-LLM
    used is not stated; ours is the first contiguous block that has its lookback.
"""

from __future__ import annotations

from stvlm.errors import ProtocolError

# name -> dataset -> training windows.
NAMED_BUDGETS: dict[str, dict[str, int]] = {
    "st-llm-10%": {"nycbike-drop": 261},
}


def budget_windows(name: str, dataset: str) -> int:
    """Training windows of budget ``name`` on ``dataset``.

    Raises:
        ProtocolError: the budget is unknown, or it has no value for this dataset.
    """
    if name not in NAMED_BUDGETS:
        raise ProtocolError(
            f"few_shot.budget = {name!r} is not a named budget; allowed: {', '.join(NAMED_BUDGETS)}"
        )
    per_dataset = NAMED_BUDGETS[name]
    if dataset not in per_dataset:
        raise ProtocolError(
            f"few_shot.budget = {name!r} is defined for datasets {', '.join(per_dataset)} only, "
            f"not {dataset!r}; use few_shot.ratio or few_shot.windows"
        )
    return per_dataset[dataset]
