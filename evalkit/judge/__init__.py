"""LLM-as-judge: a configured model that rates answers (issue 13).

- ``pairwise`` (compare time): the judge sees the prompt, the reference when there is one, and
  the base's and the candidate's answers, in both orders; a win counts only when both orders
  agree (:mod:`evalkit.judge.pairwise`). The per-item outcome becomes the metric ``win_rate``
  of the compared runs, so its interval, p and gates come from the same machinery as every
  other metric (:mod:`evalkit.judge.hook`).
- ``rubric`` (run time): a scorer that asks the judge for a score on a declared scale or a label
  from a declared set (:mod:`evalkit.judge.rubric`).
- bias controls: the length-controlled win rate (:mod:`evalkit.judge.length`), the flip rate,
  and a warning when the judge shares a family with a model under test (:mod:`evalkit.judge.family`).

The judge's prompts are template files (``templates/``) that a task may replace with its own.
"""
