"""Where the built-in datasets' files come from: repositories, pinned commits, citations.

The shared copies of the files are byte-for-byte copies from these public GitHub repositories at
these commits (see the data root's README), so ``raw.githubusercontent.com`` URLs at the same
commits serve identical bytes (checked against the recorded SHA-256 on download).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Repo:
    """A public GitHub repository pinned to one commit."""

    name: str
    commit: str

    def url(self, path: str) -> str:
        """Raw download URL of ``path`` at the pinned commit."""
        return f"https://raw.githubusercontent.com/{self.name}/{self.commit}/{path}"

    def cite(self, *paths: str) -> str:
        """``owner/repo@commit:path1, path2`` for ``DatasetInfo.source``."""
        return f"{self.name}@{self.commit}:{', '.join(paths)}"


DCRNN = Repo("liyaguang/DCRNN", "602afd9d767d3aa1c9b3eac51710d6aeee12c227")
TGCN = Repo("lehaifeng/T-GCN", "219a2346f5bf68d54d91a948e7a41a08f9edc46b")
STCGCN = Repo("Bounger2/ST-CGCN", "9ffcc0ad7e024c3c1dbcabdb05c1853059d399bd")
STSSL = Repo("Echo-Ji/ST-SSL", "b3f3dfc48d12524c207cc89f4e242cb8aac081c0")
STIDGCN = Repo("LiuAoyu1998/STIDGCN", "4422502460a51bb86e3b9c64f794925cf5f747fb")
ASTGCN = Repo("Davidham3/ASTGCN-2019-mxnet", "d5d40645fa45471f2b473fc49a29ec3f0a993c6d")

DCRNN_CITATION = (
    "Li, Yu, Shahabi, Liu. Diffusion Convolutional Recurrent Neural Network: Data-Driven Traffic "
    "Forecasting. ICLR 2018."
)
TGCN_CITATION = (
    "Zhao et al. T-GCN: A Temporal Graph Convolutional Network for Traffic Prediction. "
    "IEEE T-ITS 2020."
)
