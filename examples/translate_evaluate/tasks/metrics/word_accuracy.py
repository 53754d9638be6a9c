"""word_accuracy: the share of reference words found, in order, at the same position of the
prediction (lower-cased, final punctuation dropped). A Hugging Face ``evaluate`` metric kept in
the project folder, so it loads offline with ``evaluate.load(path)``."""

import datasets
import evaluate


def _words(text: str) -> list[str]:
    return text.lower().rstrip(".!?").split()


class WordAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="share of reference words matched position by position",
            citation="",
            inputs_description="predictions: list of str; references: list of str",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        scores = []
        for pred, ref in zip(predictions, references):
            p, r = _words(pred), _words(ref)
            scores.append(sum(a == b for a, b in zip(p, r)) / max(len(r), 1))
        return {"word_accuracy": sum(scores) / max(len(scores), 1)}
