"""The names of the files in a study's results folder, in one place (imports nothing, so the
CLI's early checks read them before the results stack loads). See docs/results-format.md.

``results/<study>/``::

    trials.parquet   TRIALS_FILE: one row per trial
    curves.parquet   CURVES_FILE: one row per trial and epoch
    study.json       STUDY_RECORD: what ran, how, where and when
"""

from __future__ import annotations

TRIALS_FILE = "trials.parquet"
CURVES_FILE = "curves.parquet"
STUDY_RECORD = "study.json"
