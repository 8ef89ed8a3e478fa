"""Caveats on table runs scored by code that has since been fixed: each names the runs it covers
from the runs themselves (their metrics or commits), so a pair re-run at the fixed code drops out
of it (``fewshot_pages.readme`` renders them)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fewshot_verdict import SHORT_NAMES, interval_text, not_beaten


#: A run's test MAPE (percent) above this came from a zero's floating-point residue counted as a
#: truth, before 2135b01 (``stvlm.metrics.MAPE_ZERO_TOL``); no forecast of these data scores it.
VOID_MAPE = 1e6


def void_mape(result: dict[str, Any]) -> list[str]:
    """The caveat naming the pairs whose runs hold a MAPE from before 2135b01 that means nothing
    (:data:`VOID_MAPE`); no line when none does."""
    void = Counter(f"{r['dataset']} {r['setting']}" for r in result["runs"]
                   if r["test"].get("mape", 0.0) > VOID_MAPE)
    return (["- MAPE is not on this page; `fewshot_accuracy.json` holds it per run. The runs of "
             + ", ".join(f"{pair} ({n})" for pair, n in void.items()) + " scored it before 2135b01, "
             "which counted a zero stored as a floating-point residue (1e-17 km/h on sz-taxi) as a "
             "truth: their `mape` values (about 1e15 %) mean nothing. A run since leaves those entries "
             "out (`MAPE_ZERO_TOL` in `stvlm/metrics.py`); nothing else here uses MAPE."]
            if void else [])


#: The commits Graph WaveNet's table runs were made at, all before cadac71: the engine then
#: restored the best epoch's weights without its BatchNorm running statistics (buffers), so
#: those runs were scored with the last epoch's statistics. A run made since is not listed.
BEFORE_BN_FIX = frozenset({
    "0198dd230c6e", "049f9d9d8215", "082fefea4c17", "508057bce7b9", "63f41364fb94", "83b9a343d95d",
    "97c13ba793b2", "a55efb3d18fe", "c461a8af483d", "d5c889cade58", "e1a63914aa16", "eed2168bdd6f",
    "f2d0b04bd878", "fb7084aa4f40", "ff9e060828df",
})


def gwnet_batchnorm(result: dict[str, Any]) -> list[str]:
    """The caveat on Graph WaveNet runs scored with the last epoch's BatchNorm statistics, naming
    the verdicts a re-run of them could move: a pair met only while ST-VLM beats Graph WaveNet, or
    a pair where Graph WaveNet is the one baseline ST-VLM does not beat."""
    old = [r for r in result["runs"] if r["model"] == "gwnet" and (r["git_commit"] or "")[:12] in BEFORE_BN_FIX]
    if not old:
        return []
    pairs = sorted({(r["dataset"], r["setting"]) for r in old})
    movable = []
    for dataset, setting in pairs:
        if not_beaten(result["intervals"], dataset, setting) in ([], ["gwnet"]):
            mine = [i for i in result["intervals"] if i["baseline"] == "gwnet"
                    and (i["dataset"], i["setting"]) == (dataset, setting)]
            movable.append(f"{dataset} {setting} (" + "; ".join(
                f"{SHORT_NAMES[i['metric']]} {interval_text(i)}" for i in mine) + ")")
    on = f"on {len(pairs)} pair{'s' if len(pairs) != 1 else ''} ({', '.join(f'{d} {s}' for d, s in pairs)})"
    return [f"- Graph WaveNet's {len(old)} run{'s' if len(old) != 1 else ''}, {on}, were made before cadac71, when the "
            "engine restored the best epoch's weights without its BatchNorm running statistics: they were "
            "scored with the last epoch's statistics, a model validation never saw (on los-loop 10% a probe's "
            "best epoch scored validation MAE 3.4507 and the model returned 3.4714; the gap can go either "
            "way). Re-running them (`--only gwnet`) is open. The verdicts they could move: "
            + ("; ".join(movable) or "none") + "."]
