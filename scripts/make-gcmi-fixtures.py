#!/usr/bin/env python3
"""Writes tests/infotheory/fixtures/gcmi_fixtures.json: inputs and expected values for the fp64 CPU
reference GCMI estimators (infotheory/).

This is an independent NumPy/SciPy implementation of the definitions in shared/reference/gcmi.md,
written from that page (no code of robince/gcmi, which is GPL-3.0, is used or copied). It is not
part of the test run; rerun it only when the fixtures must change:

    pip install numpy scipy
    python3 scripts/make-gcmi-fixtures.py            # writes the JSON next to the tests
    python3 scripts/make-gcmi-fixtures.py --check    # recomputes and compares with the file

Conventions (gcmi.md sections 1-8): a d-dimensional variable over N trials is a d x N array;
unbiased covariances; (1/2) ln|C| from the Cholesky diagonal; results in bits; the analytic bias
B(d, N) = d (ln 2 - ln(N - 1)) / 2 + sum_{i=1..d} psi((N - i) / 2) / 2; copnorm ranks with a
stable sort (ties in trial order) or mid-ranks ("average", then demeaned per row); the mixture
estimator uses the columns of the lower Cholesky factor as sigma points.
"""

import argparse
import json
import math
import pathlib
import sys

import numpy as np
from scipy.special import digamma, logsumexp, ndtri
from scipy.stats import rankdata

N = 200
SEED = 20240605
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "infotheory" / "fixtures" / "gcmi_fixtures.json"
MAD_TO_SD = 1.482602218505602
LN2 = math.log(2.0)


# ----------------------------------------------------------------------------------------------
# Building blocks


def bias_nats(d, n):
    """B(d, N) in nats (negative): the bias of (1/2) ln|C| of a Gaussian sample."""
    assert n > d
    dterm = (LN2 - math.log(n - 1.0)) / 2.0
    return d * dterm + sum(float(digamma((n - i) / 2.0)) / 2.0 for i in range(1, d + 1))


def half_logdet(c):
    """(1/2) ln|C| from the Cholesky factor C = L L^T."""
    return float(np.sum(np.log(np.diag(np.linalg.cholesky(c)))))


def covariance(z, demeaned):
    """Unbiased covariance of the rows of z (d x n)."""
    z = np.asarray(z, dtype=np.float64)
    if not demeaned:
        z = z - z.mean(axis=1, keepdims=True)
    return z @ z.T / (z.shape[1] - 1)


def copnorm_row(row, ties):
    """Rank -> r / (N + 1) -> ndtri, with stable (trial-order) or average (mid-rank) ties."""
    n = row.shape[0]
    if ties == "stable":
        order = np.argsort(row, kind="stable")
        ranks = np.empty(n, dtype=np.float64)
        ranks[order] = np.arange(1, n + 1, dtype=np.float64)
        return ndtri(ranks / (n + 1.0))
    if ties == "average":
        z = ndtri(rankdata(row, method="average") / (n + 1.0))
        return z - z.mean()
    raise ValueError(ties)


def copnorm(x, ties="stable"):
    x = np.atleast_2d(x)
    return np.vstack([copnorm_row(r, ties) for r in x])


# ----------------------------------------------------------------------------------------------
# Estimators (gcmi.md sections 3-8), all in bits


def ent_g(x, bias_correct=True, demeaned=False):
    x = np.atleast_2d(x)
    d, n = x.shape
    h = half_logdet(covariance(x, demeaned)) + 0.5 * d * (math.log(2.0 * math.pi) + 1.0)
    if bias_correct:
        h -= bias_nats(d, n)
    return h / LN2


def _block_entropy(c, idx, n, bias_correct):
    h = half_logdet(c[np.ix_(idx, idx)])
    if bias_correct:
        h -= bias_nats(len(idx), n)
    return h


def mi_gg(x, y, bias_correct=True, demeaned=False):
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    dx, dy, n = x.shape[0], y.shape[0], x.shape[1]
    c = covariance(np.vstack([x, y]), demeaned)
    ix, iy = list(range(dx)), list(range(dx, dx + dy))
    hx = _block_entropy(c, ix, n, bias_correct)
    hy = _block_entropy(c, iy, n, bias_correct)
    hxy = _block_entropy(c, ix + iy, n, bias_correct)
    return (hx + hy - hxy) / LN2


def cmi_ggg(x, y, z, bias_correct=True, demeaned=False):
    x, y, z = np.atleast_2d(x), np.atleast_2d(y), np.atleast_2d(z)
    dx, dy, dz, n = x.shape[0], y.shape[0], z.shape[0], x.shape[1]
    c = covariance(np.vstack([x, y, z]), demeaned)
    ix = list(range(dx))
    iy = list(range(dx, dx + dy))
    iz = list(range(dx + dy, dx + dy + dz))
    hz = _block_entropy(c, iz, n, bias_correct)
    hxz = _block_entropy(c, ix + iz, n, bias_correct)
    hyz = _block_entropy(c, iy + iz, n, bias_correct)
    hxyz = _block_entropy(c, ix + iy + iz, n, bias_correct)
    return (hxz + hyz - hxyz - hz) / LN2


def mi_model_gd(x, labels, classes, bias_correct=True, demeaned=False):
    x = np.atleast_2d(x)
    d, n = x.shape
    if not demeaned:
        x = x - x.mean(axis=1, keepdims=True)
    h_unc = half_logdet(x @ x.T / (n - 1))
    if bias_correct:
        h_unc -= bias_nats(d, n)
    h_cond = 0.0
    for k in range(classes):
        xk = x[:, labels == k]
        nk = xk.shape[1]
        hk = half_logdet(covariance(xk, demeaned=False))
        if bias_correct:
            hk -= bias_nats(d, nk)
        h_cond += nk / n * hk
    return (h_unc - h_cond) / LN2


def mi_mixture_gd(x, labels, classes):
    x = np.atleast_2d(x)
    d, n = x.shape
    weights, means, chols = [], [], []
    h_cond = 0.0
    for k in range(classes):
        xk = x[:, labels == k]
        nk = xk.shape[1]
        m = xk.mean(axis=1)
        chol = np.linalg.cholesky(covariance(xk, demeaned=False))
        weights.append(nk / n)
        means.append(m)
        chols.append(chol)
        h_cond += nk / n * (float(np.sum(np.log(np.diag(chol)))) + 0.5 * d * (math.log(2 * math.pi) + 1.0))

    def log_pdf(s, m, chol):
        v = np.linalg.solve(chol, s - m)  # L^-1 (s - m)
        return -0.5 * float(v @ v) - float(np.sum(np.log(np.diag(chol)))) - 0.5 * d * math.log(2 * math.pi)

    h_mix = 0.0
    for k in range(classes):
        total = 0.0
        for j in range(d):
            for sign in (1.0, -1.0):
                s = means[k] + sign * math.sqrt(d) * chols[k][:, j]  # column j of L_k
                terms = [math.log(weights[m]) + log_pdf(s, means[m], chols[m]) for m in range(classes)]
                total += float(logsumexp(terms))
        h_mix -= weights[k] * total / (2.0 * d)
    return (h_mix - h_cond) / LN2


def gcmi_cc(x, y, bias_correct=True, ties="stable"):
    return mi_gg(copnorm(x, ties), copnorm(y, ties), bias_correct, demeaned=True)


def gcmi_model_cd(x, labels, classes, bias_correct=True, ties="stable"):
    return mi_model_gd(copnorm(x, ties), labels, classes, bias_correct, demeaned=True)


def gcmi_mixture_cd(x, labels, classes, ties="stable"):
    x = np.atleast_2d(x)
    pooled = np.empty_like(x, dtype=np.float64)
    for k in range(classes):
        sel = labels == k
        xk = x[:, sel]
        ck = copnorm(xk, ties)
        med = np.median(xk, axis=1)
        mad = np.median(np.abs(xk - med[:, None]), axis=1)
        assert np.all(mad > 0)
        pooled[:, sel] = ck * (MAD_TO_SD * mad)[:, None] + med[:, None]
    return mi_mixture_gd(pooled, labels, classes)


def gccmi_ccc(x, y, z, bias_correct=True, ties="stable"):
    return cmi_ggg(copnorm(x, ties), copnorm(y, ties), copnorm(z, ties), bias_correct, demeaned=True)


def gccmi_ccd(x, y, labels, classes, bias_correct=True, ties="stable"):
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    n = x.shape[1]
    total = 0.0
    for k in range(classes):
        sel = labels == k
        ik = mi_gg(copnorm(x[:, sel], ties), copnorm(y[:, sel], ties), bias_correct, demeaned=True)
        total += np.count_nonzero(sel) / n * ik
    return total


def coinfo_ccc(x, y, z, bias_correct=True, ties="stable"):
    return gcmi_cc(x, y, bias_correct, ties) - gccmi_ccc(x, y, z, bias_correct, ties)


def coinfo_ccd(x, y, labels, classes, bias_correct=True, ties="stable"):
    return gcmi_cc(x, y, bias_correct, ties) - gccmi_ccd(x, y, labels, classes, bias_correct, ties)


def redundancy_mmi(s, x1, x2, bias_correct=True, ties="stable"):
    return min(gcmi_cc(s, x1, bias_correct, ties), gcmi_cc(s, x2, bias_correct, ties))


def pid_synergy_mmi(s, x1, x2, bias_correct=True, ties="stable"):
    i1 = gcmi_cc(s, x1, bias_correct, ties)
    i2 = gcmi_cc(s, x2, bias_correct, ties)
    i12 = gcmi_cc(s, np.vstack([np.atleast_2d(x1), np.atleast_2d(x2)]), bias_correct, ties)
    return i12 - max(i1, i2)


# ----------------------------------------------------------------------------------------------
# Data and cases


def make_inputs():
    rng = np.random.default_rng(SEED)
    lab2 = rng.integers(0, 2, N).astype(np.int32)
    lab5 = rng.integers(0, 5, N).astype(np.int32)
    g = rng.standard_normal((10, N))
    # Continuous variables; raw marginals are non-Gaussian (monotone transforms) on purpose.
    x1 = np.exp(0.5 * (g[0] + 0.4 * lab2 + 0.25 * lab5))
    y1 = (g[1] + 0.6 * g[0]) ** 3
    z1 = g[2] + 0.5 * g[0] + 0.5 * g[1]
    x3 = np.vstack([g[3] + 0.3 * lab5, np.tanh(g[4] + 0.5 * g[3]) + 0.2 * lab2, g[5] - 0.3 * g[3]])
    y2 = np.vstack([g[6] + 0.5 * g[3], np.exp(0.3 * (g[7] + 0.4 * g[5]))])
    z2 = np.vstack([g[8] + 0.4 * g[6] + 0.3 * g[3], g[9] + 0.4 * g[7]])
    # ReLU-like: about 40% exact zeros, some of them -0.0 (equal to +0.0 under every policy).
    relu = np.maximum(0.0, g[4] + 0.3 * g[1] - 0.25)
    zeros = np.flatnonzero(relu == 0.0)
    relu[zeros[::3]] = -0.0
    cont = {"x1": x1[None, :], "y1": y1[None, :], "z1": z1[None, :], "x3": x3, "y2": y2, "z2": z2,
            "relu": relu[None, :]}
    return cont, {"lab2": lab2, "lab5": lab5}


def make_cases(cont, labels):
    K = {"lab2": 2, "lab5": 5}
    cases = []

    def add(estimator, value, args, labels_name=None, bias_correct=True, ties="stable"):
        case = {"estimator": estimator, "args": args, "bias_correct": bias_correct, "ties": ties,
                "expected": float(value)}
        if labels_name is not None:
            case["labels"] = labels_name
            case["classes"] = K[labels_name]
        cases.append(case)

    for bc in (True, False):
        for a in ("x1", "x3"):
            add("ent_g", ent_g(cont[a], bc), [a], bias_correct=bc)
        for a, b in (("x1", "y1"), ("x3", "y2"), ("x1", "y2")):
            add("mi_gg", mi_gg(cont[a], cont[b], bc), [a, b], bias_correct=bc)
            add("gcmi_cc", gcmi_cc(cont[a], cont[b], bc), [a, b], bias_correct=bc)
        for a, b, c in (("x1", "y1", "z1"), ("x3", "y2", "z2"), ("x1", "y2", "z1")):
            add("cmi_ggg", cmi_ggg(cont[a], cont[b], cont[c], bc), [a, b, c], bias_correct=bc)
            add("gccmi_ccc", gccmi_ccc(cont[a], cont[b], cont[c], bc), [a, b, c], bias_correct=bc)
            add("coinfo_ccc", coinfo_ccc(cont[a], cont[b], cont[c], bc), [a, b, c], bias_correct=bc)
        for a in ("x1", "x3"):
            for lab in ("lab2", "lab5"):
                add("mi_model_gd", mi_model_gd(cont[a], labels[lab], K[lab], bc), [a], lab, bc)
                add("gcmi_model_cd", gcmi_model_cd(cont[a], labels[lab], K[lab], bc), [a], lab, bc)
        for a, b in (("x1", "y1"), ("x3", "y2")):
            for lab in ("lab2", "lab5"):
                add("gccmi_ccd", gccmi_ccd(cont[a], cont[b], labels[lab], K[lab], bc), [a, b], lab, bc)
                add("coinfo_ccd", coinfo_ccd(cont[a], cont[b], labels[lab], K[lab], bc), [a, b], lab, bc)
        for s, a, b in (("x1", "y1", "z1"), ("z1", "x3", "y2")):
            add("redundancy_mmi", redundancy_mmi(cont[s], cont[a], cont[b], bc), [s, a, b], bias_correct=bc)
            add("pid_synergy_mmi", pid_synergy_mmi(cont[s], cont[a], cont[b], bc), [s, a, b], bias_correct=bc)
    for a in ("x1", "x3"):
        for lab in ("lab2", "lab5"):
            add("mi_mixture_gd", mi_mixture_gd(cont[a], labels[lab], K[lab]), [a], lab, False)
            add("gcmi_mixture_cd", gcmi_mixture_cd(cont[a], labels[lab], K[lab]), [a], lab, False)
    # Ties: stable (trial order) and average (mid-ranks), on the ReLU-like variable.
    for ties in ("stable", "average"):
        add("gcmi_cc", gcmi_cc(cont["relu"], cont["y1"], True, ties), ["relu", "y1"], ties=ties)
        add("gcmi_cc", gcmi_cc(cont["relu"], cont["x3"], True, ties), ["relu", "x3"], ties=ties)
        add("gcmi_model_cd", gcmi_model_cd(cont["relu"], labels["lab5"], 5, True, ties), ["relu"], "lab5", ties=ties)
        add("gccmi_ccd", gccmi_ccd(cont["relu"], cont["y1"], labels["lab2"], 2, True, ties), ["relu", "y1"], "lab2",
            ties=ties)
    return cases


def build():
    cont, labels = make_inputs()
    relu = cont["relu"][0]
    table = ndtri(np.arange(1, N + 1) / (N + 1.0))
    return {
        "about": "Made by scripts/make-gcmi-fixtures.py from the definitions of gcmi.md (numpy/scipy); values in bits",
        "n": N,
        "seed": SEED,
        "continuous": {k: v.tolist() for k, v in cont.items()},
        "labels": {k: v.tolist() for k, v in labels.items()},
        "copnorm": [
            {"input": "x1", "ties": "stable", "expected": copnorm(cont["x1"], "stable")[0].tolist()},
            {"input": "relu", "ties": "stable", "expected": copnorm(cont["relu"], "stable")[0].tolist()},
            {"input": "relu", "ties": "average", "expected": copnorm(cont["relu"], "average")[0].tolist()},
        ],
        "tie_fraction": {"relu": float((N - np.unique(relu).size) / N)},
        "table_sum_of_squares": float(np.sum(table * table)),
        "cases": make_cases(cont, labels),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the existing file instead of writing")
    args = parser.parse_args()
    fixtures = build()
    if args.check:
        old = json.loads(OUT.read_text())
        worst = max(abs(a["expected"] - b["expected"]) for a, b in zip(old["cases"], fixtures["cases"]))
        same = len(old["cases"]) == len(fixtures["cases"]) and worst <= 1e-12
        print(f"{len(fixtures['cases'])} cases, max |difference| {worst:.3g} bits: {'ok' if same else 'DIFFERENT'}")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixtures, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(fixtures['cases'])} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
