"""Every model module; importing this package registers them all."""

from . import (  # noqa: F401
    analysis,
    capital,
    dcf_explicit,
    dcf_ginzu,
    equity,
    relative,
    reverse,
    scores,
    timevalue,
)
