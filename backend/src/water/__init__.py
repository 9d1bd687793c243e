"""Water: the API, workers and CLI around the valuation engine."""

__version__ = "0.1.0"
