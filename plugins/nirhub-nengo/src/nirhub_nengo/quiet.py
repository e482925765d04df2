"""Import nengo without its import-time deprecation noise.

nengo 4.1 touches ``numpy.core`` when imported, which numpy 2 reports as a
DeprecationWarning; nirhub collects warnings raised during a conversion into its report, so
that noise would read as if the conversion had lost something.
"""

from __future__ import annotations

import warnings
from typing import Any


def import_nengo() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import nengo

    return nengo
