"""Plan stubs and experiment plans.

Plans are generator functions: they read, call pure functions from
:mod:`photoreactor.analysis`, and decide.  They never know whether the reactor
is real or simulated.
"""

__all__: list[str] = []
