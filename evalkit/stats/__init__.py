"""Paired statistics for comparing a base model with its fine-tune, item by item.

Convention everywhere: ``a`` is the base, ``b`` the fine-tune, and differences are
``b - a`` (positive = the fine-tune is better on a higher-is-better metric).
Only numpy is imported here; scipy.stats is imported inside the functions.
"""

from __future__ import annotations

from evalkit.stats.estimates import (
    MIN_CLUSTERS,
    PairedEstimate,
    Unusable,
    one_sample_estimate,
    paired_estimate,
)
from evalkit.stats.bootstrap import (
    BootstrapResult,
    bootstrap_deltas,
    paired_bootstrap,
    paired_permutation_test,
    resample_counts,
)
from evalkit.stats.mcnemar import McNemar, mcnemar
from evalkit.stats.multiplicity import adjust, benjamini_hochberg, holm
from evalkit.stats.noninferiority import (
    NonInferiority,
    non_inferiority,
    non_inferiority_from_bootstrap,
)
from evalkit.stats.paired import PairedDiff, clustered_difference, paired_difference
from evalkit.stats.power import minimum_detectable_effect, n_needed
from evalkit.stats.proportion import exact_interval, wilson_interval

__all__ = [
    "MIN_CLUSTERS",
    "PairedEstimate",
    "Unusable",
    "one_sample_estimate",
    "paired_estimate",
    "BootstrapResult",
    "McNemar",
    "NonInferiority",
    "PairedDiff",
    "adjust",
    "benjamini_hochberg",
    "bootstrap_deltas",
    "clustered_difference",
    "exact_interval",
    "holm",
    "mcnemar",
    "minimum_detectable_effect",
    "n_needed",
    "non_inferiority",
    "non_inferiority_from_bootstrap",
    "paired_bootstrap",
    "paired_difference",
    "paired_permutation_test",
    "resample_counts",
    "wilson_interval",
]
