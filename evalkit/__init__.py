"""evalkit: decide whether to ship a fine-tune.

Importing evalkit is cheap on purpose: heavy dependencies (torch, transformers, lm_eval,
streamlit, scikit-learn, sacrebleu) are imported inside the functions that need them.
"""

__version__ = "0.1.0"
