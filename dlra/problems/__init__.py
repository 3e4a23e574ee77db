"""Reference problems with exact or reference solutions."""
from .allen_cahn import AllenCahn
from .base import Problem, as_dense
from .convection_diffusion import ConvectionDiffusionLyapunov
from .heat2d import Heat2D
from .least_squares import LeastSquares
from .lyapunov import Lyapunov
from .rank_preserving import RankPreservingCubic
from .riccati import Riccati
from .rotating import LubichOseledets, RotatingMatrix
from .schrodinger import Schrodinger
from .vlasov import LandauDamping

__all__ = ["Problem", "as_dense", "RotatingMatrix", "LubichOseledets", "Schrodinger", "Lyapunov",
           "LeastSquares", "RankPreservingCubic", "ConvectionDiffusionLyapunov", "Heat2D", "AllenCahn", "Riccati",
           "LandauDamping"]
