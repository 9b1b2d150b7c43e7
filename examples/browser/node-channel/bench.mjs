// Payments per second from a headless Chromium page to a `paychan node` over the channel
// protocol (js/'s Client over paychan-wasm): directly to the node's WebSocket listener and
// through `paychan relay`, on one channel (each payment a full round trip: a voucher signed
// in wasm, the channel stored in IndexedDB before the frame leaves, Noise, the node's check,
// handler, commit and answer) and on several channels at once (the node's way to
// throughput: one payment in flight per channel). `node bench.mjs [PAYMENTS]` (default
// 2000 per run) after scripts/build-wasm.sh and `cargo build -p paychan-cli` (the debug
// binary, or $PAYCHAN_BIN: a release build measures the node, not its debug build).
import { startExample } from "./browser.mjs";

const payments = Number(process.argv[2] ?? 2000);

for (const durability of ["strict", "relaxed"]) {
  const example = await startExample({ durability });
  try {
    const { page, stack } = example;
    for (const [route, peer] of [["direct", stack.bobDirect], ["relay", stack.bobViaRelay]]) {
      await page.evaluate((p) => window.paychanChannel.connect(p), peer);
      for (const channels of [1, 16]) {
        const ids = [];
        for (let i = 0; i < channels; i++) {
          ids.push(await page.evaluate((d) => window.paychanChannel.open(d), String(payments * 2)));
        }
        const each = Math.ceil(payments / channels);
        // Warm up (the node learns each channel), then measure.
        await page.evaluate(([ids2]) => Promise.all(ids2.map((id) => window.paychanChannel.payUntil(id, 10, 1))), [ids]);
        const { ms, count } = await page.evaluate(async ([ids2, n]) => {
          const started = performance.now();
          const runs = await Promise.all(ids2.map((id) => window.paychanChannel.payUntil(id, 10 + n, 1)));
          return { ms: performance.now() - started, count: runs.reduce((s, r) => s + r.answered + r.unknown, 0) };
        }, [ids, each]);
        console.log(
          `${route.padEnd(6)} IndexedDB ${durability.padEnd(7)} ${String(channels).padStart(2)} channel(s): ` +
            `${count} payments in ${ms.toFixed(0)} ms, ${((count * 1000) / ms).toFixed(0)} payments/s`,
        );
        for (const id of ids) await page.evaluate((c) => window.paychanChannel.close(c), id);
      }
      await page.evaluate(() => window.paychanChannel.disconnect());
    }
  } finally {
    await example.stop();
  }
}
