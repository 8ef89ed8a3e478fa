"""The Tune / Train runtime: the runner, the cluster connection, search and schedulers, the
trial bodies and what they report, DDP sharding, the Tune callbacks, progress output, and every
private Ray/Optuna access (``private_api``). The only part of the harness that imports Ray."""
