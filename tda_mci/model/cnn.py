"""The paper's hybrid 1D + 2D convolutional classifier of PR matrices (docs/method.md, section 6).

Input is a batch of standardised ``(n, n)`` PR matrices (one network, one homology
dimension; rows and columns in atlas ROI order). Two branches read the same matrix:

* 2D branch: ``Conv(1->16) -> Conv(16->32) -> Conv(32->64)`` (3x3, padding 1, ReLU after
  each), ``MaxPool2d(2)`` (output side ``floor(n / 2)``, so odd ``n`` drops the last
  row and column), ``Conv(64->128) -> Conv(128->256)`` (3x3, padding 1, ReLU after each),
  global average pooling -> 256 features;
* 1D branch: the flattened ``n * n`` matrix through ``Linear(n*n, 256)`` followed by a
  ReLU -> 256 features;
* head: concatenation (512) ``-> Linear(512, 128) -> ReLU -> Dropout -> Linear(128, 64)
  -> ReLU -> Dropout -> Linear(64, 32) -> ReLU -> Dropout -> Linear(32, n_classes)``.

The head returns logits (softmax is folded into the cross-entropy loss). The ReLUs after
the 1D branch's linear layer and after each fully connected layer of the head are our
reading of the paper's text, which names the layer widths but not those activations.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["HybridCNN", "count_parameters"]


class HybridCNN(nn.Module):
    """Hybrid CNN of Aithal et al. (ICPR 2024) for one network's ``(n, n)`` PR matrices.

    Parameters
    ----------
    n_rois : int
        Side ``n`` of the input matrices (ROIs of the network; at least 2 so that the
        max-pool keeps one pixel). The Dosenbach networks have 18 to 34 ROIs.
    n_classes : int
        Number of output logits (2 for a two-group comparison).
    dropout : float
        Dropout probability after each of the three hidden fully connected layers
        (paper: 0.2), in ``[0, 1)``.

    Notes
    -----
    ``forward`` takes a float tensor of shape ``(batch, n, n)`` or ``(batch, 1, n, n)``
    and returns ``(batch, n_classes)`` logits. Layer widths and the exact parameter
    count are fixed by ``n_rois``; see :func:`count_parameters`.
    """

    def __init__(self, n_rois: int, n_classes: int = 2, dropout: float = 0.2):
        super().__init__()
        if isinstance(n_rois, bool) or not isinstance(n_rois, int) or n_rois < 2:
            raise ValueError(f"n_rois must be an integer >= 2, got {n_rois!r}")
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.n_rois = n_rois
        self.n_classes = n_classes
        self.dropout = float(dropout)

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]

        self.branch2d = nn.Sequential(
            *conv(1, 16),
            *conv(16, 32),
            *conv(32, 64),
            nn.MaxPool2d(2),
            *conv(64, 128),
            *conv(128, 256),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.branch1d = nn.Sequential(nn.Flatten(), nn.Linear(n_rois * n_rois, 256), nn.ReLU())
        self.head = nn.Sequential(
            nn.Linear(512, 128),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(64, 32),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(32, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits of a batch of matrices.

        Parameters
        ----------
        x : torch.Tensor
            Shape ``(batch, n, n)`` or ``(batch, 1, n, n)``, floating point.

        Returns
        -------
        torch.Tensor
            Logits of shape ``(batch, n_classes)``.
        """
        n = self.n_rois
        shape = tuple(x.shape)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, n, n):
            raise ValueError(
                f"HybridCNN(n_rois={n}) expects input of shape (batch, {n}, {n}) or "
                f"(batch, 1, {n}, {n}), got {shape}"
            )
        features = torch.cat([self.branch2d(x), self.branch1d(x)], dim=1)
        return self.head(features)


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters of ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module.

    Returns
    -------
    int
        Sum of ``p.numel()`` over parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
