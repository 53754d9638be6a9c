"""The ngram backend through the real config and registry: the three request kinds, stop
sequences, model reuse from disk, identities that separate base from fine-tune."""

from __future__ import annotations

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Message, RollingRequest
from evalkit.config import load_project


def _answer(backend, reqs):
    out = dict(backend.submit(reqs))
    return [out[i] for i in range(len(reqs))]


def test_three_request_kinds_and_stop_sequences(project):
    p = load_project(project)
    ft = p.backend("ft")
    gen, ll, roll = _answer(ft, [
        GenerateRequest((Message("user", "Question: How do I fix error E105?\nAnswer:"),), max_tokens=20, stop=("\n",)),
        LoglikelihoodRequest("Question: How do I fix error E105?\nAnswer:", " patch5"),
        RollingRequest("The capital of Peru is Lima."),
    ])
    assert gen.text == " patch5 fixes it."
    assert "\n" not in gen.text and gen.prompt_tokens > 5
    assert ll.is_greedy and ll.logprob < 0 and ll.n_tokens == 1
    assert roll.n_tokens == len("The capital of Peru is Lima.".split()) + 1  # "." is a token
    assert roll.logprob < 0
    short = _answer(ft, [GenerateRequest((Message("user", "Question: How do I fix error E105?\nAnswer:"),), max_tokens=20, stop=(" fixes",))])[0]
    assert short.text == " patch5"


def test_models_are_saved_and_reused_and_identities_differ(project):
    p = load_project(project)
    base, ft = p.backend("base"), p.backend("ft")
    assert base.identity() != ft.identity()
    ft.lm()
    saved = sorted((p.cache_dir / "ngram").glob("*.pkl.gz"))
    assert len(saved) == 2  # base (trained as ft's parent) and ft
    again = load_project(project).backend("ft")
    assert again.identity() == ft.identity()
    assert again._model_path().exists()


def test_changed_training_text_changes_identity(project):
    before = load_project(project).backend("ft").identity()
    corpus = project.parent / "corpora" / "support.txt"
    corpus.write_text(corpus.read_text() + "\n\nQuestion: new?\nAnswer: yes.")
    assert load_project(project).backend("ft").identity() != before
