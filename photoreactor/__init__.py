"""photoreactor — automated photoreactors and nanocrystal syntheses on Bluesky.

The import package gathers the repository's top-level folders:

* :mod:`photoreactor.devices` — drivers and Ophyd devices
* :mod:`photoreactor.plans` — plan stubs and experiment plans
* :mod:`photoreactor.analysis` — spectral, kinetic and photon maths; live display; reports
* :mod:`photoreactor.sim_devices` — virtual clock, reactor physics, instrument emulators

and the glue here: :func:`open_session`, profiles, storage and the command line.
"""

__version__ = "0.1.0"


def open_session(*args, **kwargs):
    """Build a session (RunEngine, devices, catalog, clock) from a profile.

    See :func:`photoreactor.session.open_session`.
    """
    from photoreactor.session import open_session as _open

    return _open(*args, **kwargs)


__all__ = ["open_session", "__version__"]
