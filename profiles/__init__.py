"""Shipped profiles: ``sim`` (no hardware) and ``lab-example`` (every field documented).

Each profile is a folder with ``profile.yaml`` and an IPython ``startup/`` script;
``ipython --profile-dir=profiles/sim`` or ``photoreactor shell --profile sim``
opens a lab console with ``RE``, the devices and the plans loaded.
"""
