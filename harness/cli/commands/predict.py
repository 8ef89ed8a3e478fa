"""``stvlm predict``: forecasts of a saved ST-VLM for every window of a part, as one ``.npz``."""

from __future__ import annotations

import argparse
import io
from typing import Any

from harness.cli.commands.base import CHECKPOINT_ROOT, COMMANDS, Command, add_data_root, emit
from harness.study.owned import check_checkpoint_dir, check_not_owned
from harness.study.paths import check_output_file
from stvlm.data.root import resolve_data_root
from stvlm.errors import ConfigError

PARTS = ("train", "val", "test")


def _run(args: argparse.Namespace) -> int:
    check_output_file(args.out, "--out")  # before torch is imported
    check_not_owned(args.out, "--out")
    if not str(args.out).endswith(".npz"):
        raise ConfigError(f"--out {args.out!r} is not a .npz file; give a path ending in .npz")
    check_checkpoint_dir(args.checkpoint)
    if args.data_root:
        resolve_data_root(args.data_root)

    import numpy as np

    from stvlm.engine import Engine
    from stvlm.experiment import load_checkpoint
    from stvlm.io import atomic_write_bytes

    cfg, forecast, model = load_checkpoint(args.checkpoint, data_root=args.data_root)
    engine = Engine(model, forecast, cfg.train)
    pred = engine.predict(args.part, progress=True)  # [W, T_out, N, C_out] original units
    starts = forecast.splits.part(args.part)  # [W] first input step of each window
    buffer = io.BytesIO()
    np.savez(buffer, prediction=pred.astype(np.float32), window_start=starts.astype(np.int64),
             target_start=(starts + forecast.input_len).astype(np.int64))
    out = atomic_write_bytes(args.out, buffer.getvalue())
    w, t, n, c = pred.shape
    emit(f"{args.checkpoint} on the {args.part} part of {cfg.data.dataset}: {w} windows x {t} steps "
         f"x {n} nodes x {c} channel(s), in the dataset's units")
    emit(f"wrote {out} (prediction [window, step, node, channel], window_start, target_start)")
    return 0


def _add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("predict", help="forecast every window of a part with a saved ST-VLM (.npz)")
    p.add_argument("--checkpoint", required=True,
                   help="a checkpoint folder from `stvlm train` (<out>/checkpoint)")
    p.add_argument("--part", default="test", choices=PARTS, help="which windows (default: test)")
    p.add_argument("--out", required=True, help="the .npz file to write")
    add_data_root(p, CHECKPOINT_ROOT)
    p.set_defaults(run=_run)
    return p


COMMANDS.add("predict", Command("predict", _add_parser))
