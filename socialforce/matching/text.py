"""Character n-gram TF-IDF for Chinese descriptions, fitted once, computed per distinct text.

Equivalent to sklearn's TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True,
max_df=MAX_DF) fitted on all documents, but each distinct text is analysed only once (service-list and
offer descriptions repeat a lot), so fitting 260k offers and transforming 100k items stays fast.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

NGRAMS = (1, 2)
MAX_DF = 0.5


class TextModel:
    """Fitted vocabulary and IDF; `transform` gives L2-normalised rows, so a dot product is a cosine."""

    def __init__(self, docs: Sequence[str]) -> None:
        uniq, inverse = np.unique(np.asarray(docs, dtype=object).astype(str), return_inverse=True)
        self.counter = CountVectorizer(analyzer="char_wb", ngram_range=NGRAMS, dtype=np.float64)
        try:
            counts = self.counter.fit_transform(uniq.tolist()).tocsr()
        except ValueError:  # no usable text at all
            self.counter = None
            self.n_terms = 1
            return
        multiplicity = np.bincount(inverse.ravel(), minlength=uniq.size).astype(np.float64)
        df = (counts > 0).T.astype(np.float64) @ multiplicity
        n_docs = float(len(docs))
        self.keep = np.flatnonzero(df <= MAX_DF * n_docs)
        self.idf = np.log((1.0 + n_docs) / (1.0 + df[self.keep])) + 1.0
        self.n_terms = max(1, self.keep.size)

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (sublinear tf, L2-normalised) for the documents."""
        if self.counter is None or not len(docs):
            return sp.csr_matrix((len(docs), self.n_terms))
        uniq, inverse = np.unique(np.asarray(docs, dtype=object).astype(str), return_inverse=True)
        counts = self.counter.transform(uniq.tolist()).tocsr()[:, self.keep]
        counts.data = 1.0 + np.log(counts.data)
        rows = normalize(counts @ sp.diags(self.idf), copy=False).tocsr()
        return rows[inverse.ravel()]
