"""The int8 ONNX encoder built at set-up, and the torch fallback when it is missing (issue 14)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import index.embeddings as embeddings
from errors import ModelUnavailable
from settings import Settings

TEXTS = [
    "SHIRBRIG rapid reaction lessons",
    "The force commander asked contributors for two more helicopter units before the rains.",
    "Gender focal points were appointed in every sector headquarters and trained in June.",
]


@pytest.fixture
def fresh_encoder(monkeypatch: pytest.MonkeyPatch):
    """Each test chooses its runtime anew; the process's encoder is restored after."""
    embeddings.reset_encoder()
    yield monkeypatch
    embeddings.reset_encoder()


def built() -> Path:
    folder = Settings.from_env().encoder_folder
    manifest, why = embeddings.onnx_status(folder)
    if manifest is None:
        pytest.skip(f"no ONNX encoder built here ({why})")
    return folder


def test_onnx_agrees_with_torch(fresh_encoder: pytest.MonkeyPatch) -> None:
    built()
    fresh_encoder.setenv("LESSONS_ENCODER", "onnx")
    ours = embeddings.encode(TEXTS)
    assert embeddings.encoder_name().startswith("onnx-int8:")
    embeddings.reset_encoder()
    fresh_encoder.setenv("LESSONS_ENCODER", "torch")
    reference = embeddings.encode(TEXTS)
    assert embeddings.encoder_name() == "torch-fp32"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert ((ours * reference).sum(axis=1) >= 0.99).all()


def test_batches_sorted_by_length_keep_the_input_order(fresh_encoder: pytest.MonkeyPatch) -> None:
    built()
    fresh_encoder.setenv("LESSONS_ENCODER", "onnx")
    together = embeddings.encode(TEXTS[::-1], batch_size=2)
    alone = np.vstack([embeddings.encode([t]) for t in TEXTS[::-1]])
    similarity = together @ alone.T
    # Row i is text i. Dynamic int8 scales activations per batch, so a vector moves a little
    # with its batch-mates (padding included): never by more than the export's tolerance.
    assert (similarity.argmax(axis=1) == np.arange(len(TEXTS))).all()
    assert (np.diag(similarity) >= 0.99).all()


def test_manifest_says_what_was_built_and_checked() -> None:
    manifest, _ = embeddings.onnx_status(built())
    assert manifest is not None
    assert manifest["probe_cosine"]["min"] >= 0.99
    assert manifest["source_version"] == embeddings.model_version()
    assert len(manifest["quantisation"]["kept_fp32"]) == 6


def test_missing_encoder_falls_back_to_torch_with_a_notice(
    fresh_encoder: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_encoder.setenv("LESSONS_ENCODER_DIR", str(tmp_path / "none"))
    fresh_encoder.setenv("LESSONS_ENCODER", "auto")
    vecs = embeddings.encode(TEXTS[:1])
    assert vecs.shape == (1, 384)
    assert embeddings.encoder_name() == "torch-fp32"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "embedding with torch" in err and "encoder build" in err


def test_onnx_asked_for_but_missing_is_an_error(
    fresh_encoder: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh_encoder.setenv("LESSONS_ENCODER_DIR", str(tmp_path / "none"))
    fresh_encoder.setenv("LESSONS_ENCODER", "onnx")
    with pytest.raises(ModelUnavailable, match="encoder build"):
        embeddings.encode(TEXTS[:1])


def test_an_encoder_built_from_another_model_version_is_not_used(
    fresh_encoder: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = tmp_path / "enc"
    shutil.copytree(built(), copy)
    manifest = (
        (copy / "manifest.json")
        .read_text()
        .replace(f'"source_version": "{embeddings.model_version()}"', '"source_version": "0.0.0"')
    )
    (copy / "manifest.json").write_text(manifest)
    usable, why = embeddings.onnx_status(copy)
    assert usable is None and "another model version" in str(why)
