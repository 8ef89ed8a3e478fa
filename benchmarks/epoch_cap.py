"""The accuracy table's epoch cap, checked where it bound, in rounds: 40 or 80 epochs, then 80 or 160.

Every learned model of ``fewshot_accuracy.py`` trains for at most ``--epochs`` (40) epochs with a
cosine schedule over them and early stopping on validation. Where a model's best epoch was its
last at that cap, it may have stopped short, and a win over it may be the cap's. Each
:class:`CapRound` of ``ROUNDS`` lists the (model, pair)s of the table at its ``table`` commit
whose best epoch was the last of the round's ``short`` cap in at least two of five seeds;
``validation_runs.py --sweep <CapRound.sweep(model)>`` trains them for ``long`` epochs (validation metrics
only) and :func:`cap_choice` applies the rule written down before those runs: ``long`` replaces
``short`` for that (model, pair) when its mean validation target metric over the seeds both ran
is lower than the table's ``short``-epoch runs'. The table then re-runs the chosen ones with
``--epochs <long> --only``, and each run records its cap (``epochs``).

Round 80 (rule committed at 65903b1): the table at 50706af, 40 against 80. Round 160 (rule
committed at 74e1026, before its runs): the table at b5c49d9, where the rows at
the cap of 80 whose best epoch was the 80th in >= 2 of 5 seeds were the GRU's on nycbike-drop
10% (5 of 5) and nycbike1 10% (5 of 5) and full (3 of 5); no row at the cap of 40 had its best
epoch at the 40th in more than one seed.

    python benchmarks/validation_runs.py --sweep cap160-gru --seeds 0 1 2 3 4
    python benchmarks/epoch_cap.py --round 160

Round 320 (rule committed at e4a5b7a, before its runs and before any test number of the 160-epoch runs was
read): the best epochs of round 160's validation runs (``validation-cap160-gru.json`` at
7f4bf13; the table's 160-epoch runs train the same seeds on the same code) were the 160th in 5 of
5 seeds for the GRU on nycbike1 10%, in 1 of 5 on nycbike-drop 10% (128 to 160) and in none on
nycbike1 full (92 to 145, early stopping), so only the first trains 320 epochs
(``--sweep cap320-gru``, ``--round 320``).

The near rounds (rule committed before their runs, after rounds 80 to 320 were in the table):
a best epoch exactly at the cap is the only signal the rounds above read, and a run whose best
epoch is a few short of its cap may stop short as well. :func:`near_cap` lists every baseline
(model, pair) of a table where at least two of five seeds trained to the cap (early stopping
did not end them) with their best epoch in its last 5% (``best_epoch >= 0.95 * cap``); in the
table at 5cbd8a5 they are, with their best epochs per seed (the GRU on nycbike1 10%, 304 and
307 of 320, is not one: early stopping ended both seeds):

- on the pairs the issue's target counts: the GRU on los-loop 10% (cap 80: 78, 48, 76, 79, 79)
  and nycbike-drop 10% (cap 160: 158, 158, 128, 160, 157), STID (cap 80: 71, 80, 75, 76, 78) and
  Graph WaveNet (cap 80: 63, 77, 77, 51, 51) on nycbike1 10%, and STAEformer on nycbike-drop 10%
  (cap 40: 20, 34, 40, 30, 38) and nycbike1 10% (cap 40: 30, 38, 15, 40, 39);
- on the full training parts: the GRU on nycbike-drop full (cap 40: 35, 40, 39, 37, 37), Graph
  WaveNet (cap 40: 38, 40, 36, 30, 33) and STAEformer (cap 40: 37, 38, 39, 38, 39) on nycbike1
  full.

Rounds ``near160`` (80 against 160) and ``near320`` (160 against 320) check the four of the
target pairs that are not STAEformer's; the same rule as above decides. Round ``near80`` (40
against 80; its rule committed while those two rounds' last runs trained, before its own runs and
before any of their test numbers was read) checks the GRU on nycbike-drop full, where ST-VLM's
masked-metric lead over the GRU is at stake (a few minutes a seed). Not checked, for CPU cost
(an hour or more per seed at twice the cap for STAEformer on nycbike-drop 10%; 20 min per seed
of Graph WaveNet on nycbike1 full at 80, which beats ST-VLM there already), and named on the
results page as such: the STAEformer rows and Graph WaveNet on nycbike1 full. ST-VLM's own
capped rows are not baselines; round ``own80`` below checks them. Unlike rounds 80 to 320, the near
rounds do not run ``validation_runs.py`` first: each capped row runs once, as the table runs
it (``fewshot_accuracy.py --only <model> --epochs <long> --out-dir <a copy of the results
folder>``), and ``--runs <copies>`` reads the validation metrics of those runs (never their
test metrics) for the same rule; a chosen row enters the table with ``fewshot_accuracy.py
--merge <copy> --replace <model>``, the rest are left out.

    python benchmarks/epoch_cap.py --round near160 --runs /tmp/near-b /tmp/near-stid /tmp/near-gw012 /tmp/near-gw34
    python benchmarks/epoch_cap.py --round near320 --runs /tmp/near-a
    python benchmarks/epoch_cap.py --round near80 --runs /tmp/near-c /tmp/near-c34

(``/tmp/near-b``: ``--only gru --epochs 160`` on los-loop 10%; ``near-stid``: ``--only stid
--epochs 160`` on nycbike1 10%; ``near-gw012`` and ``near-gw34``: ``--only gwnet --epochs
160`` seeds 0-2 and 3-4 there; ``near-a``: ``--only gru --epochs 320`` on nycbike-drop 10%;
``near-c`` and ``near-c34``: ``--only gru --epochs 80 --skip staeformer`` seeds 0-2 and 3-4 on
nycbike-drop full.) All four rows of ``near160`` and ``near320`` took the longer cap
(``epoch-cap-near160.json``, ``epoch-cap-near320.json``), and early stopping ended every seed
there (best epochs 85 to 110 of 160, 131 to 200 of 320, 64 to 132 and 45 to 75 of 160). So did
``near80``'s (``epoch-cap-near80.json``: 1.905 to 1.895; best epochs 37 to 44 of 80). Each
choice recomputes from committed files: the table holds the longer-cap runs (``--runs
results/fewshot_accuracy``), the table at 2beb8b1 the shorter (``--table``).

Round ``own80`` (40 against 80; the table at b1882a9, rule committed before its runs): ST-VLM's
own rows that :func:`near_cap` lists with ``skip=()``, two of five seeds trained to 40 with their
best epoch at 38 or later, los-loop full (33, 40, 33, 34, 39) and sz-taxi full (25, 40, 33, 39,
34), the "under-trained" line of the results page.
A longer cap cannot make a comparison unfair to a baseline, but it may change ST-VLM's own
standing, including the narrow los-loop full win over STAEformer (-0.115 [-0.236, -0.004]), so
the same rule decides as for the baselines, on the same kind of runs as the near rounds:

    python benchmarks/fewshot_accuracy.py --out-dir /tmp/own-ll --only st-vlm --seeds 0 1 2 3 4 --epochs 80 --datasets los-loop --settings full
    python benchmarks/fewshot_accuracy.py --out-dir /tmp/own-sz --only st-vlm --seeds 0 1 2 3 4 --epochs 80 --datasets sz-taxi --settings full
    python benchmarks/epoch_cap.py --round own80 --runs /tmp/own-ll /tmp/own-sz

(each ``--out-dir`` a copy of ``results/fewshot_accuracy``; ``--replace`` takes baselines only, so
a chosen row enters the table as its copy: ``--only st-vlm`` kept every other model's committed
runs whole, and the copy's ``fewshot_accuracy.json``, ``README.md`` and ``errors-<pair>.npz`` are
the table's with that row run again). Run after the table at 1e24929: los-loop full took 80
(validation target 2.9787 to 2.9523, best epochs 50 to 72, early stopping in four seeds of
five) and sz-taxi full kept 40 (2.9054 against 2.9080), ``epoch-cap-own80.json``.

Round ``near80-sz`` (40 against 80; the table at 7adb276, rule committed before its runs): once
the GRU's sz-taxi full rows trained with level augmentation (``BASELINE_TRAIN``), three of five
seeds ended within the last 5% of 40 epochs (39, 38, 38, 35, 35), and that GRU is the runner-up
of ST-VLM's one win. The near rounds' rule and runs:

    python benchmarks/fewshot_accuracy.py --out-dir /work/runs/nsz-a --only gru --seeds 0 1 2 --epochs 80 --datasets sz-taxi --settings full
    python benchmarks/fewshot_accuracy.py --out-dir /work/runs/nsz-b --only gru --seeds 3 4 --epochs 80 --datasets sz-taxi --settings full
    python benchmarks/epoch_cap.py --round near80-sz --runs /work/runs/nsz-a /work/runs/nsz-b

It took 80 (validation target 2.9319 to 2.9312, ``epoch-cap-near80-sz.json``; best epochs 27 to
70, early stopping in four seeds of five), and the table holds those runs (``--merge`` of both
folders with ``--replace gru``).

Round ``own80-sz`` (40 against 80; the table at a7582be, rule committed before its runs): ST-VLM
on sz-taxi full, its one pair where the target is met. Round ``own80`` kept 40 epochs there,
but it ran before ST-VLM trained on level-augmented windows; since then all five seeds run to
the cap of 40 without early stopping ending one (best epochs 40, 34, 37, 37, 37: the results
page's "under-trained" line), while the runner-up there, the GRU, trains for 80 (``near80-sz``).
Only one seed has its best epoch in the last 5% of the cap, so :func:`near_cap`'s two-seed
criterion does not list the row; the round is offered because no run ended by early stopping.
The same rule, on the same kind of runs (one copy, the five seeds in one process, as ``own80``):

    python benchmarks/fewshot_accuracy.py --out-dir /work/runs/own-sz --only st-vlm --seeds 0 1 2 3 4 --epochs 80 --datasets sz-taxi --settings full
    python benchmarks/epoch_cap.py --round own80-sz --runs /work/runs/own-sz

If 80 is chosen the copy's row enters the table as ``own80``'s did; otherwise the table keeps
the 40-epoch rows and the page keeps the line. It kept 40 (validation target 2.9043 at 40
against 2.9072 at 80; at 80 early stopping ended every seed, best epochs 38 to 54;
``epoch-cap-own80-sz.json``).

Round ``own80-now`` (40 against 80; the table at 9ececb4, rule committed before its runs): the
ST-VLM rows of that table where early stopping ended no seed at the cap of 40 and no round had
offered 80 at their settings: nycbike-drop 10%, a pair the target counts (best epochs 40, 39, 37,
39, 33: :func:`near_cap` with ``skip=()`` lists it), and nycbike1 full (35, 36, 39, 37, 33;
offered as ``own80-sz`` was). The same rule, on the same kind of runs (a copy per pair):

    python benchmarks/fewshot_accuracy.py --out-dir /work/runs/own-drop --only st-vlm --seeds 0 1 2 3 4 --epochs 80 --datasets nycbike-drop --settings 10%
    python benchmarks/fewshot_accuracy.py --out-dir /work/runs/own-b1 --only st-vlm --seeds 0 1 2 3 4 --epochs 80 --datasets nycbike1 --settings full
    python benchmarks/epoch_cap.py --round own80-now --runs /work/runs/own-drop /work/runs/own-b1

A chosen row enters the table as ``own80``'s did (where both are chosen, the second pair runs
again in a copy of the first's folder), and a chosen nycbike-drop 10% re-runs the modality
ablation's rows of that pair at 80 epochs, as los-loop 10%'s were, so that ABLATION.md keeps the
table's training. Both took 80 (``epoch-cap-own80-now.json``): nycbike-drop 10% 1.8718 to 1.8639
(best epochs 79, 69, 79, 65, 44 of 80), nycbike1 full 3.5951 to 3.5927 (71, 22, 69, 56, 26; early
stopping in four seeds); nycbike1 full ran again in a copy of ``/work/runs/own-drop``
(``/work/runs/own-both``, the same figures to the digit), and the table holds that copy's rows.
``--check --recorded --table`` the table at 99e31a8 recomputes the choice.

Round ``own160`` (80 against 160; the table at c089071, rule committed before its runs): at 80
epochs ST-VLM on nycbike-drop 10% still trains to the cap in two seeds with its best epoch the
79th (:func:`near_cap` with ``skip=()`` lists it), as the GRU's rows did before rounds 160 and
320. The same rule, on the same kind of runs:

    python benchmarks/fewshot_accuracy.py --out-dir /work/runs/own160 --only st-vlm --seeds 0 1 2 3 4 --epochs 160 --datasets nycbike-drop --settings 10%
    python benchmarks/epoch_cap.py --round own160 --runs /work/runs/own160

If 160 is chosen the copy's row enters the table and the modality ablation's nycbike-drop 10%
rows run at 160; otherwise both stay at 80. It took 160 (``epoch-cap-own160.json``: 1.8639 to
1.8633; early stopping ended every seed, best epochs 63 to 81), so no further round follows.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, NamedTuple

from bench_paths import ACCURACY_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fewshot_merge import pair_cap, run_epochs, split_option  # noqa: E402
from fewshot_setup import target_value  # noqa: E402

from harness.results.provenance import provenance  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

RESULTS = ACCURACY_DIR

Capped = dict[str, tuple[tuple[str, str], ...]]  # model -> its (dataset, setting) pairs


class CapRound(NamedTuple):
    """One check of the epoch cap: ``capped`` (model -> pairs) trained for ``long`` epochs
    instead of ``short``; the (model, pair)s were read off the results at commit ``table``;
    ``name`` is its key in ``ROUNDS`` and ``--round``."""

    short: int
    long: int
    capped: Capped
    table: str
    name: str

    @property
    def rule(self) -> str:
        return (f"per (model, dataset, setting) of the round's capped pairs: {self.long} epochs replace "
                f"{self.short} when the mean over the seeds of the validation target metric (the mean of "
                f"masked and all-entries MAE) is lower than the table's {self.short}-epoch runs' (written "
                "down before the runs)")

    def sweep(self, model: str) -> str:
        """The ``validation_runs.py`` sweep of ``model``'s pairs (round 80 kept its first names)."""
        return f"cap-{model}" if self.name == "80" else f"cap{self.name}-{model}"

    @property
    def out_name(self) -> str:
        return "epoch-cap.json" if self.name == "80" else f"epoch-cap-{self.name}.json"


def near_cap(table: dict[str, Any], skip: tuple[str, ...] = ("st-vlm",), fraction: float = 0.95,
             min_seeds: int = 2) -> list[dict[str, Any]]:
    """The (model, pair)s of ``table`` (a benchmark JSON), ``skip``'s models left out, where at
    least ``min_seeds`` seeds trained to their cap (early stopping did not end them) with their
    best epoch at ``fraction`` of it or later: rows
    ``{model, dataset, setting, cap, best_epochs}`` (best epochs in seed order), in table order.

    Raises:
        ValueError: a (model, pair) whose runs have more than one cap.
    """
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in table["runs"]:
        if r["model"] not in skip and r.get("epochs_run"):
            groups.setdefault((r["model"], r["dataset"], r["setting"]), []).append(r)
    out = []
    for (model, dataset, setting), runs in groups.items():
        cap = pair_cap(table, model, dataset, setting)
        runs = sorted(runs, key=lambda r: r["seed"])
        best = [r["best_epoch"] for r in runs]
        if sum(r["epochs_run"] == cap and r["best_epoch"] >= fraction * cap for r in runs) >= min_seeds:
            out.append({"model": model, "dataset": dataset, "setting": setting, "cap": cap, "best_epochs": best})
    return out


#: name -> its round.
ROUNDS: dict[str, CapRound] = {
    "80": CapRound(40, 80, {
        "st-vlm": (("los-loop", "10%"),),
        "gru": (("los-loop", "10%"), ("nycbike-drop", "10%"), ("nycbike1", "10%"), ("nycbike1", "full")),
        "stid": (("nycbike1", "10%"),),
        "gwnet": (("nycbike1", "10%"),),
    }, "50706af", "80"),
    "160": CapRound(80, 160, {
        "gru": (("nycbike-drop", "10%"), ("nycbike1", "10%"), ("nycbike1", "full")),
    }, "b5c49d9", "160"),
    "320": CapRound(160, 320, {"gru": (("nycbike1", "10%"),)}, "7f4bf13", "320"),
    "near160": CapRound(80, 160, {
        "gru": (("los-loop", "10%"),), "stid": (("nycbike1", "10%"),), "gwnet": (("nycbike1", "10%"),),
    }, "5cbd8a5", "near160"),
    "near320": CapRound(160, 320, {"gru": (("nycbike-drop", "10%"),)}, "5cbd8a5", "near320"),
    "near80": CapRound(40, 80, {"gru": (("nycbike-drop", "full"),)}, "5cbd8a5", "near80"),
    "own80": CapRound(40, 80, {"st-vlm": (("los-loop", "full"), ("sz-taxi", "full"))}, "b1882a9", "own80"),
    "near80-sz": CapRound(40, 80, {"gru": (("sz-taxi", "full"),)}, "7adb276", "near80-sz"),
    "own80-sz": CapRound(40, 80, {"st-vlm": (("sz-taxi", "full"),)}, "a7582be", "own80-sz"),
    "own80-now": CapRound(40, 80, {"st-vlm": (("nycbike-drop", "10%"), ("nycbike1", "full"))}, "9ececb4",
                          "own80-now"),
    "own160": CapRound(80, 160, {"st-vlm": (("nycbike-drop", "10%"),)}, "c089071", "own160"),
}


def cap_choice(sweep_rows: list[dict[str, Any]], table: dict[str, Any], rnd: CapRound) -> list[dict[str, Any]]:
    """Per (model, dataset, setting) of ``sweep_rows`` (a round's sweep rows, ``rnd.long``
    epochs): the mean validation target metric over the seeds it shares with ``table``'s runs at
    ``rnd.short`` epochs (a run without its own ``epochs`` is at the table's ``meta.epochs``),
    and the cap chosen.

    Returns rows ``{model, dataset, setting, seeds, short, long, epochs}`` in sweep order.

    Raises:
        ValueError: a (model, pair) whose seeds the table does not hold at ``rnd.short`` epochs.
    """
    default = table["meta"]["epochs"]
    groups: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in sweep_rows:
        groups.setdefault((r["model"], r["dataset"], r["setting"]), {})[r["seed"]] = \
            target_value(r["val_mae"], r["val_mae_all"])
    out = []
    for (model, dataset, setting), long in groups.items():
        short = {r["seed"]: target_value(r["val"]["mae"], r["val"]["mae_all"]) for r in table["runs"]
                 if (r["model"], r["dataset"], r["setting"]) == (model, dataset, setting)
                 and run_epochs(r, default) == rnd.short}
        seeds = sorted(set(short) & set(long))
        if not seeds:
            raise ValueError(f"{model} {dataset} {setting}: the table has no {rnd.short}-epoch run of seeds "
                             f"{sorted(long)}")
        s = sum(short[k] for k in seeds) / len(seeds)
        lg = sum(long[k] for k in seeds) / len(seeds)
        out.append({"model": model, "dataset": dataset, "setting": setting, "seeds": seeds,
                    "short": s, "long": lg, "epochs": rnd.long if lg < s else rnd.short})
    return out


#: What a round's choice is made of, and what ``--check`` compares: the (model, pair), the seeds
#: both caps ran, both mean validation targets and the cap chosen.
CHOICE_FIELDS = ("model", "dataset", "setting", "seeds", "short", "long", "epochs")


def choice_differences(recomputed: list[dict[str, Any]], committed: list[dict[str, Any]]) -> list[str]:
    """Where ``recomputed`` choices (:func:`cap_choice`) differ from a round file's ``committed``
    ones, a line per (model, pair): a pair only one side has, or each field of
    :data:`CHOICE_FIELDS` that differs, e.g. ``"gru los-loop 10%: long 3.128067... recomputed,
    3.142374... committed"`` (floats in full); ``[]`` when they are the same, float for float."""
    def by_pair(choices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {" ".join(c[f] for f in CHOICE_FIELDS[:3]): c for c in choices}

    new, old = by_pair(recomputed), by_pair(committed)
    lines = [f"{pair}: only {side}" for pair, side in
             [*((p, "recomputed") for p in new if p not in old), *((p, "committed") for p in old if p not in new)]]
    for pair in (p for p in new if p in old):
        lines += [f"{pair}: {f} {new[pair][f]} recomputed, {old[pair][f]} committed"
                  for f in CHOICE_FIELDS[3:] if new[pair][f] != old[pair][f]]
    return lines


def run_rows(copies: list[tuple[str, dict[str, Any]]], rnd: CapRound) -> list[dict[str, Any]]:
    """The validation metrics of the ``rnd.long``-epoch runs of ``rnd.capped`` in ``copies``
    (name, benchmark JSON of a results folder the table's commands ran in), as sweep rows
    ``{model, dataset, setting, seed, val_mae, val_mae_all, from}`` for :func:`cap_choice`: the
    near rounds read these instead of ``validation_runs.py`` files. A run's test metrics are not
    read.

    Raises:
        ValueError: a seed two copies hold with other validation metrics; no such run at all.
    """
    rows: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for name, src in copies:
        default = src["meta"]["epochs"]
        for r in src["runs"]:
            if (r["dataset"], r["setting"]) not in rnd.capped.get(r["model"], ()) or run_epochs(r, default) != rnd.long:
                continue
            key = (r["model"], r["dataset"], r["setting"], r["seed"])
            row = {"model": key[0], "dataset": key[1], "setting": key[2], "seed": key[3],
                   "val_mae": r["val"]["mae"], "val_mae_all": r["val"]["mae_all"], "from": name}
            held = rows.setdefault(key, row)
            if (held["val_mae"], held["val_mae_all"]) != (row["val_mae"], row["val_mae_all"]):
                raise ValueError(f"{key[0]} {key[1]} {key[2]} seed {key[3]}: {held['from']} and {name} hold other "
                                 "validation metrics")
    if not rows:
        raise ValueError(f"no {rnd.long}-epoch run of the round's pairs in {', '.join(n for n, _ in copies)}")
    return list(rows.values())


def only_commands(choices: list[dict[str, Any]], table: dict[str, Any], rnd: CapRound) -> list[str]:
    """The ``fewshot_accuracy.py --only`` runs that put the chosen ``rnd.long``-epoch caps in
    ``table``: one per (dataset, setting), naming every model chosen there, all five seeds, and
    skipping what the table's run of the pair skipped."""
    by: dict[tuple[str, str], list[str]] = {}
    for c in choices:
        if c["epochs"] == rnd.long:
            by.setdefault((c["dataset"], c["setting"]), []).append(c["model"])
    commands = []
    for (dataset, setting), models in by.items():
        skipped = split_option(table, table["splits"][f"{dataset}|{setting}"], "skipped")
        commands.append(f"python benchmarks/fewshot_accuracy.py --only {' '.join(models)} --seeds 0 1 2 3 4 "
                        f"--epochs {rnd.long} --datasets {dataset} --settings {setting}"
                        + (f" --skip {' '.join(skipped)}" if skipped else ""))
    return commands


def main() -> int:
    """Read the round's ``validation-<sweep>.json`` files (or ``--runs``' folders) and the table, write the round's
    ``epoch-cap*.json`` (the choice per (model, pair) and the ``--only`` commands it calls for)
    and log them; with ``--check``, compare the choices with that file instead and write nothing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round", default="80", choices=list(ROUNDS),
                        help="the round (near*: rows whose best epoch was near the cap; own*: ST-VLM's own "
                        "capped rows): " + ", ".join(f"{r.name} ({r.short} against {r.long})" for r in ROUNDS.values()))
    parser.add_argument("--dir", type=Path, default=RESULTS, help="the accuracy table's folder")
    parser.add_argument("--table", type=Path, default=None,
                        help="the table whose shorter-cap runs are the reference (default: the folder's; once "
                        "the chosen runs replaced them: the committed one before, e.g. from git show)")
    parser.add_argument("--runs", type=Path, nargs="+", default=[],
                        help="results folders whose fewshot_accuracy.json holds the round's longer-cap runs (made "
                        "with fewshot_accuracy.py --only --epochs <long> --out-dir): their validation metrics "
                        "instead of the round's validation-<sweep>.json files")
    parser.add_argument("--check", action="store_true",
                        help="write nothing: recompute the choices and compare them with the round's committed "
                        "file in --dir (fields: " + ", ".join(CHOICE_FIELDS) + "); status 1 when they differ")
    parser.add_argument("--recorded", action="store_true",
                        help="with --check: the longer-cap runs' validation metrics as the round file records "
                        "them per seed (rounds since own80-sz), instead of --runs or the sweep files")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rnd = ROUNDS[args.round]
    table_path = args.table or args.dir / "fewshot_accuracy.json"
    committed = args.dir / rnd.out_name
    if args.recorded and (not args.check or args.runs):
        parser.error("--recorded: only with --check, and not with --runs (it replaces them)")
    if args.check and not committed.is_file():
        parser.error(f"--check: no round file {committed} to compare with (--dir: the folder that holds it)")
    round_file = json.loads(committed.read_text()) if args.check else {}
    recorded = round_file.get("runs") if args.recorded else None
    if args.recorded and not recorded:
        parser.error(f"--recorded: {committed} records no per-seed runs (rounds before own80-sz: --runs or the "
                     "sweep files)")
    sources = ([d / "fewshot_accuracy.json" for d in args.runs] if args.runs else [] if recorded
               else [args.dir / f"validation-{rnd.sweep(model)}.json" for model in rnd.capped])
    missing = [str(f) for f in [table_path, *sources] if not f.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)} (" + (
            "run the round's fewshot_accuracy.py --only commands there first)" if args.runs else
            f"run validation_runs.py --sweep {rnd.sweep('<model>')} first)"))
    table = json.loads(table_path.read_text())
    try:
        if args.runs:
            copies = [(str(d), json.loads(f.read_text())) for d, f in zip(args.runs, sources)]
            rows = run_rows(copies, rnd)
        elif recorded:
            rows = recorded
        else:
            rows = [r for f in sources for r in json.loads(f.read_text())["rows"]]
        choices = cap_choice(rows, table, rnd)
    except ValueError as err:
        parser.error(str(err))
    for c in choices:
        logging.info("%s %s %s: validation target %.4f at %d epochs, %.4f at %d -> %d",
                     c["model"], c["dataset"], c["setting"], c["short"], rnd.short, c["long"], rnd.long, c["epochs"])
    if args.check:
        differences = choice_differences(choices, round_file["choices"])
        for line in differences:
            logging.info("differs: %s", line)
        logging.info("%s: %s", committed, (
            "the recomputed choices differ (where the table re-ran a row since the round, check against "
            f"the tables of then: --table from `git show {rnd.table}:results/fewshot_accuracy/fewshot_accuracy.json`, "
            "--runs a folder holding the table of the commit that took the round's runs)") if differences else
            "the recomputed choices are the committed ones, float for float")
        return 1 if differences else 0
    out = {**provenance(), "command": " ".join(["python benchmarks/epoch_cap.py", *sys.argv[1:]]), "rule": rnd.rule,
           "table_commit": table.get("git_commit"), "choices": choices,
           "only_commands": only_commands(choices, table, rnd),
           **({"runs_from": {name: src.get("git_commit") for name, src in copies},
               "runs": rows} if args.runs else {})}  # per seed: a cap not taken leaves no table rows
    atomic_write_json(committed, out)
    logging.info("wrote %s", committed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
