"""The numba/numpy network against PyTorch on the CPU: dense and DLRT training steps with Adam, one run.

Network ``784 → 500 → 500 → 500 → 500 → 10`` (ReLU, softmax cross-entropy), batch 256, float32,
Adam (β = 0.9, 0.999) everywhere. Timed side by side, interleaved round by round (the order
rotated each round):

* **numba dense** — ``dlra.FullRank(substep=dlra.Adam()).step(net.vector_field(X, y), …)`` +
  ``set_parameters`` on ``MLP.from_sizes(sizes, ranks=None)``;
* **torch dense** — ``opt.zero_grad(); CrossEntropyLoss()(net(X), y).backward(); opt.step()`` with
  ``torch.optim.Adam`` on the same initial weights;
* **numba DLRT** — ``AdaptiveBUG(substep=Adam(), truncation=FixedRank())`` (one forward/backward
  pass per step, Adam's moments rotated into the new bases) at

  - dlra's own **τ = 0.15 ranks**: the ranks a τ = 0.15 run of ``Trainer`` reached (read from
    ``results/mnist/init0.05/rank_evolution.csv``, the RESULTS.md setting: initial rank 250, Adam
    1e-3 × 0.8 per epoch, init scale 0.05, last step of 3 epochs; ``--tau-ranks`` overrides),
  - the **start-up ranks 150 and 250**, where every run from rank 250 spends its first steps;

* **torch KLS reference** — the reference codes' rank-adaptive step, written here in PyTorch at the
  same ranks: three forward/backward passes (K-, L- and S-forms of every low-rank layer), one
  ``torch.optim.Adam`` over K, L, Ŝ, biases and the dense output layer whose state is **not**
  rotated, Householder QR of [K, U] and [L, V] (``torch.linalg.qr``), Ŝ0 = M S Nᵀ, SVD of the
  2r × 2r core (``torch.linalg.svd``) truncated back to r (fixed ranks, so that every repetition
  does the same work);
* predictions (forward + argmax on the batch) of the dense networks and the τ = 0.15 DLRT network.

The rounds come in two groups, each interleaved within itself: (1) the dense steps, the τ-rank
DLRT and reference steps and the predictions; (2) the start-up ranks with their reference steps,
together with a second copy of torch's dense step and of the τ-rank DLRT step. The τ-rank step is
small (≈ 7 ms) and was measured 3–10 % slower, relative to torch's dense step, in rounds that also
run the rank-150/250 steps (which allocate and free hundreds of megabytes per round) than in rounds
without them; a training run spends its first steps at the start-up ranks and then thousands of
steps at the small ranks. The τ-rank target is read from group (1); the group-(2) ratio is printed
beside it.

Ratios are formed **round by round** (A / B of the same round, so that the shared machine's load
hits both alike) and the table reports their median, next to the median times. Each call is timed
twice: wall time (``perf_counter``) and the process's CPU time (``process_time``). With BLAS,
numba and torch on one thread the CPU time is the work done by this process; on an oversubscribed
machine the wall time adds the waits for a core, which hit many short calls (DLRT) harder than
few long ones (dense), so the CPU-time ratios are reported as the load-robust companion.

PyTorch is a benchmark-only dependency (``pip install torch==2.13.0``): imported here and nowhere in
the package. BLAS runs on ``--threads`` threads (default 1) for numpy (set before numpy loads) and
``torch.set_num_threads`` for torch; both are reported. Every configuration is warmed up (numba
compiles on its first call) before the timed rounds.

Usage (from the repository root)::

    python benchmarks/bench_torch.py                 # 21 rounds, ~1 min
    python benchmarks/bench_torch.py --quick         # 3 rounds, start-up ranks skipped

Writes ``<out>/training_torch.csv`` (default out: benchmarks/) and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys

TAU_RANKS_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "results", "mnist",
                             "init0.05", "rank_evolution.csv")
#: ranks of the τ = 0.15 run in TAU_RANKS_CSV (seed 0, step 588), used when the file is absent
TAU_RANKS_FALLBACK = [30, 22, 15, 10]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--tau-ranks", type=int, nargs=4, default=None,
                   help="hidden-layer ranks of the τ = 0.15 network (default: read from the τ = 0.15 run)")
    p.add_argument("--startup-ranks", type=int, nargs="*", default=[150, 250],
                   help="uniform ranks of the start-up phase (default 150 250)")
    p.add_argument("--repeat", type=int, default=21, help="interleaved rounds (median)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--quick", action="store_true", help="3 rounds, no start-up ranks")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads of numpy and torch.set_num_threads (default 1; 0: numpy's default)")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                   help="folder for training_torch.csv (default: benchmarks/)")
    p.add_argument("--no-files", action="store_true", help="print only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (drawn only on a terminal anyway)")
    return p.parse_args(argv)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _machine, bench_training
from _machine import set_thread_env  # noqa: E402  (imports no numpy)

ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # before numpy loads its BLAS
    set_thread_env(ARGS.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402

import bench_training as bt  # noqa: E402  (same folder; also makes dlra importable from a checkout)

import dlra  # noqa: E402
from dlra.nn import MLP  # noqa: E402


def tau_ranks(path=TAU_RANKS_CSV, tau="0.15"):
    """(ranks, source) of the last step of the τ run in ``path`` (seed 0)."""
    try:
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r["tau"] == tau and r.get("seed", "0") == "0"]
    except OSError:
        rows = []
    if not rows:
        return list(TAU_RANKS_FALLBACK), f"fallback {TAU_RANKS_FALLBACK} ({path} not found)"
    last = max(rows, key=lambda r: int(r["step"]))
    ranks = [int(last[f"rank_{k}"]) for k in range(1, 5)]
    return ranks, f"{os.path.relpath(path)}, τ = {tau}, seed 0, step {last['step']} (epoch {last['epoch']})"


# ------------------------------------------------------------------------------ torch networks
def torch_dense(numba_net, lr):
    """torch.nn.Sequential with the dense numba network's weights; its Adam step and prediction."""
    import torch
    mods = []
    for k, layer in enumerate(numba_net.layers):
        lin = torch.nn.Linear(layer.n_in, layer.n_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.W, dtype=np.float32)))
            lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(layer.b[:, 0], dtype=np.float32)))
        mods.append(lin)
        if k < len(numba_net.layers) - 1:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(X, y):
        opt.zero_grad(set_to_none=True)
        loss_fn(net(X), y).backward()
        opt.step()

    def predict(X):
        with torch.no_grad():
            return net(X).argmax(dim=1)

    return step, predict


class TorchKLS:
    """Reference-style rank-adaptive DLRT step in PyTorch: three passes, unrotated Adam, fixed ranks.

    Per low-rank layer the state is U (m×r), S (r×r), V (n×r) and the trainable K = U S (m×r),
    L = V Sᵀ (n×r) and Ŝ (2r×2r); the last layer is dense. One step (Schotthöfer et al., NeurIPS 2022,
    Alg. 1, as the reference codes implement it):

    1. K ← U S, L ← V Sᵀ; pass with x ↦ K (Vᵀ x) + b (K-form) and pass with x ↦ U (Lᵀ x) + b
       (L-form), one Adam step on K and L;
    2. Û = qr([K, U]).Q, V̂ = qr([L, V]).Q, Ŝ ← (Ûᵀ U) S (V̂ᵀ V)ᵀ;
    3. pass with x ↦ Û Ŝ V̂ᵀ x + b (S-form), one Adam step on Ŝ, biases and the dense layer;
    4. Ŝ = P Σ Qᵀ; U ← Û P_r, V ← V̂ Q_r, S ← Σ_r (truncated back to r).
    """

    def __init__(self, sizes, ranks, lr, seed=0):
        import torch
        self.torch = torch
        g = torch.Generator().manual_seed(seed)
        self.layers = []
        params = []
        for k, r in enumerate(ranks):
            m, n = sizes[k + 1], sizes[k]
            b = torch.zeros(m, requires_grad=True)
            if r is None:
                W = (torch.randn(m, n, generator=g) * (2.0 / n) ** 0.5).requires_grad_(True)
                self.layers.append({"W": W, "b": b})
                params += [W, b]
                continue
            U = torch.linalg.qr(torch.randn(m, r, generator=g)).Q
            V = torch.linalg.qr(torch.randn(n, r, generator=g)).Q
            layer = {"U": U, "V": V, "S": torch.eye(r), "b": b, "r": r,
                     "K": torch.zeros(m, r, requires_grad=True), "L": torch.zeros(n, r, requires_grad=True),
                     "Shat": torch.zeros(2 * r, 2 * r, requires_grad=True)}
            self.layers.append(layer)
            params += [layer["K"], layer["L"], layer["Shat"], b]
        self.params = params
        self.opt = torch.optim.Adam(params, lr=lr)
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def _forward(self, X, form):
        torch = self.torch
        x = X
        for k, layer in enumerate(self.layers):
            if "W" in layer:
                x = x @ layer["W"].T + layer["b"]
            elif form == "K":
                x = (x @ layer["V"]) @ layer["K"].T + layer["b"]
            elif form == "L":
                x = (x @ layer["L"]) @ layer["U"].T + layer["b"]
            else:
                x = ((x @ layer["Vhat"]) @ layer["Shat"].T) @ layer["Uhat"].T + layer["b"]
            if k < len(self.layers) - 1:
                x = torch.relu(x)
        return x

    def _zero_grads(self):
        for p in self.params:
            p.grad = None

    def step(self, X, y):
        torch = self.torch
        lowrank = [layer for layer in self.layers if "U" in layer]
        with torch.no_grad():
            for layer in lowrank:
                layer["K"].copy_(layer["U"] @ layer["S"])
                layer["L"].copy_(layer["V"] @ layer["S"].T)
        self._zero_grads()
        self.loss_fn(self._forward(X, "K"), y).backward()  # pass 1
        self.loss_fn(self._forward(X, "L"), y).backward()  # pass 2
        for layer in self.layers:  # K and L only in this optimiser step
            layer["b"].grad = None
            if "W" in layer:
                layer["W"].grad = None
        self.opt.step()
        with torch.no_grad():
            for layer in lowrank:
                layer["Uhat"] = torch.linalg.qr(torch.cat([layer["K"], layer["U"]], dim=1)).Q
                layer["Vhat"] = torch.linalg.qr(torch.cat([layer["L"], layer["V"]], dim=1)).Q
                M, N = layer["Uhat"].T @ layer["U"], layer["Vhat"].T @ layer["V"]
                layer["Shat"].copy_(M @ layer["S"] @ N.T)
        self._zero_grads()
        self.loss_fn(self._forward(X, "S"), y).backward()  # pass 3
        for layer in lowrank:
            layer["K"].grad = layer["L"].grad = None
        self.opt.step()
        with torch.no_grad():
            for layer in lowrank:
                P, sigma, Qh = torch.linalg.svd(layer["Shat"])
                r = layer["r"]
                layer["U"] = layer["Uhat"] @ P[:, :r]
                layer["V"] = layer["Vhat"] @ Qh[:r].T
                layer["S"] = torch.diag(sigma[:r])


# ------------------------------------------------------------------------------ timing
class Timed:
    def __init__(self, name, fn, kind, group=1):
        self.name, self.fn, self.kind, self.group = name, fn, kind, group
        self.times, self.cpu = [], []


#: suffix of the names of the group-(2) copies of torch's dense step and the τ-rank DLRT step
WITH_STARTUP = " (rounds with the start-up ranks)"


def run(args):
    import torch
    repeat = 3 if args.quick else args.repeat
    startup = [] if args.quick else list(args.startup_ranks)
    info = bt.machine_info()
    blas_desc, nthreads = bt.blas_threads()
    torch.set_num_threads(nthreads)
    info["torch"] = torch.__version__
    info["torch threads (torch.get_num_threads())"] = torch.get_num_threads()
    info["torch BLAS/LAPACK"] = "MKL" if torch.backends.mkl.is_available() else "other"

    w, batch, lr = args.width, args.batch, args.lr
    sizes = [784, w, w, w, w, 10]
    ranks_tau, source = (list(args.tau_ranks), "--tau-ranks") if args.tau_ranks else tau_ranks()
    ranks_tau = [min(r, sizes[k], sizes[k + 1]) for k, r in enumerate(ranks_tau)]
    info["τ = 0.15 ranks"] = f"{'/'.join(map(str, ranks_tau))} ({source})"
    X, y = bt.make_data(w, batch)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    dense = MLP.from_sizes(sizes, ranks=None, dtype=np.float32, rng=0)
    t_step, t_predict = torch_dense(dense, lr)  # copies the weights before the numba network trains
    full = dlra.FullRank(substep=dlra.Adam())

    def numba_dense_step():
        dense.set_parameters(full.step(dense.vector_field(X, y), 0.0, dense.parameters(), h=lr))

    items = [Timed("numba dense", numba_dense_step, "step"),
             Timed("torch dense", lambda: t_step(tX, ty), "step")]
    settings = [("τ = 0.15 ranks " + "/".join(map(str, ranks_tau)), ranks_tau)]
    settings += [(f"rank {r}", [min(r, sizes[k], sizes[k + 1]) for k in range(4)]) for r in startup]
    lowrank_cfgs = {}
    for k, (label, ranks) in enumerate(settings):
        cfg = bt.lowrank_config(sizes, ranks + [None], X, y, lr, substep=dlra.Adam())
        ref = TorchKLS(sizes, ranks + [None], lr)
        lowrank_cfgs[label] = cfg
        group = 1 if k == 0 else 2
        items.append(Timed(f"numba DLRT, {label}", cfg.step_fn, "step", group))
        items.append(Timed(f"torch KLS reference, {label}", lambda ref=ref: ref.step(tX, ty), "step", group))
    tau_label = settings[0][0]
    items += [Timed("numba dense", lambda: dense.predict(X), "prediction"),
              Timed(f"numba DLRT, {tau_label}", lowrank_cfgs[tau_label].predict_fn, "prediction"),
              Timed("torch dense", lambda: t_predict(tX), "prediction")]
    if startup:  # group 2 also times torch's dense step and the τ-rank step (see the module docstring)
        items += [Timed("torch dense" + WITH_STARTUP, lambda: t_step(tX, ty), "step", 2),
                  Timed(f"numba DLRT, {tau_label}{WITH_STARTUP}", lowrank_cfgs[tau_label].step_fn, "step", 2)]

    from dlra.progress import progress_bar
    bar = progress_bar(total=len(items) * (repeat + 2), desc="torch vs numba", unit="call",
                       enabled=not args.no_progress)
    for it in items:  # warm-up: numba compilation, torch's first-call allocations
        for _ in range(2):
            it.fn()
            bar.update(1)
    load0 = os.getloadavg()
    for group in (1, 2):
        members = [it for it in items if it.group == group]
        for rnd in range(repeat):
            for j in range(len(members)):
                it = members[(j + rnd) % len(members)]
                cpu0, start = time.process_time(), time.perf_counter()
                it.fn()
                it.times.append(time.perf_counter() - start)
                it.cpu.append(time.process_time() - cpu0)
                bar.update(1)
    load1 = os.getloadavg()
    bar.close()
    info["load average (1, 5, 15 min) at start of the timed rounds"] = "%.2f, %.2f, %.2f" % load0
    info["load average (1, 5, 15 min) at end"] = "%.2f, %.2f, %.2f" % load1
    return items, settings, repeat, info, nthreads


def paired_ratio(a, b, cpu=False):
    """Median over rounds of a's time / b's time in the same round (wall, or CPU time)."""
    if cpu:
        return float(np.median(np.asarray(a.cpu) / np.maximum(np.asarray(b.cpu), 1e-9)))
    return float(np.median(np.asarray(a.times) / np.asarray(b.times)))


def report(args, items, settings, repeat, info, nthreads):
    import torch
    by = {(it.kind, it.name): it for it in items}
    torch_step, torch_pred = by[("step", "torch dense")], by[("prediction", "torch dense")]
    torch_step2 = by.get(("step", "torch dense" + WITH_STARTUP))
    rows = []
    for it in items:
        ref = torch_pred if it.kind == "prediction" else torch_step if it.group == 1 else torch_step2
        row = {"kind": it.kind, "name": it.name, "group": it.group, "width": args.width, "batch": args.batch,
               "median_ms": f"{1e3 * np.median(it.times):.4g}", "min_ms": f"{1e3 * min(it.times):.4g}",
               "max_ms": f"{1e3 * max(it.times):.4g}", "ratio_to_torch_dense": f"{paired_ratio(it, ref):.4g}",
               "ratio_to_torch_reference": "", "median_cpu_ms": f"{1e3 * np.median(it.cpu):.4g}",
               "cpu_ratio_to_torch_dense": f"{paired_ratio(it, ref, cpu=True):.4g}",
               "cpu_ratio_to_torch_reference": "", "repeat": repeat, "blas_threads": nthreads,
               "torch_threads": torch.get_num_threads()}
        label = it.name.split(", ", 1)[-1]
        if it.name.startswith("numba DLRT") and it.kind == "step" and ("step", f"torch KLS reference, {label}") in by:
            other = by[("step", f"torch KLS reference, {label}")]
            row["ratio_to_torch_reference"] = f"{paired_ratio(it, other):.4g}"
            row["cpu_ratio_to_torch_reference"] = f"{paired_ratio(it, other, cpu=True):.4g}"
        rows.append(row)

    print(f"#### width {args.width}, batch {args.batch}, float32, Adam, {repeat} interleaved rounds per group\n")
    print("| group | what | network | median wall [ms] | wall ratio to torch dense | wall ratio to torch KLS reference "
          "| median CPU [ms] | CPU ratio to torch dense | CPU ratio to torch KLS reference |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['group']} | {r['kind']} | {r['name']} | {r['median_ms']} | {r['ratio_to_torch_dense']} | "
              f"{r['ratio_to_torch_reference'] or '—'} | {r['median_cpu_ms']} | {r['cpu_ratio_to_torch_dense']} | "
              f"{r['cpu_ratio_to_torch_reference'] or '—'} |")
    print("\n(ratios: median over rounds of the per-round ratio)\n")
    tau_label = settings[0][0]

    def verdict(a, b, target):
        w, c = paired_ratio(a, b), paired_ratio(a, b, cpu=True)
        if target is None:
            return f"wall {w:.3f}, CPU {c:.3f}"
        return (f"wall {w:.3f} ({'met' if w <= target else 'MISSED'}), CPU {c:.3f} "
                f"({'met' if c <= target else 'MISSED'}); target ≤ {target}")

    print(f"- numba dense / torch dense step: {verdict(by[('step', 'numba dense')], torch_step, 1.0)}")
    print(f"- numba DLRT ({tau_label}) / torch dense step: "
          f"{verdict(by[('step', f'numba DLRT, {tau_label}')], torch_step, 0.35)}")
    if torch_step2 is not None:
        print(f"  - the same in the rounds with the start-up ranks (group 2): "
              f"{verdict(by[('step', f'numba DLRT, {tau_label}{WITH_STARTUP}')], torch_step2, None)}")
    for label, _ in settings:
        target = 0.8 if label == "rank 250" else None
        print(f"- numba DLRT / torch KLS reference step at {label}: "
              f"{verdict(by[('step', f'numba DLRT, {label}')], by[('step', f'torch KLS reference, {label}')], target)}")
    print()
    for k, v in info.items():
        print(f"- {k}: {v}")
    if not args.no_files:
        path = os.path.join(args.out, "training_torch.csv")
        dlra.io.write_csv(path, rows)
        print(f"wrote {path}")
    return rows


def main(args):
    report(args, *run(args))


if __name__ == "__main__":
    main(ARGS)
