"""The ngram backend through the real config and registry: the three request kinds, stop
sequences, model reuse from disk, identities that separate base from fine-tune."""

from __future__ import annotations

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Message, RollingRequest
from evalkit.config import load_project
from conftest import make_project


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
    saved = sorted((p.cache_dir / "ngram").glob("*.npz"))
    assert len(saved) == 2  # base (trained as ft's parent) and ft
    again = load_project(project).backend("ft")
    assert again.identity() == ft.identity()
    assert again._model_path().exists()


def test_changed_training_text_changes_identity(project):
    before = load_project(project).backend("ft").identity()
    corpus = project.parent / "corpora" / "support.txt"
    corpus.write_text(corpus.read_text() + "\n\nQuestion: new?\nAnswer: yes.")
    assert load_project(project).backend("ft").identity() != before


class _Exploit:
    """A pickle that writes a marker file when it is unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_planted_in_the_cache_never_runs_and_the_run_still_works(project, tmp_path):
    """Where evalkit < format 2 kept its pickled models (and where the new .npz lives), a
    crafted pickle is ignored or refused: the model is trained again and nothing executes."""
    import pickle

    from evalkit.runner.run import RunOptions, run_model

    p = load_project(project)
    marker = tmp_path / "pwned"
    folder = p.cache_dir / "ngram"
    folder.mkdir(parents=True)
    for name in ("base", "ft"):
        stem = p.backend(name).model_hash()[:24]
        for suffix in (".pkl.gz", ".pkl", ".npz"):
            (folder / f"{stem}{suffix}").write_bytes(pickle.dumps(_Exploit(marker)))
    run = run_model(p, "ft", RunOptions(suites=("support",)))
    assert not marker.exists()
    assert all(t.status == "ok" for t in run.tasks) and run.samples
    clean = run_model(load_project(make_project(tmp_path / "clean")), "ft", RunOptions(suites=("support",)))
    assert [(s["id"], s["response"]) for s in run.samples] == [(s["id"], s["response"]) for s in clean.samples]
    # The planted .npz was replaced by a real model, which a fresh project now reuses.
    again = load_project(project).backend("ft")
    assert again._load(again._model_path()) is not None


def test_no_cache_trains_in_memory_and_writes_nothing(project):
    from evalkit.runner.run import RunOptions, run_model

    p = load_project(project)
    run = run_model(p, "ft", RunOptions(suites=("support",), use_cache=False))
    assert run.samples and not p.cache_dir.exists()


def test_a_full_disk_while_storing_a_model_costs_only_its_reuse(project, monkeypatch, caplog):
    import errno

    from evalkit.backends.ngram_lm import KneserNeyLM

    def full(self, file):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(KneserNeyLM, "save", full)
    ft = load_project(project).backend("ft")
    gen = _answer(ft, [LoglikelihoodRequest("Question: How do I fix error E105?\nAnswer:", " patch5")])[0]
    assert gen.is_greedy
    assert "No space left on device" in caplog.text and "used from memory" in caplog.text
    assert list((load_project(project).cache_dir / "ngram").iterdir()) == []  # no temp file left behind


def test_a_damaged_stored_model_is_trained_again_and_replaced(project, caplog):
    ft = load_project(project).backend("ft")
    ft.lm()
    path = ft._model_path()
    path.write_bytes(path.read_bytes()[:1000])
    again = load_project(project).backend("ft")
    assert again.lm().levels == ft.lm().levels
    assert "unusable" in caplog.text
    assert again._load(path) is not None  # replaced by a good copy
