"""Interchangeable substep solvers: explicit Euler with k substeps, classical
Runge–Kutta 2–4, ``scipy.integrate.solve_ivp``, closed forms, and optimiser steps for training."""
from .base import SubstepSolver
from .closed_form import ClosedForm
from .exponential import Exponential
from .optimizers import SGD, Adam
from .runge_kutta import ExplicitEuler, RungeKutta
from .scipy_ivp import ScipyIVP

__all__ = ["SubstepSolver", "RungeKutta", "ExplicitEuler", "ScipyIVP", "ClosedForm", "Exponential", "SGD", "Adam",
           "as_substep_solver"]


def as_substep_solver(substep, default="rk4"):
    """A SubstepSolver from a solver, a name ("euler", "rk2", "rk3", "rk4", "heun", "sgd", "adam",
    "solve_ivp", "exponential", "etd2", "lawson") or None (the default)."""
    if substep is None:
        substep = default
    if isinstance(substep, SubstepSolver):
        return substep
    if isinstance(substep, str):
        name = substep.lower()
        if name in ("euler", "rk2", "heun", "rk3", "rk4"):
            return RungeKutta(name)
        if name == "sgd":
            return SGD()
        if name == "adam":
            return Adam()
        if name in ("solve_ivp", "scipy"):
            return ScipyIVP()
        if name in ("exponential", "exp_euler"):
            return Exponential("euler")
        if name in ("etd2", "lawson"):
            return Exponential(name)
        raise ValueError(f"unknown substep solver {substep!r}; choose euler, rk2, heun, rk3, rk4, "
                         "sgd, adam, solve_ivp, exponential, etd2, lawson or pass a SubstepSolver")
    raise TypeError(f"substep must be a SubstepSolver or a name, got {type(substep).__name__}")
