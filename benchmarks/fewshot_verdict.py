"""The verdict of the few-shot accuracy page: per (dataset, setting), the baselines ST-VLM does
not beat with the paired interval excluding zero and how each stands, and the one-sentence
count over the pairs (``fewshot_pages.readme`` renders it; ``cross_machine.py`` reads it too)."""

from __future__ import annotations

from typing import Any

from fewshot_setup import REFERENCE_LINES


#: The metrics of the intervals, in the columns' order, as the verdict names them.
METRIC_NAMES = {"mae": "the masked metric", "mae_all": "all entries"}
#: The same, where a list names both metrics' intervals.
SHORT_NAMES = {"mae": "masked", "mae_all": "all entries"}


#: Fewer bootstrap blocks than this and the verdict says the interval is not to be trusted.
MIN_TRUSTED_BLOCKS = 10


def not_beaten(intervals: list[dict[str, Any]], dataset: str, setting: str) -> list[str]:
    """The verdict of one (dataset, setting): the baselines (reference lines aside) that ST-VLM
    does not beat with the paired interval excluding zero, on either metric; ``[]``: target met."""
    return sorted({i["baseline"] for i in intervals if (i["dataset"], i["setting"]) == (dataset, setting)
                   and not i["st_vlm_better"] and i["baseline"] not in REFERENCE_LINES})


#: A paired difference whose whole interval is this close to zero is float rounding of the same
#: forecast (ST-VLM kept a start that is a baseline's, entry for entry), not a difference.
SAME_FORECAST = 1e-6


def interval_text(interval: dict[str, Any]) -> str:
    """A paired difference as the page prints it: ``"-0.031 [-0.110, +0.041]"``."""
    return f"{interval['diff']:+.3f} [{interval['low']:+.3f}, {interval['high']:+.3f}]"


def standing(intervals: list[dict[str, Any]], dataset: str, setting: str) -> list[str]:
    """Each baseline of :func:`not_beaten` with how it stands against ST-VLM, per metric where
    ST-VLM's interval does not exclude zero: ``"level"`` (the interval spans zero), ``"better"``
    (it lies above zero: the baseline's MAE is lower) or ``"the same forecast"``
    (:data:`SAME_FORECAST`), each with its interval (:func:`interval_text`; one where the two
    metrics' are the same), e.g. ``"gwnet (better on all entries: +0.026 [+0.017, +0.037])"``."""
    out = []
    for baseline in not_beaten(intervals, dataset, setting):
        per = {i["metric"]: i for i in intervals
               if (i["dataset"], i["setting"], i["baseline"]) == (dataset, setting, baseline)}
        states = {m: ("the same forecast" if max(abs(i["low"]), abs(i["high"])) < SAME_FORECAST else
                      "better" if i["low"] > 0 else "level") for m, i in per.items() if not i["st_vlm_better"]}
        texts = {m: interval_text(per[m]) for m, state in states.items() if state != "the same forecast"}
        if len(states) == len(METRIC_NAMES) and len(set(states.values())) == 1:
            words = f"{next(iter(states.values()))} on both metrics"
            if len(set(texts.values())) == 1:
                words += f": {next(iter(texts.values()))}"
            elif texts:
                words += ": " + ", ".join(f"{SHORT_NAMES[m]} {t}" for m, t in texts.items())
        else:
            words = ", ".join(f"{state} on {METRIC_NAMES[m]}" + (f": {texts[m]}" if m in texts else "")
                              for m, state in states.items())
        out.append(f"{baseline} ({words})")
    return out


def headline(lost: dict[tuple[str, str], list[str]]) -> str:
    """The verdict in one sentence, from each (dataset, setting) pair's baselines that ST-VLM does
    not beat (:func:`standing` or :func:`not_beaten`; empty: target met): on how many pairs it
    beats every baseline, over the few-shot pairs the issue's target counts (every setting but
    ``full``) and over all."""
    few = [p for p in lost if p[1] != "full"]
    met = {p for p, baselines in lost.items() if not baselines}
    return (f"ST-VLM beats every baseline (the reference line {', '.join(REFERENCE_LINES)} aside), "
            f"the paired interval excluding zero on both metrics, on {len(met & set(few))} of the "
            f"{len(few)} few-shot pairs that the target counts (every setting but `full`) and on "
            f"{len(met)} of {len(lost)} pairs in all.")


def verdict_lines(result: dict[str, Any]) -> list[str]:
    """The page's Verdict: :func:`headline`, then one bullet per (dataset, setting); each pair's
    :func:`standing` is computed once, for both."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in result["intervals"]:
        groups.setdefault((i["dataset"], i["setting"]), []).append(i)
    lost = {key: standing(group, *key) for key, group in groups.items()}
    lines = [headline(lost), ""]
    for key, group in groups.items():
        k = min(i["blocks"] for i in group)
        few = (f" The intervals rest on {k} bootstrap blocks only: too few to trust."
               if k < MIN_TRUSTED_BLOCKS else "")
        lines.append(f"- **{key[0]}, {key[1]}**: " + (
            "ST-VLM's test MAE is below every baseline's (reference lines aside) with the paired 95% "
            "interval excluding zero, on the masked metric and on all observed entries." if not lost[key] else
            "target NOT met: ST-VLM's paired interval does not exclude zero (level) or favours the "
            "baseline (better) against " + ", ".join(lost[key]) + ".")
            + ("" if lost[key] else validation_dissent(result, *key)) + few)
    return lines


def validation_dissent(result: dict[str, Any], dataset: str, setting: str) -> str:
    """Where ST-VLM wins a pair on test, the baselines (reference lines aside) whose mean best
    validation MAE is below ST-VLM's: a choice made on validation would have picked them, so the
    win is the test windows' word alone. ``""`` where there are none."""
    rows = {r["model"]: r for r in result["rows"] if (r["dataset"], r["setting"]) == (dataset, setting)}
    if "st-vlm" not in rows:
        return ""
    own = rows["st-vlm"]["val_mae"]
    lower = [f"{m} {r['val_mae']:.3f}" for m, r in rows.items()
             if m != "st-vlm" and m not in REFERENCE_LINES and r["val_mae"] < own]
    return (f" On validation (masked MAE) {', '.join(lower)} {'is' if len(lower) == 1 else 'are'} below "
            f"ST-VLM's {own:.3f}: a choice made on validation would not pick ST-VLM here." if lower else "")
