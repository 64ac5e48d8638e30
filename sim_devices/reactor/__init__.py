"""The physical reactor model behind the simulated instruments.

``ReactorModel(clock, *, seed=0, ambient_c=25.0, flask_ml=None, mantle_power_w=None,
recipe=None, **recipe_options)`` is the world of the simulated profile
(``simulation.world: reactor``; ``simulation.scenario`` becomes the keyword
arguments).  It implements the :class:`~photoreactor.sim_devices.world.Reactor`
interface the emulators use (heater law, stirring, pump lines and flows, light,
``absorbance``, ``emission``) and adds the chemist's hands:

* :meth:`ReactorModel.charge` — a SCIENCE.md recipe (:data:`RECIPES`);
* :meth:`ReactorModel.inject` — a rapid injection by hand;
* :meth:`ReactorModel.remove_mantle` / :meth:`ReactorModel.attach_mantle`;
* :meth:`ReactorModel.set_temperature` — a pre-heated start (tests);
* :meth:`ReactorModel.state` — everything tests and reports ask about.

One module per phenomenon: :mod:`.heat`, :mod:`.liquid`, :mod:`.nanocrystals`,
:mod:`.exchange`, :mod:`.msc`, :mod:`.clusters`, :mod:`.photocatalysis`,
:mod:`.spectra`; :mod:`.fidelity` recomputes every published number
(``fidelity_table()``, ``print_fidelity()``).
"""

from .model import ReactorModel
from .recipes import RECIPES

__all__ = ["ReactorModel", "RECIPES"]
