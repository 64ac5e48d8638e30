"""The physical reactor model: heat, liquid, nanocrystals, clusters, exchange,
photocatalysis and the spectra they produce (see :mod:`.model`)."""

from .model import ReactorModel
from .recipes import RECIPES

__all__ = ["ReactorModel", "RECIPES"]
