"""The accuracy table's epoch cap, checked where it bound: 40 epochs or 80, chosen on validation.

Every learned model of ``fewshot_accuracy.py`` trains for at most ``--epochs`` (40) epochs with a
cosine schedule over them and early stopping on validation. Where a model's best epoch was its
last at that cap, it may have stopped short, and a win over it may be the cap's. ``CAPPED`` lists
the (model, pair)s of the table at 50706af whose best epoch was the 40th in at least two of five
seeds; ``validation_runs.py --sweep cap-<model>`` trains them for 80 epochs (validation metrics
only) and :func:`cap_choice` applies the rule written down before those runs: 80 replaces 40 for
that (model, pair) when its mean validation target metric over the seeds both ran is lower than
the table's 40-epoch runs'. The table then re-runs the chosen ones with ``--epochs 80 --only``,
and each run records its cap (``epochs``).
"""

from __future__ import annotations

from typing import Any

#: model -> the (dataset, setting) pairs where its best epoch was the 40th in >= 2 of 5 seeds.
CAPPED: dict[str, tuple[tuple[str, str], ...]] = {
    "st-vlm": (("los-loop", "10%"),),
    "gru": (("los-loop", "10%"), ("nycbike-drop", "10%"), ("nycbike1", "10%"), ("nycbike1", "full")),
    "stid": (("nycbike1", "10%"),),
    "gwnet": (("nycbike1", "10%"),),
}
SHORT, LONG = 40, 80


def _target(val: dict[str, Any]) -> float:
    """The mean of the masked and the all-entries validation MAE (``validation_runs.target_metric``)."""
    return (val["mae"] + val["mae_all"]) / 2


def cap_choice(sweep_rows: list[dict[str, Any]], table_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, dataset, setting) of ``sweep_rows`` (a ``cap-*`` sweep's rows, 80 epochs): the
    mean validation target metric over the seeds it shares with the table's runs at 40 epochs
    (``table_runs``: runs without their own ``epochs`` or with 40), and the cap chosen.

    Returns rows ``{model, dataset, setting, seeds, short, long, epochs}`` in sweep order.

    Raises:
        ValueError: a (model, pair) whose seeds the table does not hold at 40 epochs.
    """
    groups: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in sweep_rows:
        groups.setdefault((r["model"], r["dataset"], r["setting"]), {})[r["seed"]] = \
            (r["val_mae"] + r["val_mae_all"]) / 2
    out = []
    for (model, dataset, setting), long in groups.items():
        short = {r["seed"]: _target(r["val"]) for r in table_runs
                 if (r["model"], r["dataset"], r["setting"]) == (model, dataset, setting)
                 and r.get("epochs", SHORT) == SHORT}
        seeds = sorted(set(short) & set(long))
        if not seeds:
            raise ValueError(f"{model} {dataset} {setting}: the table has no {SHORT}-epoch run of seeds {sorted(long)}")
        s = sum(short[k] for k in seeds) / len(seeds)
        lg = sum(long[k] for k in seeds) / len(seeds)
        out.append({"model": model, "dataset": dataset, "setting": setting, "seeds": seeds,
                    "short": s, "long": lg, "epochs": LONG if lg < s else SHORT})
    return out
