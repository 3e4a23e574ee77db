"""One script per figure of the paper; each regenerates its PNG, PDF and CSV from the public API.

Run one: ``python paper_figures/fig_v_shape.py [--quick] [--out DIR]``; all: ``dlra figures``.
"""
