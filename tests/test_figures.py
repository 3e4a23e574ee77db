"""`dlra figures --quick` writes every figure (PNG, PDF) and CSV, and the CSVs hold the asserted numbers."""
import os
from pathlib import Path

import pytest

import dlra.diagnostics as dg
import dlra.figures as figures

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    written = figures.generate_all(str(out), quick=True, progress=False,
                                   scripts_dir=str(ROOT / "paper_figures"))
    return out, written


def test_every_figure_has_png_pdf_csv(quick_figures):
    out, written = quick_figures
    assert set(written) == set(figures.FIGURES)
    for name in figures.FIGURES:
        for suffix in (".png", ".pdf", ".csv"):
            path = out / f"{name}{suffix}"
            assert path.is_file() and path.stat().st_size > 0, path
        assert all(os.path.isfile(p) for p in written[name])
    assert not list(out.glob(".tmp-*"))


def test_v_shape_per_method_balancing_predicts_the_exponent(quick_figures):
    """≥ 3 problems × 4 methods measured; wherever every ϑ gives a V (interior minimum with a left
    branch), the exponent x of h* ∝ ϑ^x agrees with the balancing prediction (a − b)/(p + q) from
    the measured slopes within ±0.1."""
    out, _ = quick_figures
    rows = dg.from_csv(out / "v_shape_summary.csv")
    assert len({r["problem"] for r in rows}) >= 3 and len({r["label"] for r in rows}) >= 4
    v_rows = [r for r in rows if r["all_interior"] is True]
    assert v_rows, "no method shows a V on any problem"
    for r in v_rows:
        assert abs(r["x"] - r["x_balance"]) <= 0.1, r
    for r in rows:
        assert r["x_theorem"] == pytest.approx(1 / (r["p"] + 1))


def test_bound_fit_identified_design(quick_figures):
    """On the identified design c1, c2, c3 are all > 0 with intervals excluding 0, and no run lies
    above 1.5 × the fitted bound; on the Schrödinger sweep (ε rises with ϑ/h) the fit says which
    constants are not identified instead of a silent 0."""
    out, _ = quick_figures
    consts = {r["fit"][:3]: r for r in dg.from_csv(out / "bound_fit_constants.csv")}
    a = consts["(a)"]
    for c in ("c1", "c2", "c3"):
        assert a[c] > 0 and a[c + "_lo"] > 0 and a[c + "_lo"] <= a[c] <= a[c + "_hi"], c
        assert a[c + "_verdict"] == "identified", (c, a[c + "_verdict"])
    assert a["max_ratio"] <= 1.5 and a["violations"] == 0
    for t in ("eps", "h", "discarded"):          # every term is needed
        assert a[f"max_ratio_without_{t}"] > 1.5, t
    assert consts["(b)"]["max_ratio"] > a["max_ratio"]      # ϑ/h is the blunter regressor here
    c = consts["(c)"]
    assert any(c[k + "_verdict"] != "identified" for k in ("c1", "c3"))
    points = [p for p in dg.from_csv(out / "bound_fit.csv") if p["fit"].startswith("(a)")]
    assert all(p["error"] <= 1.5 * p["bound"] for p in points)
    thetas = {p["theta"] for p in points}
    hs = [p["h_eff"] for p in points]
    assert max(thetas) / min(thetas) >= 1e3 and max(hs) / min(hs) >= 50
    assert len({p["eps_param"] for p in points}) >= 3


def test_descent_check_holds_when_guaranteed_and_fails_when_unstable(quick_figures):
    """Allowance ratio max ΔL/(c5ϑ): ≤ 1 for h ≤ 1/Lip (and within 10× of the allowance somewhere),
    > 1 for the unstable SGD step h > 2/Lip at every ϑ, and the naive factor ODEs fail."""
    out, _ = quick_figures
    rows = dg.from_csv(out / "descent.csv")
    bug = [r for r in rows if r["method"] in ("adaptive_bug", "parallel_bug")]
    guaranteed = [r for r in bug if r["h"] <= 1.0 / r["lipschitz"]]
    unstable = [r for r in bug if r["h"] > 2.0 / r["lipschitz"]]
    assert guaranteed and unstable
    assert all(r["holds"] is True and r["ratio"] <= 1.0 for r in guaranteed)
    assert max(r["ratio"] for r in guaranteed) >= 0.1
    assert all(r["holds"] is False and r["ratio"] > 1.0 for r in unstable)
    naive = [r for r in rows if r["method"] == "naive"]
    assert naive and all(r["holds"] is False and r["failed"] is True for r in naive)


def test_error_vs_h_orders_and_robustness(quick_figures):
    out, _ = quick_figures
    rows = dg.from_csv(out / "error_vs_h_orders.csv")
    panel_a = [r for r in rows if r["problem"].startswith("rotating")]
    assert {r["expected"] for r in panel_a} == {1, 2}           # both orders on the ε > 0 problem
    for r in panel_a:                                            # each method reads its own order
        assert abs(r["order"] - r["expected"]) <= 0.25 and r["points"] >= 3 and r["r2"] > 0.99, r
    for r in rows:                                               # the fitted range is reported
        assert r["h_min"] <= r["h_max"] and r["points"] <= r["offered"]
    rob = dg.from_csv(out / "robustness.csv")
    smallest = min(r["sigma_min"] for r in rob)
    at_small = {r["label"]: r["error"] for r in rob if r["sigma_min"] == smallest}
    assert at_small["BUG"] < 1e-6 and at_small["KSL Lie"] < 1e-6
    assert not at_small["naive factor ODEs (RK4)"] < 1e-6      # inf (failed) or inaccurate


def test_cli_main_lists_and_rejects_unknown(capsys):
    assert figures.main(["--list"]) == 0
    assert "v_shape" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown figure"):
        figures.generate_all("unused", only=["nope"], progress=False)
