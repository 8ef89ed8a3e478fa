"""The study harness: everything that schedules, searches, tracks and reports ST-VLM runs.

Grouped by concern (docs/architecture.md): ``study`` (spec and planning), ``runtime`` (Tune and
Train; the only part that imports Ray), ``results`` (tables, record, provenance), ``report``
(comparison reports), ``cli`` (the ``stvlm`` command and the study scripts' flags).
"""
