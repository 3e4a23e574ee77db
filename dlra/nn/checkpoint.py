"""Checkpoints of a training run: one ``.npz`` that continues a :class:`~dlra.nn.training.Trainer`
bit for bit.

A checkpoint holds numeric arrays and one JSON string ``meta`` (it loads without pickle): the
parameters (low-rank layers as their factors U, S, V, in the memory layout they had), the
optimiser state (:meth:`dlra.SGD.state_dict`, :meth:`dlra.Adam.state_dict`: the moments and the
bases they are expressed in), the epoch and step counters, the flow time t, the state of the
random generator of the batch order, the history, the training configuration and the network
architecture. Restoring all of it makes the resumed run of DLRT (Schotthöfer et al., "Low-rank
lottery tickets", NeurIPS 2022) identical to an uninterrupted one.

Files are written atomically (:mod:`dlra.io`); temporaries left by a killed writer are removed when
the next run starts writing into the same folder (:func:`dlra.io.remove_stale_temporaries`).
Every defect of a file read back (not a zip, truncated, no ``meta``, bad JSON, missing or
misshapen arrays, wrong version, …) raises :class:`CheckpointError` naming the file.
"""
from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..io import save_npz
from ..lineage import complement, relations_among, restore
from ..lowrank import LowRank
from .conv import Conv2D
from .layers import DenseLayer, LowRankLayer
from .network import MLP

__all__ = ["CHECKPOINT_VERSION", "CheckpointError", "save_checkpoint", "read_checkpoint",
           "load_checkpoint", "trainer_kwargs", "network_from_architecture", "architecture"]

CHECKPOINT_VERSION = 1

#: keys every checkpoint's ``meta`` holds
_REQUIRED = ("version", "config", "architecture", "epoch", "step", "t", "train_seconds", "rng_state",
             "history", "rank_history", "parameters", "optimizer_state")
#: configuration entries that must agree between a checkpoint and the trainer loading it
_MATCHED = ("method", "optimizer", "lr", "lr_decay", "momentum", "batch_size", "seed", "truncation",
            "weight_decay", "frobenius_decay", "nuclear_decay")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read back or does not fit the trainer (names the file)."""


# ------------------------------------------------------------------------------ (de)serialisation
def _pack(obj, arrays, ids=None):
    """JSON-able structure with every ndarray replaced by a reference into ``arrays``.

    ``ids`` ({id(array): key}) makes an array met twice (a basis held by the network and by the
    optimiser's state) one entry, so that it is one object again when read back.
    """
    ids = {} if ids is None else ids
    if isinstance(obj, LowRank):
        return {"__lowrank__": [_pack(obj.U, arrays, ids), _pack(obj.S, arrays, ids), _pack(obj.V, arrays, ids)]}
    if isinstance(obj, np.ndarray):
        if id(obj) in ids:
            return {"__array__": ids[id(obj)]}
        key = ids[id(obj)] = f"a{len(arrays)}"
        # keep the memory layout: BLAS may round differently for C- and Fortran-ordered operands
        if obj.ndim == 2 and not obj.flags.c_contiguous and obj.strides[0] < obj.strides[1]:
            obj = np.asfortranarray(obj)
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"cannot serialise a dict key of type {type(k).__name__}")
        return {"__dict__": {k: _pack(v, arrays, ids) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays, ids) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot serialise an object of type {type(obj).__name__}")


def _unpack(obj, arrays, path):
    if isinstance(obj, dict):
        if "__array__" in obj:
            key = obj["__array__"]
            if key not in arrays:
                raise CheckpointError(f"checkpoint {path}: the array {key!r} named in 'meta' is missing")
            return arrays[key]
        if "__lowrank__" in obj:
            factors = obj["__lowrank__"]
            if not isinstance(factors, list) or len(factors) != 3:
                raise CheckpointError(f"checkpoint {path}: a low-rank entry must hold three factors")
            U, S, V = (_unpack(v, arrays, path) for v in factors)
            try:
                return LowRank(U, S, V)
            except (ValueError, TypeError) as exc:
                raise CheckpointError(f"checkpoint {path}: bad low-rank factors ({exc})") from None
        if "__dict__" not in obj or not isinstance(obj["__dict__"], dict):
            raise CheckpointError(f"checkpoint {path}: unexpected entry {sorted(obj)} in 'meta'")
        return {k: _unpack(v, arrays, path) for k, v in obj["__dict__"].items()}
    if isinstance(obj, list):
        return [_unpack(v, arrays, path) for v in obj]
    return obj


def architecture(net):
    """The layer sizes, activations, ranks, loss and dtype of ``net`` (JSON-able)."""
    return {
        "layers": [layer.spec() if hasattr(layer, "spec") else
                   {"n_in": layer.n_in, "n_out": layer.n_out, "activation": layer.activation,
                    "lowrank": bool(layer.lowrank), "rank": int(layer.rank)} for layer in net.layers],
        "loss": net.loss_fn.name,
        "dtype": net.dtype.name,
    }


def network_from_architecture(arch):
    """A network of the architecture :func:`architecture` describes (weights to be overwritten)."""
    layers = []
    for spec in arch["layers"]:
        if spec.get("type") == "conv2d":
            layers.append(Conv2D(tuple(spec["in_shape"]), spec["out_channels"], spec["kernel_size"],
                                 spec["rank"] if spec["lowrank"] else None, spec["activation"], pool=spec["pool"],
                                 rng=0))
        elif spec["lowrank"]:
            layers.append(LowRankLayer(spec["n_in"], spec["n_out"], spec["rank"], spec["activation"], rng=0))
        else:
            layers.append(DenseLayer(spec["n_in"], spec["n_out"], spec["activation"], rng=0))
    return MLP(layers, loss=arch["loss"], dtype=arch["dtype"])


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _optimizer(trainer):
    substep = trainer.integrator.substep
    return substep if hasattr(substep, "state_dict") else None


# ------------------------------------------------------------------------------ write / read
def save_checkpoint(trainer, path):
    """Write ``trainer`` (and its network) to ``path`` atomically; returns the path."""
    arrays, ids = {}, {}
    optimizer = _optimizer(trainer)
    parameters = _pack(trainer.net.parameters(), arrays, ids)
    optimizer_state = _pack(optimizer.state_dict() if optimizer is not None else None, arrays, ids)
    # the square bases Û whose complement Û P_⊥ the next step's augmented basis takes (2r ≥ m); a
    # stateless optimiser (SGD) holds no other reference to them
    _pack([found[0] for item in trainer.net.parameters() if isinstance(item, LowRank)
           for factor in (item.U, item.V) if (found := complement(factor)) is not None], arrays, ids)
    # the relations between those bases (U1 = Û P_r, Û = [U0, Q]) that the optimiser rotates with
    lineage = [[new, kind, parent, None if coeff is None else _pack(coeff, arrays, ids)]
               for new, kind, parent, coeff in relations_among(ids)]
    meta = {
        "version": CHECKPOINT_VERSION,
        "config": trainer.config,
        "architecture": architecture(trainer.net),
        "epoch": trainer.epoch, "step": trainer.step, "t": trainer.t, "train_seconds": trainer.train_seconds,
        "rng_state": trainer.rng.bit_generator.state,
        "history": trainer.history,
        "rank_history": trainer.rank_history,
        "parameters": parameters,
        "optimizer_state": optimizer_state,
        "lineage": lineage,
        "passes": trainer.net.passes,
    }
    meta = json.loads(json.dumps(meta, default=_json_default))
    save_npz(path, meta=np.array(json.dumps(meta)), **arrays)
    return Path(path)


def read_checkpoint(path):
    """``(meta, arrays)`` of a checkpoint file, checked for structure (:class:`CheckpointError`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path} is not a readable .npz file (truncated or corrupt: "
                              f"{exc})") from None
    if "meta" not in arrays:
        raise CheckpointError(f"checkpoint {path} has no 'meta' entry (not written by dlra train?)")
    meta_array = arrays.pop("meta")
    if meta_array.shape != () or meta_array.dtype.kind != "U":
        raise CheckpointError(f"checkpoint {path}: 'meta' must be one string, got an array of "
                              f"{meta_array.dtype} {meta_array.shape}")
    try:
        meta = json.loads(str(meta_array))
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path}: 'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path}: 'meta' must be a JSON object, got {type(meta).__name__}")
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has version {meta.get('version')!r}, "
                              f"expected {CHECKPOINT_VERSION}")
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"checkpoint {path}: 'meta' lacks {', '.join(missing)}")
    for key, kind in (("config", dict), ("architecture", dict), ("history", list), ("rank_history", list),
                      ("rng_state", dict)):
        if not isinstance(meta[key], kind):
            raise CheckpointError(f"checkpoint {path}: 'meta' entry {key!r} must be a {kind.__name__}")
    for key in ("epoch", "step"):
        if isinstance(meta[key], bool) or not isinstance(meta[key], int) or meta[key] < 0:
            raise CheckpointError(f"checkpoint {path}: 'meta' entry {key!r} must be a nonnegative integer, "
                                  f"got {meta[key]!r}")
    for key, value in arrays.items():
        if value.dtype.kind not in "fciub":
            raise CheckpointError(f"checkpoint {path}: array {key!r} is not numeric ({value.dtype})")
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            raise CheckpointError(f"checkpoint {path}: array {key!r} holds NaN or inf")
    return meta, arrays


def trainer_kwargs(meta):
    """The :class:`Trainer` keyword arguments of a checkpoint's configuration."""
    cfg = meta["config"]
    return dict(method=cfg["method"], tau=cfg["tau"], theta=cfg["theta"], tau_rate=cfg.get("tau_rate"),
                min_rank=cfg["min_rank"] if cfg["min_rank"] is not None else 1, max_rank=cfg["max_rank"],
                optimizer=cfg["optimizer"], lr=cfg["lr"], momentum=cfg["momentum"],
                batch_size=cfg["batch_size"], seed=cfg["seed"], lr_decay=cfg.get("lr_decay", 1.0),
                weight_decay=cfg.get("weight_decay", 0.0), frobenius_decay=cfg.get("frobenius_decay", 0.0),
                nuclear_decay=cfg.get("nuclear_decay", 0.0))


def _check_matches(trainer, meta, path):
    arch = architecture(trainer.net)
    saved = meta["architecture"]
    strip = (lambda a: [{k: v for k, v in spec.items() if k != "rank"} for spec in a.get("layers", [])])
    if strip(arch) != strip(saved) or arch["loss"] != saved.get("loss") or arch["dtype"] != saved.get("dtype"):
        raise CheckpointError(f"checkpoint {path}: its network {saved} does not match this trainer's {arch}")
    defaults = {"lr_decay": 1.0, "weight_decay": 0.0, "frobenius_decay": 0.0, "nuclear_decay": 0.0}
    mismatched = [k for k in _MATCHED if meta["config"].get(k, defaults.get(k)) != trainer.config.get(k)]
    if mismatched:
        detail = ", ".join(f"{k}: checkpoint {meta['config'].get(k)!r} vs {trainer.config.get(k)!r}"
                           for k in mismatched)
        raise CheckpointError(f"checkpoint {path} was written with a different configuration ({detail})")


def load_checkpoint(trainer, path, meta=None, arrays=None):
    """Restore a checkpoint into ``trainer`` and its network; returns the trainer.

    The network's architecture and the training configuration (method, optimiser, learning rate,
    batch size, seed, truncation) must match the checkpoint's (:class:`CheckpointError`). Nothing of
    the trainer changes when the file is refused.
    """
    if meta is None:
        meta, arrays = read_checkpoint(path)
    _check_matches(trainer, meta, path)
    parameters = _unpack(meta["parameters"], arrays, path)
    state = _unpack(meta["optimizer_state"], arrays, path)
    lineage = _unpack(meta.get("lineage", []), arrays, path)
    optimizer = _optimizer(trainer)
    backup = trainer.net.copy_parameters()
    rng_backup = trainer.rng.bit_generator.state
    try:
        trainer.net.set_parameters(parameters)
        if state is not None and optimizer is not None:
            optimizer.load_state_dict(state)
        restore(lineage, arrays)
        trainer.rng.bit_generator.state = meta["rng_state"]
        counters = int(meta["epoch"]), int(meta["step"]), float(meta["t"]), float(meta["train_seconds"])
        passes = int(meta.get("passes", trainer.net.passes))
    except (ValueError, TypeError, KeyError) as exc:
        trainer.net.set_parameters(backup)
        trainer.rng.bit_generator.state = rng_backup
        raise CheckpointError(f"checkpoint {path} does not fit this network or optimiser: {exc}") from None
    trainer.epoch, trainer.step, trainer.t, trainer.train_seconds = counters
    trainer.history = meta["history"]
    trainer.rank_history = meta["rank_history"]
    trainer.net.passes = passes
    return trainer
