// Serves the page on one origin: the page itself, the js/ package at /js/ (its dist/ and
// the wasm/ wasm-bindgen built), the paid API at /api/ (forwarded to `paychan proxy`) and
// the ledger's JSON-RPC at /ledger (forwarded to `paychan ledger serve`). One origin, so
// the page reads `WWW-Authenticate` and `Payment-Receipt` and calls the ledger without CORS.
//
//   node server.mjs --proxy http://127.0.0.1:8402 --ledger http://127.0.0.1:6334 [--listen 127.0.0.1:8080]
//   node server.mjs --page examples/browser/relay-pair --ledger http://127.0.0.1:6334   (another page, no paid API)
import { createReadStream, statSync } from "node:fs";
import { Agent, createServer, request as httpRequest } from "node:http";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const jsRoot = resolve(here, "../../../js");
const types = { ".html": "text/html", ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

// Kept-alive connections to the proxy and the ledger, without Nagle's delay (a small
// response written in two pieces would otherwise wait for a delayed ACK, 40 ms on Linux).
const agent = new Agent({ keepAlive: true, noDelay: true });

/** Forwards the request to `target` (an `http://` URL), at `path` on it. */
function forward(target, path, req, res) {
  const url = new URL(target);
  const headers = { ...req.headers, host: url.host };
  const upstream = httpRequest(
    { host: url.hostname, port: url.port, method: req.method, path, headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", (e) => {
    res.writeHead(502, { "content-type": "text/plain" });
    res.end(`cannot reach ${target}: ${e.message}`);
  });
  req.pipe(upstream);
}

function serveFile(root, rel, res) {
  const file = normalize(join(root, rel));
  if (!file.startsWith(root)) {
    res.writeHead(403).end();
    return;
  }
  try {
    if (!statSync(file).isFile()) throw new Error("not a file");
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
  createReadStream(file).pipe(res);
}

/** Starts the server; answers its URL and a close function. `pageDir` is the directory of
 * the page (`index.html` and its `.mjs` files): this example's by default (the other
 * examples of examples/browser/ serve theirs with this server, without a paid API). */
export function serveExample({ proxyUrl, ledgerUrl, host = "127.0.0.1", port = 0, pageDir = here }) {
  const server = createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    const path = new URL(req.url, "http://page").pathname;
    if (path.startsWith("/api/") && proxyUrl) return forward(proxyUrl, req.url, req, res);
    if (path === "/ledger") return forward(ledgerUrl, new URL(ledgerUrl).pathname, req, res);
    if (path.startsWith("/js/")) return serveFile(jsRoot, path.slice("/js/".length), res);
    if (path === "/" || path === "/index.html") return serveFile(pageDir, "index.html", res);
    if (/^\/[a-z-]+\.(mjs|html)$/.test(path)) return serveFile(pageDir, path.slice(1), res);
    res.writeHead(404).end();
  });
  return new Promise((resolveServer) =>
    server.listen(port, host, () =>
      resolveServer({ url: `http://${host}:${server.address().port}`, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const [host, port] = arg("--listen", "127.0.0.1:8080").split(":");
  const page = arg("--page", undefined);
  const { url } = await serveExample({
    proxyUrl: arg("--proxy", page ? undefined : "http://127.0.0.1:8402"),
    ledgerUrl: arg("--ledger", "http://127.0.0.1:6334"),
    host,
    port: Number(port),
    pageDir: page ? resolve(page) : here,
  });
  console.log(`the page is on ${url}`);
}
