"""Hyperparameter selection on the validation split only (the test set is never read).

Protocol (Schotthöfer et al. train on MNIST's 60,000 images; we hold out the last 10,000 for
validation, ``dlra.data.load_mnist``): every candidate configuration is trained on the training
split with the **test split removed from the data** it sees (so no test accuracy is even computed),
the validation accuracy is recorded after every epoch, and the candidate (learning rate,
initialisation scale, learning-rate decay) and the number of epochs with the highest validation
accuracy — averaged over the probe settings (e.g. dense and one τ) — is chosen. The reported runs
then use that choice and read the test set once, at their final epoch.
"""
from __future__ import annotations

import itertools
import sys

import numpy as np

import _mnist_common as common

__all__ = ["without_test", "select"]


def without_test(data, train_limit=None):
    """The training and validation splits of ``data`` only (optionally the first ``train_limit``
    training images)."""
    n = len(data.x_train) if train_limit is None else int(train_limit)
    return {"x_train": data.x_train[:n], "y_train": data.y_train[:n], "x_val": data.x_val, "y_val": data.y_val}


def _label(cfg):
    return cfg["method"] + (f"_tau{cfg['tau']:g}" if cfg.get("tau") is not None else "")


def select(probes, grid, data, out, *, epochs, tag, force=False, progress=True):
    """Train every probe configuration for every grid point on train (no test) and pick by validation.

    Parameters
    ----------
    probes : list of dict
        Run configurations (see ``_mnist_common.train_run``) without the grid's keys, e.g. dense and
        DLRT at one τ; their mean validation accuracy scores a grid point.
    grid : dict of key -> list
        Candidate values (e.g. ``{"lr": [1e-3, 3e-3], "init_scale": [1.0]}``).
    data : dict
        Train and validation splits only (:func:`without_test`).
    epochs : int
        Largest number of epochs tried; the chosen number of epochs is the best epoch ≤ this.
    tag : str
        Data tag of the selection runs (their directory names).

    Returns
    -------
    (choice, rows) : the chosen grid values plus ``"epochs"``, and one row per (grid point, epoch)
    with the mean validation accuracy over the probes.
    """
    if "x_test" in data:
        raise ValueError("data: the selection must not see the test split")
    keys = list(grid)
    rows = []
    for values in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, values))
        curves = []
        for probe in probes:
            cfg = {**probe, **point, "epochs": epochs, "data_tag": tag}
            print(f"[selection] {common.run_name(cfg)}", file=sys.stderr, flush=True)
            history, _, _ = common.train_run(cfg, data, out, force=force, progress=progress)
            curves.append([h["val_acc"] for h in history])
        curves = np.array(curves)
        for e in range(epochs):
            rows.append({**point, "epoch": e + 1, "val_acc_mean": float(curves[:, e].mean()),
                         **{f"val_acc_{_label(p)}": float(c[e]) for p, c in zip(probes, curves)}})
    best = max(rows, key=lambda r: (r["val_acc_mean"], -r["epoch"]))
    choice = {k: best[k] for k in keys}
    choice["epochs"] = int(best["epoch"])
    return choice, rows
