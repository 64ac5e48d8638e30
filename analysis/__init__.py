"""Pure spectral, sizing, kinetic and photon maths; live display; reports.

Functions take numpy arrays (one spectrum or a stack N × pixels) and return
numbers with their units in their names.  Nothing here talks to hardware.

Modules
-------
spectra
    absorbance from counts, smoothing, scattering baselines, the first exciton
    (:func:`~.spectra.find_e1`, vectorised over stacks), band gap, Gaussian
    decomposition, emission FWHM.
sizing, dosing
    sizing curves and extinction; HgSe/HgCdSe optics; SILAR and exchange doses.
kinetics, photons
    first-order/Avrami/interdiffusion fits, TON/TOF; photon flux, dose, AQY,
    Poisson excitation statistics.
zones
    CdTe magic-sized-cluster reaction zones and zone maps.
feedback, solvents
    observables the feedback plans record; solvent boiling points.
live, report
    live table/plots for interactive sessions; figures, tables and summaries
    of finished runs (the one reader of runs from the catalog is
    :func:`~.report.load_run`).
"""
