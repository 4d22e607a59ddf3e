"""Physical constants and the paper's fixed choices."""

from __future__ import annotations

import numpy as np

#: Gravitational constant in kpc (km/s)^2 / Msun.
G = 4.30091e-6

#: Radii of the mass profile, in units of the projected half-number radius R_h:
#: f = 0.6, 0.8, ..., 2.4 (Sect. 4.3 of the paper).
RADII_F = np.round(np.arange(0.6, 2.41, 0.2), 1)
