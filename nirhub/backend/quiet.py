"""Third-party warnings the frameworks themselves never show, kept off the user's terminal.

nirhub records every warning raised while it converts or runs a model (``simplefilter
("always")``) and reports it, because a plugin's warnings say what a conversion lost. That
also catches warnings a library raises *inside another library*, which Python's default
filters hide (a ``DeprecationWarning`` is shown only when raised by ``__main__``): importing
Norse makes torch warn four times that ``torch.jit.script`` is deprecated, for Norse's own
decorated functions. A user of Norse never sees that; a user of nirhub should not either.

Each entry is narrow (category and message); :func:`ignore_framework_noise` installs them
in the current ``warnings.catch_warnings()`` block, after its ``simplefilter``, and the
plugins import their frameworks through it.
"""

from __future__ import annotations

import warnings

#: (category, message regex) of the warnings to drop
FRAMEWORK_NOISE: tuple[tuple[type[Warning], str], ...] = (
    # torch >= 2.10 on torch.jit.script / script_method / interface, used by norse at import
    (DeprecationWarning, r"`torch\.jit\.(script|script_method|interface)` is deprecated"),
)


def ignore_framework_noise() -> None:
    """Add the :data:`FRAMEWORK_NOISE` filters in front of the current ones."""
    for category, message in FRAMEWORK_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)
