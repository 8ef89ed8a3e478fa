"""Hand-made study results that follow docs/results-format.md column for column (test helper).

``write_study`` builds a small few-shot study (two arms, four ST-VLM configurations per arm,
three seeds, two baselines, one failed and one pruned trial) with numbers from a seeded
generator, and writes trials.parquet, curves.parquet and study.json the way the harness does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

METRICS = ("mae", "rmse", "mape", "wape")
HORIZONS = (3, 6, 12)
SCALE = {"mae": 1.0, "rmse": 1.5, "mape": 25.0, "wape": 20.0}
HORIZON_FACTOR = {3: 0.8, 6: 1.0, 12: 1.2}
#: (image_encoding, fusion_depth, lora_rank, lr) of the four ST-VLM configurations per arm.
CONFIGS = (
    ("grid_heatmap", "0", 4, 1e-3),
    ("grid_heatmap", "1", 8, 1e-4),
    ("node_time", "0", 8, 1e-4),
    ("node_time", "1", 4, 1e-3),
)


def _metrics(base: float, rng: np.random.Generator, *, test: bool) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for split in ("val", "test"):
        if split == "test" and not test:
            for m in METRICS:
                out[f"test_{m}"] = None
                out.update({f"test_{m}_h{h}": None for h in HORIZONS})
            continue
        mae = base + (0.05 if split == "val" else 0.0) + float(rng.normal(0, 0.02))
        for m in METRICS:
            out[f"{split}_{m}"] = mae * SCALE[m]
            for h in HORIZONS:
                out[f"{split}_{m}_h{h}"] = mae * SCALE[m] * HORIZON_FACTOR[h] + float(rng.normal(0, 0.01))
    return out


def _row(study: str, trial_id: str, arm: str, kind: str, model: str, seed: int, ratio: float,
         dataset: str, status: str, params: dict, metrics: dict, cfg: tuple | None) -> dict:
    enc, depth, rank, _ = cfg if cfg else (None, None, None, None)
    return {
        "study": study, "trial_id": trial_id, "arm": arm, "kind": kind, "model": model,
        "status": status, "error": "RuntimeError: out of memory" if status == "failed" else None,
        "seed": seed, "dataset": dataset, "protocol": "standard", "few_shot_ratio": ratio,
        "few_shot_method": "first", "few_shot_label": f"first-{ratio * 100:g}%",
        "fusion_depth": depth, "image_encoding": enc, "lora_rank": rank,
        "finetune": "lora" if cfg else None, "backbone": "vilt" if cfg else None,
        "modality": "all" if cfg else None, "params_json": json.dumps(params),
        "config_json": json.dumps({"params": params, "seed": seed}), "config_hash": f"h{trial_id}",
        **metrics,
        "best_epoch": None if status == "failed" else 2, "epochs_run": {"completed": 3, "pruned": 2, "failed": 1}[status],
        "windows_seen": 300, "train_windows": int(1000 * ratio),
        "trainable_parameters": (10_000 * (rank or 1) if cfg else None),
        "total_parameters": 1_000_000 if cfg else None,
        "wall_seconds": 10.0 + seed, "train_seconds": (8.0 + (rank or 0)) if cfg else 0.5,
        "device": "cpu", "num_workers": 1, "num_failures": 0, "resumed_from_epoch": None,
        "node_id": "n1", "versions_json": json.dumps({"python": "3.11.0", "polars": pl.__version__}),
        "git_commit": "abc123", "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
    }


def study_frames(name: str = "fewshot-demo", *, dataset: str = "nycbike-drop", ratios=(0.1, 0.5),
                 seeds=(0, 1, 2), problems: bool = True, configs=CONFIGS,
                 baselines: bool = True) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(trials, curves) of a synthetic few-shot study."""
    rng = np.random.default_rng(7)
    rows, curves = [], []
    for ratio in ratios:
        arm = f"few_shot_ratio={ratio:g}"
        for c, cfg in enumerate(configs):
            params = {"train.lr": cfg[3], "model.fusion.depth": cfg[1], "seed": 0}
            for seed in seeds:
                status = "completed"
                if problems and ratio == ratios[0] and (c, seed) == (1, seeds[-1]):
                    status = "failed"
                if problems and ratio == ratios[0] and (c, seed) == (3, seeds[0]):
                    status = "pruned"
                tid = f"{name}-{arm}-c{c}-s{seed}"
                base = 2.0 + 0.5 * (1 - ratio) + 0.1 * c
                m = _metrics(base, rng, test=status == "completed")
                if status == "failed":
                    m = {k: None for k in m}
                rows.append(_row(name, tid, arm, "stvlm", "stvlm", seed, ratio, dataset, status, params, m, cfg))
                for epoch in range(1, {"completed": 4, "pruned": 3, "failed": 1}[status]):
                    curves.append({"study": name, "trial_id": tid, "arm": arm, "seed": seed, "epoch": epoch,
                                   "train_loss": base * (1 + 1.0 / epoch), "val_mae": base * (1 + 0.5 / epoch),
                                   "seconds": 1.5, "windows_seen": 100 * epoch})
        for model, base in (("seasonal-naive", 2.6), ("ridge", 2.3 + 0.3 * (1 - ratio)))[: 2 * baselines]:
            det = _metrics(base, np.random.default_rng(1), test=True)
            for seed in seeds:
                m = det if model == "seasonal-naive" else _metrics(base, rng, test=True)
                rows.append(_row(name, f"{name}-{arm}-{model}-s{seed}", arm, "baseline", model, seed, ratio,
                                 dataset, "completed", {}, m, None))
    return pl.DataFrame(rows, infer_schema_length=None), pl.DataFrame(curves)


def write_study(root: Path, name: str = "fewshot-demo", *, curves: bool = True, **kwargs) -> Path:
    """Write a synthetic study into ``root/<name>`` and return the folder."""
    trials, curve_frame = study_frames(name, **kwargs)
    folder = root / name
    folder.mkdir(parents=True)
    trials.write_parquet(folder / "trials.parquet")
    if curves:
        curve_frame.write_parquet(folder / "curves.parquet")
    spec = {
        "study": name, "spec": {"name": name, "metric": "mae", "seeds": 3},
        "arms": [{"label": a, "values": {}} for a in trials["arm"].unique(maintain_order=True)],
        "command": "fewshot.py --config studies/configs/demo.toml",
        "provenance": {"versions": {"python": "3.11.0", "polars": pl.__version__}, "git_commit": "abc123",
                       "device": "cpu", "command": "fewshot.py --config studies/configs/demo.toml"},
        "storage": "/tmp/ray", "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:10:00+00:00",
        "runs": [{"started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:10:00+00:00"}],
    }
    (folder / "study.json").write_text(json.dumps(spec, indent=2))
    return folder


def fast_config(**kwargs) -> "ReportConfig":
    """Small, low-resolution figures for tests that do not look at pixels."""
    from harness.report import ReportConfig

    return ReportConfig(dpi=50, figure_width=3.0, figure_height=2.0, **kwargs)


DEMO_ANCHORS = (
    "dataset,protocol,model,metric,value,source,few_shot_ratio,notes\n"
    "nycbike-drop,standard,ST-LLM,mae,2.5,paper T4,0.1,ten percent\n"
    "nycbike-drop,standard,ST-LLM,rmse,3.0,paper T4,0.1,\n"
    "nycbike-drop,standard,ST-LLM,mae,1.9,paper T2,1.0,full shot: matches no arm\n"
    "los-loop,standard,X,mae,1.0,elsewhere,0.1,other dataset: matches nothing\n"
)
