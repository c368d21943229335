"""QR PNG benchmark: billfold's ``render_png`` against ``qrcode.make(payload).save(buf)``.

    python benchmarks/qr.py [--n 300] [--smoke]

The payload is an aggregated-QR (EMV MPM) payload as billfold encodes it for a dynamic
order (``billfold.channels.emv``). Timed in alternating blocks of 20 so that drift hits both
sides alike, wall (``perf_counter``) and CPU (``process_time``):

* billfold: ``billfold.channels.qr_render.render_png(payload)`` — PNG bytes;
* qrcode (the yardstick): ``qrcode.make(payload).save(buffer)`` — the library alone, its
  defaults (error correction M, box 10, border 4: the same picture as billfold's).

``ratio`` is qrcode's time ÷ billfold's (1.0: billfold adds nothing); the target of issue
16 is ≥ 0.90. Both sides must produce the same pixels (checked once, decoded with Pillow);
otherwise the exit status is 1.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable, Sequence

import _shared
import qrcode
from PIL import Image

from billfold.channels import emv
from billfold.channels.qr_render import render_png

TARGET = 0.90
BLOCK = 20


def payload() -> str:
    return emv.encode(
        emv.EmvPayload(
            merchant_name="BILLFOLD WATER",
            merchant_city="SHANGHAI",
            merchant_category_code="4900",
            account_templates={"26": {"00": "CN.BILLFOLD.QR", "01": "w1"}},
            initiation=emv.Initiation.DYNAMIC,
            amount_fen=8640,
            additional_data=emv.AdditionalData(
                bill_number="W00000001", reference_label="O123456789"
            ),
        )
    )


def ours(text: str) -> bytes:
    return render_png(text)


def theirs(text: str) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(text).save(buffer)
    return buffer.getvalue()


def same_picture(a: bytes, b: bytes) -> bool:
    first, second = Image.open(io.BytesIO(a)), Image.open(io.BytesIO(b))
    return (
        first.size == second.size and first.convert("1").tobytes() == second.convert("1").tobytes()
    )


def measure(n: int, text: str) -> dict[str, tuple[float, float]]:
    sides: dict[str, Callable[[str], bytes]] = {"billfold": ours, "qrcode": theirs}
    totals = {name: [0.0, 0.0] for name in sides}
    for side in sides.values():  # warm up: imports, caches
        side(text)
    done = 0
    while done < n:
        block = min(BLOCK, n - done)
        for name, side in sides.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(block):
                side(text)
            totals[name][0] += time.perf_counter() - wall
            totals[name][1] += time.process_time() - cpu
        done += block
    return {name: (w, c) for name, (w, c) in totals.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=_shared.count, default=300)
    parser.add_argument("--smoke", action="store_true", help="n=20: seconds, for CI")
    args = parser.parse_args(argv)
    n = 20 if args.smoke else args.n
    text = payload()
    if not same_picture(ours(text), theirs(text)):
        print("PROBLEM: billfold's PNG and qrcode's differ")
        return 1
    found = measure(n, text)
    load = os.getloadavg()
    print(f"load: {load[0]:.2f} {load[1]:.2f} (1, 5 min), cores {os.cpu_count()}")
    print(f"payload: {len(text)} characters")
    print(f"{'side':<10}{'n':>6}  {'wall s':>8} {'cpu s':>8}  {'ms/png':>7}")
    for name, (wall, cpu) in found.items():
        print(f"{name:<10}{n:>6}  {wall:>8.3f} {cpu:>8.3f}  {1000 * wall / n:>7.2f}")
    ratio_wall = found["qrcode"][0] / found["billfold"][0]
    ratio_cpu = found["qrcode"][1] / found["billfold"][1]
    verdict = "PASS" if ratio_cpu >= TARGET else "BELOW"
    print(
        f"ratio (qrcode / billfold): wall {ratio_wall:.2f}, cpu {ratio_cpu:.2f}"
        f"  >= {TARGET:.2f} {verdict}"
    )
    print("verified: the same pixels on both sides")
    return 0


if __name__ == "__main__":
    sys.exit(main())
