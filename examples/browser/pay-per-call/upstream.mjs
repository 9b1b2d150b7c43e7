// The paid JSON API's upstream, behind `paychan proxy`: `/api/quote?n=N` answers
// `{"n": N, "path", "served"}`; `/api/fail` answers 500 (the proxy then answers
// `502 service_failed` and the call is not charged).
//
//   node upstream.mjs 127.0.0.1:18081
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

/** Starts the upstream; answers its URL, a counter of served calls and the server. */
export function startUpstream({ host = "127.0.0.1", port = 0 } = {}) {
  let served = 0;
  const server = createServer({ noDelay: true }, (req, res) => {
    const url = new URL(req.url, "http://upstream");
    if (url.pathname === "/api/fail") {
      res.writeHead(500, { "content-type": "application/json" });
      res.end('{"error":"the upstream failed"}');
      return;
    }
    served += 1;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ n: Number(url.searchParams.get("n") ?? 0), path: url.pathname, served }));
  });
  return new Promise((resolve) =>
    server.listen(port, host, () =>
      resolve({ server, url: `http://${host}:${server.address().port}`, served: () => served }),
    ),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [host, port] = (process.argv[2] ?? "127.0.0.1:18081").split(":");
  const { url } = await startUpstream({ host, port: Number(port) });
  console.log(`the JSON upstream is on ${url}`);
}
