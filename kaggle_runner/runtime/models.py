"""A tiny transformer for dry runs: the smoke kernel, the tests and the benchmarks train it, so a kernel's loop is
proven in seconds before it spends hours in Kaggle's queue with the real model."""

from __future__ import annotations

from typing import Any, cast


def tiny_bert(vocab_size: int, max_len: int, hidden: int = 32, layers: int = 2, num_labels: int = 1) -> Any:
    """A BertForSequenceClassification of `layers` layers of width `hidden` (two heads, a feed-forward twice as
    wide), freshly initialised from torch's current seed. Its logits have `num_labels` columns."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=max_len,
        **cast(dict[str, Any], {"num_labels": num_labels}),  # a PretrainedConfig key, not in BertConfig's signature
    )
    return BertForSequenceClassification(config)
