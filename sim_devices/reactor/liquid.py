"""Volume and composition of the flask contents.

The liquid is a well-mixed solution: solvent volumes by name, and amounts (mol)
of the dissolved, chemically active species the pumps and the chemist's hands
bring in — ``"Cd"``, ``"S"``, ``"Zn"``, ``"Se"``, ``"Te"``, ``"Mn"``, ``"Hg"``,
``"Ag"``, ``"DDT"``, ``"OAm"``, ``"TOP"``, ``"oleic_acid"``, ``"TAEA"``,
``"substrate"``, ``"B2pin2"``, ``"N_methylpyrrole"``, ``"ascorbate"`` ...
Nanocrystals, clusters and products are held by their own models; this class
only knows what is *free in solution*.

Decisions
---------
* A reagent ``Reagent(species, concentration_mol_l, solvent)`` delivering
  ``v`` mL adds ``v`` mL of ``solvent`` and ``c·v`` mmol of ``species``; the
  volume of the solute itself is neglected (≤ 0.1 M stocks).  Neat liquid
  ligands (OAm, TOP, oleic acid) are charged as their own solvent *and*
  species, so they count for both volume and chemistry.
* Withdrawing removes the same fraction of everything (the flask is well
  mixed); :meth:`Liquid.remove` returns that fraction so the other models can
  scale their particles too.
* The boiling point of the mixture is that of the lowest-boiling solvent making
  up ≥ 5 % of the volume (a conservative reading: a minor volatile component
  starts refluxing first).  Exceeding it raises a warning that stays in
  ``warnings`` with the time it first happened; the heat model caps the
  temperature there (reflux).
"""

from __future__ import annotations

from .materials import SOLVENTS, solvent

#: solvents below this volume fraction do not set the boiling point
BOILING_MIN_FRACTION = 0.05


class Liquid:
    """Well-mixed flask contents: solvent volumes (mL) and free species (mol)."""

    def __init__(self):
        self.solvents_ml: dict[str, float] = {}
        self.mol: dict[str, float] = {}
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self.version = 0        # bumped on every change of volume (heat capacity cache)
        self._volume = (-1, 0.0)

    # -- composition ---------------------------------------------------------
    @property
    def volume_ml(self) -> float:
        cached = self._volume
        if cached[0] != self.version:      # every change of the solvents bumps the version
            cached = self._volume = (self.version, sum(self.solvents_ml.values()))
        return cached[1]

    def add_solvent(self, name: str, volume_ml: float) -> None:
        if volume_ml < 0:
            raise ValueError(f"cannot add a negative volume ({volume_ml} mL of {name})")
        if name not in SOLVENTS:
            solvent(name)   # raises a clear error
        if volume_ml:
            self.solvents_ml[name] = self.solvents_ml.get(name, 0.0) + float(volume_ml)
            self.version += 1

    def add_species(self, name: str, amount_mol: float) -> None:
        if amount_mol:
            self.mol[name] = self.mol.get(name, 0.0) + float(amount_mol)

    def add_reagent(self, species: str, concentration_mol_l: float, solvent_name: str,
                    volume_ml: float) -> None:
        self.add_solvent(solvent_name, volume_ml)
        if species != "solvent":
            self.add_species(species, concentration_mol_l * volume_ml * 1e-3)

    def remove(self, volume_ml: float) -> float:
        """Withdraw ``volume_ml`` of the mixture; returns the fraction removed."""
        total = self.volume_ml
        if total <= 0 or volume_ml <= 0:
            return 0.0
        frac = min(1.0, volume_ml / total)
        keep = 1.0 - frac
        for k in self.solvents_ml:
            self.solvents_ml[k] *= keep
        for k in self.mol:
            self.mol[k] *= keep
        self.version += 1
        return frac

    def get(self, species: str) -> float:
        """Free amount of ``species`` (mol)."""
        return self.mol.get(species, 0.0)

    def concentration_mol_l(self, species: str) -> float:
        v = self.volume_ml
        return self.mol.get(species, 0.0) / (v * 1e-3) if v > 0 else 0.0

    def fractions(self) -> dict[str, float]:
        total = self.volume_ml
        return {k: v / total for k, v in self.solvents_ml.items()} if total > 0 else {}

    def main_solvent(self) -> str | None:
        """The solvent with the largest volume (``None`` when empty)."""
        if not self.solvents_ml:
            return None
        return max(self.solvents_ml, key=self.solvents_ml.get)

    # -- thermal -----------------------------------------------------------------
    def heat_capacity_j_k(self) -> float:
        return sum(v * SOLVENTS[k].density_g_ml * SOLVENTS[k].heat_capacity_j_gk
                   for k, v in self.solvents_ml.items())

    def boiling_point_c(self) -> float:
        fr = self.fractions()
        bps = [SOLVENTS[k].boiling_point_c for k, f in fr.items() if f >= BOILING_MIN_FRACTION]
        return min(bps) if bps else float("inf")

    def boiling_solvent(self) -> str | None:
        fr = self.fractions()
        cands = [(SOLVENTS[k].boiling_point_c, k) for k, f in fr.items()
                 if f >= BOILING_MIN_FRACTION]
        return min(cands)[1] if cands else None

    def warn(self, key: str, message: str) -> None:
        """Record a warning once (``key`` deduplicates)."""
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(message)

    def snapshot(self) -> dict:
        return {"volume_ml": self.volume_ml,
                "solvents_ml": dict(self.solvents_ml),
                "species_mmol": {k: v * 1e3 for k, v in self.mol.items()}}
