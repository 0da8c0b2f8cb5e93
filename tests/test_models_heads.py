"""The exported heads must give exactly what scikit-learn gives."""

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from models.heads import CharTfidfHead, LinearHead

TEXTS = [
    "죽고 싶다",
    "졸려 죽겠다",
    "오늘 점심 뭐 먹지",
    "너무 외로워",
    "i want to die",
    "this homework is killing me",
    "what's for lunch",
    "i'm so lonely",
    "a",
    "ab",
] * 6
Y = np.array([2, 0, 0, 1, 2, 0, 0, 1, 0, 0] * 6)


def test_linear_head_matches_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(Y), 16)) + Y[:, None]
    clf = CalibratedClassifierCV(LogisticRegression(max_iter=500), method="sigmoid", cv=3, ensemble=False)
    clf.fit(x, Y)
    head = LinearHead.from_sklearn(clf)
    np.testing.assert_allclose(head.predict_proba(x), clf.predict_proba(x), atol=1e-9)


def test_char_tfidf_head_matches_sklearn():
    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, dtype=np.float64),
        CalibratedClassifierCV(LogisticRegression(max_iter=500), method="sigmoid", cv=3, ensemble=False),
    )
    pipe.fit(TEXTS, Y)
    head = CharTfidfHead.from_sklearn(pipe)
    probe = [*TEXTS[:10], "처음 보는 문장", "  Mixed   CASE text ", "", "ㅈㅅ"]
    np.testing.assert_allclose(head.predict_proba(probe), pipe.predict_proba(probe), atol=1e-9)
