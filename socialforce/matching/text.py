"""Character n-gram TF-IDF for Chinese descriptions, fitted once, computed per distinct text.

Equivalent to sklearn's TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True,
max_df=MAX_DF) fitted on all documents, but each distinct text is analysed only once (service-list and
offer descriptions repeat a lot), so fitting 260k offers and transforming 100k items stays fast.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

NGRAMS = (1, 2)
MAX_DF = 0.5


class TextModel:
    """Fitted vocabulary and IDF; `transform` gives L2-normalised rows, so a dot product is a cosine."""

    def __init__(self, docs: Sequence[str]) -> None:
        uniq, inverse = _distinct(docs)
        counter = CountVectorizer(analyzer="char_wb", ngram_range=NGRAMS, dtype=np.float64)
        self.analyze = counter.build_analyzer()
        self.columns: dict[str, int] = {}
        self.idf = np.zeros(0)
        if not uniq:
            return
        try:
            counts = counter.fit_transform(uniq).tocsr()
        except ValueError:  # no usable text at all
            return
        multiplicity = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)
        df = (counts > 0).T.astype(np.float64) @ multiplicity
        n_docs = float(len(docs))
        keep = np.flatnonzero(df <= MAX_DF * n_docs)
        new_column = {old: new for new, old in enumerate(keep.tolist())}
        self.columns = {term: new_column[old] for term, old in counter.vocabulary_.items() if old in new_column}
        self.idf = np.log((1.0 + n_docs) / (1.0 + df[keep])) + 1.0

    @property
    def n_terms(self) -> int:
        """Number of columns of the TF-IDF rows (at least 1)."""
        return max(1, len(self.columns))

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (sublinear tf, L2-normalised) for the documents."""
        uniq, inverse = _distinct(docs)
        indptr, indices, counts = [0], [], []
        for doc in uniq:
            row = Counter(c for c in map(self.columns.get, self.analyze(doc)) if c is not None)
            indices.extend(row.keys())
            counts.extend(row.values())
            indptr.append(len(indices))
        cols = np.array(indices, dtype=np.int64)
        data = (1.0 + np.log(np.array(counts, dtype=np.float64))) * self.idf[cols] if cols.size else np.zeros(0)
        row_of = np.repeat(np.arange(len(uniq)), np.diff(indptr))
        norms = np.sqrt(np.bincount(row_of, weights=data * data, minlength=len(uniq)))
        data = data / np.where(norms > 0, norms, 1.0)[row_of]
        rows = sp.csr_matrix((data, cols, np.array(indptr)), shape=(len(uniq), self.n_terms))
        rows.sort_indices()
        return rows[inverse]


def _distinct(docs: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct texts in order of first appearance, and each document's index among them (a dict, not
    np.unique, whose sort of a string array was most of a transform)."""
    first: dict[str, int] = {}
    inverse = np.fromiter((first.setdefault(str(d), len(first)) for d in docs), np.int64, len(docs))
    return list(first), inverse
