"""Columns: a dataset of equal-length tensors whose items are dicts, the shape transformers models take.
`Columns(input_ids=..., attention_mask=..., labels=...)`; a `labels` column is the target fit() learns."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class Columns(Dataset):
    """A dataset of equal-length tensors by name: item i is {name: tensor[i]}, what fit() and predict() take."""

    def __init__(self, **columns: torch.Tensor) -> None:
        if not columns:
            raise ValueError("Columns needs at least one column")
        lengths = {name: len(t) for name, t in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"Columns: columns differ in length: {lengths}")
        self.columns = columns
        self.n = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {name: t[i] for name, t in self.columns.items()}
