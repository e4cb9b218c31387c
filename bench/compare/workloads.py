"""Workloads shared by the side-by-side comparison scripts in bench/compare/."""
import numpy as np


def make_data(units, features, trials, seed):
    """benchmarks.md §3.3: Y standard normal (F x N); X = exp(W Y + e) (U x N), 5% of units coupled to 1-3 features."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((features, trials))
    w = np.zeros((units, features))
    coupled = rng.choice(units, size=max(1, units // 20), replace=False)
    for u in coupled:
        k = min(int(rng.integers(1, 4)), features)
        w[u, rng.choice(features, size=k, replace=False)] = rng.uniform(0.3, 1.0, size=k)
    x = np.exp(w @ y + 0.5 * rng.standard_normal((units, trials)))
    return x, y
