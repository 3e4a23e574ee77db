"""Diagnostics: measure and check every quantity of the DLRT error bound
(Ceruti, Kusch & Lubich, BIT 62 (2022), Thm. 2; Schotthöfer et al., NeurIPS 2022).

    ‖Yₙ − W(tₙ)‖ ≤ c0 δ + c1 ε + c2 h + c3 ϑ/h,      L(Y_{n+1}) ≤ L(Y_n) − c4 h + c5 ϑ.

* :func:`normal_component` — εₙ = ‖(I − P(Yₙ)) F(tₙ, Yₙ)‖ (exact for dense F, randomised for operators)
* :class:`Recorder`, :func:`record`, :func:`reference_solution` — error, ε, discarded singular
  values, ranks and loss along a run (a ``step_callback`` of :func:`dlra.solve`)
* :func:`convergence_sweep`, :func:`run_sweep`, :func:`grid`, :func:`to_csv` — sweeps over
  methods × h × ϑ × rank through ``joblib`` (switch to Dask with ``joblib.parallel_config``)
* :func:`fit_bound` — nonnegative c0..c3 by NNLS with bootstrap intervals, identifiability verdicts
  (VIF, condition number), the drop-one fits, goodness of fit, violating points
* :func:`fit_order` (automatic asymptotic range, R², warning below 3 points), :func:`local_orders`, :func:`vshape_minimum`, :func:`fit_power_law` — observed
  orders, the minimiser h* of the V-shaped error curve and its law h* ∝ ϑ^{1/2}
* :func:`descent_check`, :func:`descent_run`, :func:`descent_sweep` — the per-step loss decrease of
  gradient flows and the allowance ratio max ΔL / (c5 ϑ − c4 h)
"""
from .bound_fit import DEFAULT_TERMS, TERM_SYMBOLS, TERMS, BoundFit, collinearity, design_matrix, fit_bound
from .descent import DescentCheck, descent_check, descent_run, descent_sweep
from .normal_component import (DEFAULT_PROBES, normal_component, normal_part_dense,
                               randomized_relative_tolerance, tangent_projection_dense)
from .orders import (OrderFitWarning, PowerLaw, asymptotic_range, fit_order, fit_power_law, local_orders,
                     orders_by, vshape_law, vshape_minimum)
from .recording import Recorder, ReferenceSolution, Trace, record, reference_solution
from .sweep import (convergence_sweep, from_csv, grid, method_spec, run_sweep, select, to_csv,
                    to_structured)

__all__ = [
    "normal_component", "normal_part_dense", "tangent_projection_dense", "randomized_relative_tolerance",
    "DEFAULT_PROBES", "Recorder", "Trace", "record", "reference_solution", "ReferenceSolution",
    "grid", "run_sweep", "convergence_sweep", "method_spec", "select", "to_csv", "from_csv",
    "to_structured", "fit_bound", "BoundFit", "TERMS", "DEFAULT_TERMS", "TERM_SYMBOLS", "collinearity",
    "design_matrix", "fit_order", "local_orders",
    "vshape_minimum", "fit_power_law", "PowerLaw", "orders_by", "asymptotic_range", "OrderFitWarning",
    "vshape_law",
    "descent_check", "descent_run", "descent_sweep",
    "DescentCheck",
]
