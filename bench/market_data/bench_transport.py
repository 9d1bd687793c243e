"""CPU of a refresh's nine Alpha Vantage calls, by HTTP transport, side by side in one run.

`AlphaVantageTransport.fetch` (request built, sent, answer read, body decoded and classified)
for the nine requests of one company, on loopback against the refresh benchmark's fake server
(`AliasingFake`: every company is a distinct ticker, DAQI001, DAQI002, ..., answered from
memoised demo data). Two transports, in alternating rounds:

* `StdlibHTTPTransport` (what Water ships: http.client underneath, providers/http.py);
* `httpx.HTTPTransport` (httpx's own pool, httpcore and h11), with the limits Water used before.

The fake server runs in a process of its own (a remote vendor's work is not in Water's process,
and its threads would otherwise compete for this one's GIL); the CPU counted is this process's.

    .venv/bin/python bench/market_data/bench_transport.py [--companies 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_market_data import fake_in_child_process

from procstat import cpu_model, load_avg
from water.market_data.providers.alphavantage import AlphaVantageProvider, AlphaVantageTransport
from water.market_data.providers.http import StdlibHTTPTransport

CALLS_PER_COMPANY = 9


def transports(url: str) -> dict[str, AlphaVantageTransport]:
    httpx_pool = httpx.HTTPTransport(
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0)
    )
    return {
        "StdlibHTTPTransport (shipped)": AlphaVantageTransport("BENCHKEY", url, 15.0, StdlibHTTPTransport()),
        "httpx.HTTPTransport (before)": AlphaVantageTransport("BENCHKEY", url, 15.0, httpx_pool),
    }


def cpu_ms_per_company(transport: AlphaVantageTransport, companies: int, first: int) -> float:
    provider = AlphaVantageProvider(transport.fetch)
    batches = [provider.company_requests(f"DAQI{(first + i) % 1000:03d}") for i in range(companies)]
    started = time.process_time()
    for batch in batches:
        for request in batch:
            transport.fetch(request)
    return (time.process_time() - started) * 1000 / companies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=40, help="companies (9 calls each) per round and transport")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fake, url = fake_in_child_process()
    try:
        candidates = transports(url)
        for transport in candidates.values():  # warm: connections open, code paths taken
            cpu_ms_per_company(transport, 3, 0)
        results: dict[str, list[float]] = {name: [] for name in candidates}
        load = load_avg()
        for round_no in range(args.rounds):
            order = list(candidates) if round_no % 2 == 0 else list(reversed(candidates))
            for name in order:
                first = 10 + round_no * args.companies
                results[name].append(cpu_ms_per_company(candidates[name], args.companies, first))
        for transport in candidates.values():
            transport.close()
    finally:
        fake.kill()
    print(f"Machine: {cpu_model()}, Python {platform.python_version()}; load at start {load}")
    print(f"{args.companies} companies x {CALLS_PER_COMPANY} calls per round, {args.rounds} rounds (alternating)\n")
    print("| Transport | CPU ms per company (9 calls), median | Rounds |")
    print("|---|---:|---|")
    for name, values in results.items():
        rounds = " / ".join(f"{v:.2f}" for v in values)
        print(f"| {name} | {statistics.median(values):.2f} | {rounds} |")


if __name__ == "__main__":
    main()
