# IPython startup for this profile: `ipython --profile-dir=profiles/<name>`.
# The same file serves the Bluesky queue server (RE Manager) as its startup script:
# there `is_re_worker_active()` is true and the interactive display is skipped.
from pathlib import Path as _Path

from photoreactor import open_session as _open_session

_profile_dir = _Path(__file__).resolve().parent.parent
session = _open_session(_profile_dir)
globals().update(session.namespace())
print(f"photoreactor: profile {session.profile.name}, devices {sorted(session.devices)}, "
      f"catalog {session.catalog.location}, clock {session.clock!r}")
