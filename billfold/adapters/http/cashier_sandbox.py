"""The sandbox behind the payer pages: every channel's far end, played in process.

``billfold serve --sandbox`` (and ``billfold demo --serve``) build :func:`sandbox_app`: the
HTTP app with sandbox-backed channels for every biller configured for the aggregated QR,
mobile banking, WeChat Pay or Alipay, one seeded :class:`SandboxGateway` behind them, and
:class:`CashierSandbox` on ``app.state.sandbox``. The payment page then shows the sandbox's
"pay" button: the simulated payer pays, and the gateway's notifications — in each channel's
real, really signed wire format, a second or two late and some of them twice — are POSTed
into the app's own ``/v1/notify/{channel}`` endpoint, so the real verification and
exactly-once confirmation run.

Keys are made per process and kept in memory: the billers' channel configurations name
them (``notify_key_env`` …) and the sandbox answers those names. Billers configured after
the server started are not in the sandbox until it restarts. The gateway lives in one
process, so the sandbox serves one worker.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import timedelta

import httpx
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from starlette.types import ASGIApp

from billfold.adapters.http.app import create_app
from billfold.channels.alipay import AlipayChannel
from billfold.channels.base import Channel
from billfold.channels.mobile_banking import MobileBankingChannel
from billfold.channels.qr import QrChannel
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import WechatPayChannel
from billfold.engine import Engine
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.sandbox.alipay import SandboxAlipay, SandboxAlipayApp
from billfold.testing.sandbox.gateway import Chaos, Delivery, RemoteOrder, SandboxGateway
from billfold.testing.sandbox.mobile_banking import SandboxBank
from billfold.testing.sandbox.qr import SandboxAcquirer
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

__all__ = ["ENV_VAR", "SANDBOX_CHAOS", "SANDBOX_PAYERS", "CashierSandbox", "sandbox_app"]

ENV_VAR = "BILLFOLD_SERVE_SANDBOX"  # how ``billfold serve --sandbox`` tells its worker

log = structlog.get_logger("billfold.sandbox")

#: Notifications arrive one to two seconds after the payer pays, half of them twice.
SANDBOX_CHAOS = Chaos(
    min_delay=timedelta(seconds=1), max_delay=timedelta(seconds=2), duplicate_rate=0.5
)
#: The payer's id inside each wallet (a real cashier gets it from the wallet's OAuth).
SANDBOX_PAYERS = {"wechatpay": "oSandbox0Cashier0Payer000001", "alipay": "2088102177846880"}
NOTIFY_BASE = "http://sandbox.billfold.invalid/v1/notify"
GIVE_UP_AFTER = 120.0  # seconds of wall time a delivery task waits for the clock


def _reference(settings: dict[str, object], name: str) -> str | None:
    for kind in ("env", "file"):
        value = settings.get(f"{name}_{kind}")
        if isinstance(value, str) and value:
            return value
    return None


class CashierSandbox:
    """Sandbox channels for ``engine``'s billers, and the simulated payer's "pay" button."""

    def __init__(self, engine: Engine, chaos: Chaos = SANDBOX_CHAOS, seed: int = 20261204):
        self.engine = engine
        self.gateway = SandboxGateway(engine.clock, chaos, seed=seed)
        self.lock = threading.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.channels = self._channels(engine)

    def _channels(self, engine: Engine) -> dict[str, Channel]:
        configs: list[ChannelConfig] = [
            config for biller in engine.billers() for config in engine.channel_configs(biller.code)
        ]
        names: dict[str, bytes] = {}
        qr_keys: dict[str, bytes] = {}
        bank_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bank_pem = bank_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        wechat: dict[str, SandboxWechatMerchant] = {}
        alipay: dict[str, SandboxAlipayApp] = {}
        for config in configs:
            settings = dict(config.settings)
            if config.channel == "qr" and config.merchant_id:
                reference = _reference(settings, "notify_key")
                if reference is not None:
                    key = names.setdefault(reference, secrets.token_hex(16).encode("ascii"))
                    qr_keys.setdefault(config.merchant_id, key)
            elif config.channel == "mobile_banking":
                reference = _reference(settings, "bank_public_key")
                if reference is not None:
                    names[reference] = bank_pem
            elif config.channel == "wechatpay" and config.merchant_id and config.app_id:
                if config.merchant_id not in wechat:
                    merchant = SandboxWechatMerchant.generate(config.merchant_id, config.app_id)
                    wechat[config.merchant_id] = merchant
                    names.update(merchant.secrets())
            elif config.channel == "alipay" and config.app_id and config.merchant_id:
                app = alipay.get(config.app_id)
                if app is None:
                    app = alipay[config.app_id] = SandboxAlipayApp.generate(
                        config.app_id, config.merchant_id
                    )
                    names.update(app.secrets())
        keys = DictSecrets(names)
        clock = engine.clock
        channels: list[Channel] = [
            QrChannel.for_engine(
                engine, SandboxAcquirer(self.gateway, qr_keys), keys, render=False
            ),
            MobileBankingChannel.for_engine(engine, SandboxBank(self.gateway, bank_key), keys),
            WechatPayChannel(
                keys,
                engine,
                clock,
                SandboxWechatPay(self.gateway, wechat.values()),
                notify_url=f"{NOTIFY_BASE}/wechatpay",
            ),
            AlipayChannel(
                keys,
                engine,
                clock,
                SandboxAlipay(self.gateway, alipay.values()),
                notify_url=f"{NOTIFY_BASE}/alipay",
            ),
        ]
        return {channel.name: channel for channel in channels}

    def payer_ref(self, channel: str) -> str | None:
        """Who pays inside the wallet (the sandbox's one payer per wallet)."""
        return SANDBOX_PAYERS.get(channel)

    def pay(self, channel: str, order_no: str) -> RemoteOrder:
        """The simulated payer pays the whole order; its notifications are now on their way.
        Raises ``KeyError`` when the order was never sent to the channel's sandbox."""
        with self.lock:
            return self.gateway.pay(channel, order_no)

    def _due(self) -> tuple[list[Delivery], bool]:
        with self.lock:
            return self.gateway.due(), bool(self.gateway.outbox)

    def deliver_later(self, app: ASGIApp) -> None:
        """Deliver what the gateway sends, as it falls due, into ``app``'s notify endpoint."""
        task = asyncio.get_running_loop().create_task(self._deliver(app))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, app: ASGIApp) -> None:
        transport = httpx.ASGITransport(app=app)
        started = time.monotonic()
        async with httpx.AsyncClient(transport=transport, base_url=NOTIFY_BASE) as client:
            while time.monotonic() - started < GIVE_UP_AFTER:
                ready, waiting = self._due()
                for delivery in ready:
                    answer = await client.post(
                        f"/{delivery.channel}", headers=delivery.headers, content=delivery.body
                    )
                    log.info(
                        "sandbox notification delivered",
                        channel=delivery.channel,
                        order_no=delivery.order_no,
                        status=answer.status_code,
                    )
                if not waiting:
                    return
                await asyncio.sleep(0.1)
        log.warning("sandbox notifications left undelivered: the clock did not reach them")


def sandbox_app(
    engine: Engine, *, chaos: Chaos = SANDBOX_CHAOS, bank_app_markers: Iterable[str] = ()
) -> FastAPI:
    """The HTTP app (API and payer pages) with sandbox channels for ``engine``'s billers;
    ``bank_app_markers`` as for :func:`~billfold.adapters.http.app.create_app`."""
    sandbox = CashierSandbox(engine, chaos)
    app = create_app(engine, sandbox.channels, bank_app_markers=bank_app_markers)
    app.state.sandbox = sandbox
    return app
