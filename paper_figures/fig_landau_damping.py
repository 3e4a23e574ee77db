"""Linear Landau damping (Vlasov–Poisson 1x1v, k = 0.5, α = 0.01) with rank-10 DLRA.

Electric energy ½∫E² against t for projector splitting (KSL, Lie–Trotter), BUG and the full-rank
reference on the same grid (64 × 256, spectral in x and v, h = 0.025, RK4 substeps), with the decay
rate fitted through the energy peaks in 5 ≤ t ≤ 35 and compared with the linear theory 2γ,
γ = −0.1533; mass drift per method. Writes landau_damping.{png,pdf,csv} and
landau_damping_rates.csv. ``--quick``: a 16 × 96 grid up to t = 15 (seconds).
"""
import os
import sys
import time

import numpy as np

import dlra
from dlra.problems.vlasov import LANDAU_RATE, LandauDamping, peak_decay_rate

NAME = "landau_damping"


def compute(quick=False):
    nx, nv, T, h, window = (16, 96, 15.0, 0.05, (4.0, 14.0)) if quick else (64, 256, 40.0, 0.025, (5.0, 35.0))
    p = LandauDamping(nx=nx, nv=nv, rank=10, t_span=(0.0, T))
    specs = [("ksl", "KSL (Lie), rank 10", p.Y0), ("bug", "BUG, rank 10", p.Y0),
             ("full", "full rank", p.Y0.to_dense())]
    records, rates = [], []
    for method, label, Y0 in specs:
        rows = []

        def record(t, Y, info=None):
            E = p.electric_field(Y)
            rows.append(dict(label=label, method=method, t=float(t), energy=p.electric_energy(Y),
                             amplitude=float(np.max(np.abs(E))), mass=p.mass(Y),
                             rank=int(info.ranks[0]) if info is not None and info.ranks else -1))
            return False

        record(0.0, Y0)
        start = time.perf_counter()
        sol = dlra.solve(p.F, Y0, p.t_span, h, method=method, substep="rk4", t_eval=[T], step_callback=record)
        seconds = time.perf_counter() - start
        if not sol.success:
            raise RuntimeError(f"{label}: {sol.message}")
        t = [r["t"] for r in rows]
        energy_rate = peak_decay_rate(t, [r["energy"] for r in rows], *window)
        amplitude_rate = peak_decay_rate(t, [r["amplitude"] for r in rows], *window)
        masses = np.array([r["mass"] for r in rows])
        rates.append(dict(label=label, method=method, nx=nx, nv=nv, h=h, T=T, window=f"{window[0]:g}-{window[1]:g}",
                          energy_rate=energy_rate, energy_rate_over_2gamma=energy_rate / (2 * LANDAU_RATE),
                          amplitude_rate=amplitude_rate, amplitude_rate_over_gamma=amplitude_rate / LANDAU_RATE,
                          mass_drift=float(np.max(np.abs(masses - masses[0])) / masses[0]), seconds=seconds))
        records.extend(rows)
    return records, rates


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()

    records, rates = compute(quick)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
    for rate in rates:
        rows = [r for r in records if r["method"] == rate["method"]]
        ax.semilogy([r["t"] for r in rows], [r["energy"] for r in rows],
                    label=f"{rate['label']}: fitted rate = {rate['energy_rate_over_2gamma']:.3f} × 2γ")
    t = np.array([r["t"] for r in records if r["method"] == "full"])
    e0 = records[0]["energy"]
    ax.semilogy(t, e0 * np.exp(2 * LANDAU_RATE * t), "k--", lw=0.8, label="e^{2γt}, γ = −0.1533")
    ax.set_xlabel("t")
    ax.set_ylabel("electric energy ½∫E² dx")
    ax.set_title(f"Landau damping, {rates[0]['nx']} × {rates[0]['nv']} grid, h = {rates[0]['h']:g}, RK4 substeps")
    ax.legend(fontsize=7)
    return save_with_csv(fig, records, out_dir, NAME, extra={"_rates": rates})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
