// Paid calls per second from a headless Chromium page to `paychan proxy` and its node, one
// call after the other (each: sign a package in wasm, store the channel in IndexedDB, the
// HTTP round trip through this example's server and the proxy, the node's verification and
// record). `node bench.mjs [CALLS]` (default 1000) after scripts/build-wasm.sh and
// `cargo build -p paychan-cli` (the debug binary, or $PAYCHAN_BIN).
import { startExample } from "./browser.mjs";

const calls = Number(process.argv[2] ?? 1000);
for (const durability of ["strict", "relaxed"]) {
  const example = await startExample({ durability });
  try {
    await example.page.evaluate(() => window.paychanDemo.pay(20)); // opens the channel, warms up
    const { ms, cumulative } = await example.page.evaluate((n) => window.paychanDemo.pay(n), calls);
    console.log(
      `IndexedDB ${durability}: ${calls} paid calls in ${ms.toFixed(0)} ms, ` +
        `${((calls * 1000) / ms).toFixed(0)} paid calls/s (sequential, from the page; ` +
        `the payee counts ${cumulative})`,
    );
  } finally {
    await example.stop();
  }
}
