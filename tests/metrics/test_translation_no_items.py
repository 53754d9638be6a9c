"""BLEU and chrF of a task whose every item failed: no value and a signature that says so,
not sacrebleu's "evaluate the metric first" error."""

from __future__ import annotations

import pytest

from evalkit.metrics.base import Observation
from evalkit.metrics.translation import Bleu, Chrf


@pytest.mark.parametrize("metric", [Bleu, Chrf])
def test_no_items_is_no_value_and_a_signature_that_says_so(metric):
    m = metric()
    assert m.compute([]) is None
    assert "no items" in m.signature()


@pytest.mark.parametrize("metric", [Bleu, Chrf])
def test_a_scored_corpus_still_gets_sacrebleu_s_signature(metric):
    m = metric()
    value = m.compute([Observation(prediction="el gato negro come pescado hoy", references=("el gato negro come pescado ahora",))])
    assert value is not None and value > 0
    assert "nrefs:1" in m.signature() and "version:" in m.signature()
