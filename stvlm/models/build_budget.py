"""Bound what a saved model's configs may allocate by what its weights file holds.

A folder written by ``save_pretrained`` is rebuilt from its configs (``config.json``,
``backbone/config.json``) before its weights are loaded, and every size in those configs is
free-form: a 611-byte ``backbone/config.json`` with ``vocab_size = 2e7`` built a 2.9 GB embedding
before the shape mismatch with ``model.safetensors`` was found. ``model.safetensors`` holds every
weight of the model and ``inference.safetensors`` the layout that the non-persistent buffers are
derived from (a correlation image's N x N graph among them), so an honest config never registers
many more values than the two files store: at most 16% more in every registered backbone's tiny
preset, where dropped heads and position ids are not saved (with the correlation image, whose
normalised N x N graph is a buffer, 0.999x the stored values at 1,500 and 2,048 nodes, where
``model.safetensors`` alone held 3% of them and such checkpoints were refused).
:func:`bounded_build` counts each parameter and buffer as a module registers it — before
``reset_parameters`` or Hugging Face's ``_init_weights`` writes into its memory, so a refused
tensor's pages are never touched — and stops the build when the count passes :data:`SLACK` times
the stored values plus :data:`SPARE`. The registration hooks are process-wide: a module another
thread builds during a load is counted too (nothing in this library does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safetensors import safe_open
from torch.nn.modules.module import (
    register_module_buffer_registration_hook,
    register_module_parameter_registration_hook,
)

from stvlm.errors import DataError

#: A build may register this many times the values the weights file stores ...
SLACK = 2
#: ... plus this many (non-persistent buffers such as position ids and rotary frequencies).
SPARE = 1 << 20


def stored_values(weights: Path) -> int:
    """Number of values in the safetensors file ``weights``, read from its header alone.

    Raises:
        DataError: the file is missing or its header is not a safetensors header.
    """
    try:
        with safe_open(str(weights), "pt") as f:
            return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    except Exception as err:  # OSError, safetensors' own header errors
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{weights} is missing or not a safetensors file ({first})") from None


@contextmanager
def bounded_build(stored: int, *, what: str) -> Iterator[None]:
    """Refuse, inside the ``with`` block, a build that registers more than ``SLACK * stored +
    SPARE`` parameter and buffer values (``what``: the files, for the message).

    Raises:
        DataError: at the first registration past the bound, naming the module and tensor.
    """
    limit = SLACK * stored + SPARE
    seen = 0

    def count(module, name: str, tensor) -> None:
        nonlocal seen
        if tensor is None:
            return
        seen += tensor.numel()
        if seen > limit:
            raise DataError(
                f"{what}: the configs describe a larger model than the weights file holds "
                f"({type(module).__name__}.{name} {list(tensor.shape)} brings the model to "
                f"{seen:,} values; the file stores {stored:,}, at most {limit:,} are built); "
                "the files do not belong together"
            )

    handles = [register_module_parameter_registration_hook(count),
               register_module_buffer_registration_hook(count)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
