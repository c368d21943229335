"""``billfold demo --serve``: after the demo, serve its database with sandbox channels and
print where a phone (or a browser) opens the demo cashier, until Ctrl-C.

The pages run on the real clock (the demo itself ran on 2026-09-01), so the water bills
carry late fees by now; payments go through the sandbox's pay button and its signed
notifications, into the same exactly-once confirmation as every other payment.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from billfold.adapters.http.cashier import cashier_path
from billfold.adapters.http.server import ServerOptions
from billfold.demo.channels import MARKET

__all__ = ["DEMO_LOOKUPS", "DemoUrls", "demo_urls", "serve_demo"]

#: Bills still to pay after the demo, as a payer looks them up on the biller's page: a water
#: household (户号, and the last character of 郑先生, which the water company asks for) and a
#: student paying tuition in installments (学号).
DEMO_LOOKUPS = (
    ("demo-water", "identifier=0101003&check=%E7%94%9F"),
    ("demo-school", "identifier=2026004"),
)


@dataclass(frozen=True, slots=True)
class DemoUrls:
    cashier: str
    lookups: tuple[str, ...]


def demo_urls(host: str, port: int) -> DemoUrls:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{'127.0.0.1' if host == '0.0.0.0' else shown}:{port}"
    return DemoUrls(
        cashier=f"{base}{cashier_path(MARKET)}",
        lookups=tuple(f"{base}{cashier_path(code)}?{query}" for code, query in DEMO_LOOKUPS),
    )


def serve_demo(url: str, host: str, port: int, console: Console) -> None:
    """Serve the demo database (sandbox channels, one process) until interrupted."""
    import uvicorn

    from billfold.adapters.http.cashier_sandbox import sandbox_app
    from billfold.clock import SystemClock
    from billfold.engine import Engine

    engine = Engine.from_url(url, clock=SystemClock())
    options = ServerOptions(host, port, 1, "auto", "auto")
    urls = demo_urls(host, port)
    console.print(
        f"demo cashier (market stall): {urls.cashier}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for lookup in urls.lookups:
        console.print(f"bill lookup: {lookup}", highlight=False, markup=False, soft_wrap=True)
    console.print("sandbox channels; press Ctrl-C to stop", highlight=False)
    config = uvicorn.Config(
        sandbox_app(engine),
        host=host,
        port=port,
        http=options.protocol(),
        loop=options.loop_name(),
        log_level="warning",
        log_config=None,  # uvicorn's records go through billfold's logging (masked)
        access_log=False,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        engine.close()
