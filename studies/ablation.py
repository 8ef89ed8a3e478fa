"""Ablation study: one axis at a time (fusion depth, image encoding, LoRA rank, fine-tuning
strategy, modality drop-out) with everything else fixed; Optuna tunes the learning rate inside
every arm and seed; baselines run once per seed on the shared split.
Spec: studies/configs/ablation.toml.

Run locally (starts a Ray instance on 127.0.0.1, shuts it down at the end):

    STVLM_DATA=../shared/data python studies/ablation.py --smoke-test
    STVLM_DATA=../shared/data python studies/ablation.py --num-samples 2

Run on a cluster (storage and results must be absolute, or URIs, inside a job):

    RAY_AUTH_MODE=token ray job submit --address http://127.0.0.1:8265 --working-dir . -- \\
        python studies/ablation.py --data-root /abs/data --storage /abs/ray --results-dir /abs/results

Running the same command again resumes the study: finished trials are kept, unfinished ones
continue from their checkpoints. Results: <results-dir>/<study>/{trials,curves}.parquet, study.json
(``--results-dir``: default runs/studies/).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `ray job submit --working-dir .` runs this file as a script

from harness.cli.entry import study_main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return study_main("ablation.py", __doc__.split("\n\n")[0], ROOT / "studies/configs/ablation.toml", argv)


if __name__ == "__main__":
    raise SystemExit(main())
