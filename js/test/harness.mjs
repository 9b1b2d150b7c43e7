// A real paychan deployment for the js/ and browser tests, as a user runs it: a served
// embedded ledger (`paychan ledger serve --manual-clock`, faucet on), the payee Bob's
// `paychan node`, and `paychan proxy` charging per call in front of the example's JSON
// upstream (examples/browser/pay-per-call/upstream.mjs, in this process). Every wait is on a condition (a banner, a port), never a sleep.
//
// The `paychan` binary: $PAYCHAN_BIN, else $CARGO_TARGET_DIR/debug/paychan, else
// ../target/debug/paychan (scripts/test.sh builds it).

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { startUpstream } from "../../examples/browser/pay-per-call/upstream.mjs";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export function paychanBin() {
  if (process.env.PAYCHAN_BIN) return process.env.PAYCHAN_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
  return join(target, "debug", "paychan");
}

/** A child process whose output is kept, to wait for lines in it. */
class Child {
  constructor(name, args) {
    this.name = name;
    this.output = "";
    this.waiters = new Set();
    this.process = spawn(paychanBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
    const take = (chunk) => {
      this.output += chunk.toString();
      for (const check of this.waiters) check();
    };
    this.process.stdout.on("data", take);
    this.process.stderr.on("data", take);
    this.exited = new Promise((done) => this.process.on("exit", (code) => done(code)));
    this.process.on("exit", () => {
      for (const check of this.waiters) check();
    });
  }

  /** The first match of `pattern` in the output; rejects if the process exits first. */
  waitFor(pattern, timeoutMs = 60_000) {
    return new Promise((resolveMatch, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.name}: no ${pattern} within ${timeoutMs} ms:\n${this.output}`));
      }, timeoutMs);
      const check = () => {
        const match = pattern.exec(this.output);
        if (match) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolveMatch(match);
        } else if (this.process.exitCode !== null) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(new Error(`${this.name} exited (${this.process.exitCode}):\n${this.output}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  async stop(signal = "SIGTERM") {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill(signal);
      await this.exited;
    }
  }
}

/** Runs `paychan ARGS` to completion; answers its stdout. */
export function run(args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(paychanBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("exit", (code) =>
      code === 0 ? resolveRun(out) : reject(new Error(`paychan ${args.join(" ")}: ${code}\n${err}`)),
    );
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

/** Resolves once something accepts connections on `port`. */
async function portOpen(port, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((done) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        done(true);
      });
      socket.once("error", () => done(false));
    });
    if (open) return;
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited:\n${child.output}`);
    if (Date.now() > deadline) throw new Error(`${child.name}: port ${port} not open:\n${child.output}`);
    // Polling a port: each attempt is a fresh connect, not a fixed wait for readiness.
    await new Promise((r) => setImmediate(r));
  }
}

/** A ledger, Bob's node and the proxy at `price` per call. */
export async function startStack({ price = 10n } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "paychan-js-"));
  const children = [];
  const stop = async () => {
    for (const child of children.reverse()) await child.stop();
    up?.server.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let up;
  try {
    const ledger = new Child("ledger", [
      "ledger", "serve", "--listen", "127.0.0.1:0", "--manual-clock",
      "--data-dir", join(dir, "ledger"),
    ]);
    children.push(ledger);
    const ledgerUrl = (await ledger.waitFor(/paychan ledger serving on (http:\/\/\S+)/))[1];

    const bobDir = join(dir, "bob");
    const rpcPort = await freePort();
    const init = JSON.parse(
      await run([
        "init", "--json", "--insecure-plaintext-key", "--ledger-url", ledgerUrl,
        "--data-dir", bobDir, "--rpc-listen", `127.0.0.1:${rpcPort}`,
        "--listen-tcp", `127.0.0.1:${await freePort()}`,
      ]),
    );
    const bob = new Child("bob", ["node", "--data-dir", bobDir]);
    children.push(bob);
    await portOpen(rpcPort, bob);

    up = await startUpstream();
    const proxy = new Child("proxy", [
      "proxy", "--data-dir", bobDir, "--upstream", up.url, "--price", String(price),
      "--listen", "127.0.0.1:0",
    ]);
    children.push(proxy);
    const proxyUrl = (await proxy.waitFor(/paychan proxy on (http:\/\/\S+)/))[1];

    const rpc = async (method, params = {}) => {
      const response = await fetch(ledgerUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      const body = await response.json();
      if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
      return body.result;
    };
    return {
      dir,
      ledgerUrl,
      proxyUrl,
      bob: init.address,
      bobDir,
      upstreamServed: up.served,
      rpc,
      balance: async (owner) => BigInt(await rpc("ledger_balance", { owner })),
      faucet: (owner, amount) => rpc("ledger_faucet", { owner, amount: Number(amount) }),
      advanceTime: (secs) => rpc("ledger_advanceTime", { secs }),
      /** Bob closes the channel unilaterally, counting the payer's latest voucher. */
      closeByPayee: (channelId) =>
        run(["channel", "--data-dir", bobDir, "--json", "close", "--force", channelId]),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A ledger, `paychan relay` on a fixed port (so it can be killed and started again where
 * the node and the pages look for it) and Bob's `paychan node`, registered at the relay and
 * listening for WebSocket peers too: Bob is `bobViaRelay` and `bobDirect`. Without Bob
 * (`node: false`), the ledger and the relay only, for pages that are each other's peers. */
export async function startChannelStack({ node = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "paychan-js-"));
  const children = [];
  let relay;
  const stop = async () => {
    for (const child of children.reverse()) await child.stop();
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ledger = new Child("ledger", [
      "ledger", "serve", "--listen", "127.0.0.1:0", "--manual-clock",
      "--data-dir", join(dir, "ledger"),
    ]);
    children.push(ledger);
    const ledgerUrl = (await ledger.waitFor(/paychan ledger serving on (http:\/\/\S+)/))[1];

    const relayPort = await freePort();
    const startRelay = async () => {
      relay = new Child("relay", ["relay", "--listen", `127.0.0.1:${relayPort}`]);
      return (await relay.waitFor(/paychan relay on (ws:\/\/\S+)/))[1];
    };
    const relayUrl = await startRelay();
    const rpc = async (method, params = {}) => {
      const response = await fetch(ledgerUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      const body = await response.json();
      if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
      return body.result;
    };
    const common = {
      dir,
      ledgerUrl,
      relayUrl,
      rpc,
      balance: async (owner) => BigInt(await rpc("ledger_balance", { owner })),
      faucet: (owner, amount) => rpc("ledger_faucet", { owner, amount: Number(amount) }),
      /** Kills the relay (SIGKILL: no goodbye to anyone). */
      killRelay: () => relay.stop("SIGKILL"),
      /** Starts the relay again on the same port. */
      restartRelay: startRelay,
      stop,
    };
    if (!node) return common;

    const bobDir = join(dir, "bob");
    const rpcPort = await freePort();
    const wsPort = await freePort();
    const init = JSON.parse(
      await run([
        "init", "--json", "--insecure-plaintext-key", "--ledger-url", ledgerUrl,
        "--data-dir", bobDir, "--rpc-listen", `127.0.0.1:${rpcPort}`,
        "--listen-tcp", `127.0.0.1:${await freePort()}`, "--listen-ws", `127.0.0.1:${wsPort}`,
      ]),
    );
    const config = join(bobDir, "config.toml");
    writeFileSync(config, readFileSync(config, "utf8").replace(/^relays = \[\]/m, `relays = ["${relayUrl}"]`));
    const bob = new Child("bob", ["node", "--data-dir", bobDir]);
    children.push(bob);
    await portOpen(rpcPort, bob);
    await bob.waitFor(/registered at relay/);
    return {
      ...common,
      bob: init.address,
      bobDir,
      bobViaRelay: `${init.address}@relay+${relayUrl}`,
      bobDirect: `${init.address}@ws://127.0.0.1:${wsPort}/`,
      bobLog: () => bob.output,
      /** Bob's view of a channel (`paychan channel info --json`). */
      bobChannel: async (id) => JSON.parse(await run(["channel", "--data-dir", bobDir, "--json", "info", id])),
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Waits until `check()` is truthy, re-checking after each `step()` (a condition, not a
 * timer: each round asks the ledger again). */
export async function until(check, step, what, rounds = 2000) {
  for (let i = 0; i < rounds; i++) {
    if (await check()) return;
    await step();
  }
  throw new Error(`never: ${what}`);
}
