"""Known relations between the orthonormal bases of consecutive steps, for rotating optimiser state.

The rank-adaptive BUG (Ceruti, Kusch & Lubich, BIT 62 (2022)) builds the augmented basis
Û = [U0, Q] with the old basis kept as its leading columns, and truncates the core
Ŝ(t1) = P Σ Qᴴ to U1 = Û P_r. Optimisers that carry state across steps (momentum, Adam) express
it in the bases of each substep and rotate it with R = newᴴ old when the bases change
(:mod:`dlra.substep.optimizers`). With the two relations most of R is known from small matrices:

    U1ᴴ Û = P_rᴴ,    U1ᴴ U0 = (P_r[:r0, :])ᴴ,    Û_newᴴ Û_old = [P_rᴴ ; Q_newᴴ Û_old],

(Ûᴴ Û = I), so the K- and L-substeps' rotations need no product with m or n rows and the
augmented S-substep's needs half of one. :func:`rotation` uses a relation when one applies and
the generic product newᴴ old otherwise, so it is always correct for orthonormal ``old``/``new``.

When the augmented basis is square (2r ≥ m: Û spans the whole space, as at the start of DLRT on a
width-500 layer at rank 250), the truncation also gives the next step's complement for free:
Û P = [U1, Û P_⊥] is unitary, so the next augmented basis can be taken as [U1, Û P_⊥] with no QR
(:func:`record_complement`, used by :func:`dlra.linalg.augmented_basis`), and its rotation from Û
is the known Pᴴ (the prefix relation then carries the coefficients P_⊥ of its remaining columns).

The relations are recorded by the code that creates the arrays (:func:`dlra.linalg.augmented_basis`
records the prefix, :func:`dlra.integrators.blocks.truncate_cores` the product and the complement)
and identify arrays by object identity; they are forgotten when the array is garbage-collected
(weak references, so that no chain of old bases is kept alive). A recorded array must not be
modified in place.
"""
from __future__ import annotations

import weakref

import numpy as np

__all__ = ["record_product", "record_prefix", "record_complement", "complement", "rotation", "known_rotation",
           "relations_among", "restore", "inherit"]

#: id(array) → (weak reference to the array, kind, weak reference to the parent, coefficients)
_RELATIONS = {}
#: id(array) → (weak reference to the array, a square unitary B, coefficients C): B C is an
#: orthonormal basis of the orthogonal complement of the array's range
_COMPLEMENTS = {}


def _forget(table, key):
    def callback(_ref):
        table.pop(key, None)
    return callback


def _record(new, kind, parent, coeff):
    key = id(new)
    try:
        entry = (weakref.ref(new, _forget(_RELATIONS, key)), kind, weakref.ref(parent), coeff)
    except TypeError:  # not weak-referenceable (not an ndarray): nothing to record
        return
    _RELATIONS[key] = entry


def record_product(new, parent, coeff):
    """Record ``new = parent @ coeff`` (parent with orthonormal columns, coeff small)."""
    _record(new, "product", parent, coeff)


def record_prefix(new, head, rest=None):
    """Record that the leading ``head.shape[1]`` columns of ``new`` are ``head`` (same values).

    ``rest``: coefficients C with ``new[:, k:] = B @ C``, B the parent of head's recorded product
    relation (head = B C_head): set when the remaining columns come from :func:`complement`.
    """
    _record(new, "prefix", head, rest)


def record_complement(new, parent, coeff):
    """Record that ``parent @ coeff`` is an orthonormal basis of the orthogonal complement of
    range(``new``): ``parent`` square unitary (m × m), ``new = parent @ C_r`` and [C_r, coeff] unitary
    (the trailing singular vectors of the truncation U1 = Û P_r when Û is square)."""
    if parent.ndim != 2 or parent.shape[0] != parent.shape[1] or coeff.shape[0] != parent.shape[1]:
        return
    key = id(new)
    try:
        ref = weakref.ref(new, _forget(_COMPLEMENTS, key))
    except TypeError:  # not weak-referenceable (not an ndarray): nothing to record
        return
    # the parent is held strongly (no more than twice the array's own size when 2r ≥ m), so that it
    # outlives a step whose optimiser keeps no reference to Û (SGD)
    _COMPLEMENTS[key] = (ref, parent, coeff)


def complement(a):
    """``(B, C)`` with B C an orthonormal basis of the orthogonal complement of range(a), as recorded by
    :func:`record_complement`, or None."""
    entry = _COMPLEMENTS.get(id(a))
    if entry is None or entry[0]() is not a:
        return None
    return entry[1], entry[2]


def inherit(copy, original):
    """Give ``copy`` (equal values) the relation recorded for ``original``, if any."""
    entry = _RELATIONS.get(id(original))
    if entry is not None and entry[0]() is original:
        parent = entry[2]()
        if parent is not None:
            _record(copy, entry[1], parent, entry[3])
    found = complement(original)
    if found is not None:
        record_complement(copy, *found)


def _relation(a):
    entry = _RELATIONS.get(id(a))
    if entry is None or entry[0]() is not a:
        return None
    parent = entry[2]()
    if parent is None:
        return None
    return entry[1], parent, entry[3]


def known_rotation(old, new):
    """``newᴴ old`` from the recorded relations, or None when they do not determine it."""
    rel = _relation(new)
    if rel is None:
        return None
    kind, parent, coeff = rel
    if kind == "product":  # new = parent C:  newᴴ old = Cᴴ parentᴴ old
        if parent is old:
            return coeff.conj().T
        head = _relation(parent)
        if head is not None and head[0] == "prefix" and head[1] is old:  # old = parent[:, :k]
            return coeff[:old.shape[1]].conj().T
        return None
    # prefix: new = [head, rest]
    top = known_rotation(old, parent)
    if top is None:
        return None
    if coeff is not None:  # rest = B C with head = B C_head: restᴴ old = Cᴴ when B is old
        head = _relation(parent)
        if head is not None and head[0] == "product" and head[1] is old:
            return np.concatenate([top, coeff.conj().T], axis=0)
    rest = new[:, parent.shape[1]:]
    return np.concatenate([top, rest.conj().T @ old], axis=0)


def rotation(old, new):
    """R = newᴴ old (coefficients in ``new`` = R @ coefficients in ``old``), from the recorded
    relations when they apply (see the module docstring), else as the product."""
    known = known_rotation(old, new)
    if known is not None:
        return known
    return new.conj().T @ old


def relations_among(labels):
    """The recorded relations between arrays of ``labels`` ({id(array): label}, the arrays alive):
    a list of ``(label of new, kind, label of parent, coefficients or None)`` — what a checkpoint
    stores so that :func:`restore` re-creates them (a resumed run then rotates as an uninterrupted one)."""
    out = []
    entries = list(_RELATIONS.values())
    entries += [(ref, "complement", (lambda p=parent: p), coeff) for ref, parent, coeff in list(_COMPLEMENTS.values())]
    for ref, kind, parent_ref, coeff in entries:
        new, parent = ref(), parent_ref()
        if new is None or parent is None or id(new) not in labels or id(parent) not in labels:
            continue
        out.append((labels[id(new)], kind, labels[id(parent)], coeff))
    return out


def restore(relations, arrays):
    """Record ``relations`` (from :func:`relations_among`) between the arrays ``arrays[label]``."""
    for new, kind, parent, coeff in relations:
        if kind == "product":
            record_product(arrays[new], arrays[parent], coeff)
        elif kind == "prefix":
            record_prefix(arrays[new], arrays[parent], coeff)
        elif kind == "complement":
            record_complement(arrays[new], arrays[parent], coeff)
        else:
            raise ValueError(f"relations: unknown kind {kind!r}")
