"""Market-data errors, each a problem detail with a stable code and a readable message.

Alpha Vantage answers errors with HTTP 200; the transport classifies the body into one of these.
"""

from __future__ import annotations

from ..errors import InvalidInput, WaterError


class MarketDataError(WaterError):
    status, code, title = 502, "market_data_error", "Market data error"


class RateLimited(MarketDataError):
    """Over the provider's burst rate or daily quota (ours or theirs)."""

    status, code, title = 429, "market_data_rate_limited", "Market data rate limit reached"

    def __init__(self, detail: str, *, scope: str, retry_after: int) -> None:
        # scope: "burst" (retry in seconds) or "daily" (retry after the quota resets)
        super().__init__(
            detail, headers={"Retry-After": str(max(1, retry_after))}, scope=scope, retry_after=max(1, retry_after)
        )
        self.scope = scope
        self.retry_after = max(1, retry_after)


class PremiumEndpoint(MarketDataError):
    status, code, title = 402, "market_data_premium_endpoint", "Premium market data endpoint"


class InvalidApiKey(MarketDataError):
    status, code, title = 502, "market_data_invalid_api_key", "Market data API key rejected"


class DemoKeyOnly(MarketDataError):
    status, code, title = 502, "market_data_demo_key", "Market data demo key used outside the demo"


class SymbolNotFound(MarketDataError):
    status, code, title = 404, "symbol_not_found", "Symbol not found"


class InvalidCall(MarketDataError):
    status, code, title = 502, "market_data_invalid_call", "Market data request rejected"


class ProviderUnavailable(MarketDataError):
    """The vendor failed (5xx, a web page instead of data, a timeout, a cut connection): worth retrying soon."""

    status, code, title = 503, "market_data_unavailable", "Market data provider unavailable"
    RETRY_AFTER_SECONDS = 60  # outages seen from Alpha Vantage last minutes, not seconds

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail, headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)}, retry_after=self.RETRY_AFTER_SECONDS
        )
        self.retry_after = self.RETRY_AFTER_SECONDS


class BetaNotComputable(InvalidInput):
    """The prices do not support a regression beta (too few periods common to both series)."""

    code = "beta_not_computable"
