"""Inverted dropout with a cheaper random mask, for the baselines whose CPU time it dominates.

``torch.dropout`` draws one Bernoulli sample per entry; on CPU that costs about 8 ns an entry,
a third of an STID training step on 700 nodes (torch.profiler, 16 windows per step).
:class:`FastDropout` draws one 64-bit integer per four entries, reads it as four uniform 16-bit
integers and drops an entry whose integer falls below a threshold, with the drop probability
rounded to a multiple of 1/65,536 (0.15 -> 0.149994) and the kept entries scaled by the inverse
of the rounded keep probability, so the expectation is exact. The mask becomes one float factor
(0 or 1 / keep) that multiplies the input, forward and backward: with one thread, forward and
backward of a ``[16, 700, 128]`` tensor take 5.9 ms against ``torch.dropout``'s 13.8 ms.

It draws from torch's generator like ``nn.Dropout`` does (seeded runs repeat), but not the same
numbers: a model that switches to it trains differently from the same seed.
"""

from __future__ import annotations

import torch
from torch import nn

_LEVELS = 1 << 16  # values of one 16-bit draw


class FastDropout(nn.Module):
    """Drops each entry with probability ``round(p * 65536) / 65536`` in training (identity in
    eval); kept entries are scaled by ``1 / keep`` as in ``nn.Dropout``.

    Args:
        p: drop probability in ``[0, 1)``.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p = p
        self.threshold = min(round(p * _LEVELS), _LEVELS - 1)  # 16-bit draws below it are dropped
        self.scale = _LEVELS / (_LEVELS - self.threshold)  # 1 / keep probability

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0 or x.numel() == 0:
            return x
        n = x.numel()
        bits = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=x.device)
        draws = bits.view(torch.int16)[:n].view(x.shape)  # uniform on [-32768, 32767], x's shape
        factor = (draws >= self.threshold - _LEVELS // 2).to(x.dtype).mul_(self.scale)  # 0 or 1 / keep
        return x * factor  # one product each way (a where() and its backward cost twice as much)

    def extra_repr(self) -> str:
        return f"p={self.p}, dropped={self.threshold}/{_LEVELS}"
