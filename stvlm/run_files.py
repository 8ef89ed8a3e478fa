"""The names of the files a training run writes, in one place and without torch.

``stvlm.experiment`` writes them; the CLI's early checks (``harness/study/owned.py``) recognise a
run or a checkpoint folder by them before the model stack is imported, so this module imports
nothing.

A run folder (``stvlm train --out``)::

    config.json       RUN_CONFIG: the experiment config
    metrics.json      RUN_METRICS: validation and test metrics, budget, timings
    summary.json      RUN_SUMMARY: the CLI's record (config hash, applied defaults)
    checkpoint/       RUN_CHECKPOINT: the model (save_pretrained) plus EXPERIMENT_FILE
"""

from __future__ import annotations

RUN_CONFIG = "config.json"
RUN_METRICS = "metrics.json"
RUN_SUMMARY = "summary.json"
RUN_CHECKPOINT = "checkpoint"
#: The data and training settings beside a saved model in a checkpoint folder.
EXPERIMENT_FILE = "experiment.json"
#: The files beside ``checkpoint/`` in a run folder.
RUN_RECORDS = (RUN_CONFIG, RUN_METRICS, RUN_SUMMARY)
