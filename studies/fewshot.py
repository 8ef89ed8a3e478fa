"""Few-shot study: ST-VLM per few-shot ratio x seed, nuisance settings tuned inside every arm,
baselines evaluated on exactly the same splits. Spec: studies/configs/fewshot.toml.

Run locally (starts a Ray instance on 127.0.0.1, shuts it down at the end):

    STVLM_DATA=../shared/data python studies/fewshot.py --smoke-test
    STVLM_DATA=../shared/data python studies/fewshot.py --num-samples 4

Run on a cluster (storage and results must be absolute, or URIs, inside a job):

    RAY_AUTH_MODE=token ray job submit --address http://127.0.0.1:8265 --working-dir . -- \\
        python studies/fewshot.py --data-root /abs/data --storage /abs/ray --results-dir /abs/results

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
    return study_main("fewshot.py", __doc__.split("\n\n")[0], ROOT / "studies/configs/fewshot.toml", argv)


if __name__ == "__main__":
    raise SystemExit(main())
