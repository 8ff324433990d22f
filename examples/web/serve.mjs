// A tiny server for the example: this folder at `/`, the built web package
// (wasm/pkg/web, made by scripts/test-wasm.sh) at `/pkg/web/`, the
// package's JS helpers (wasm/js: the sync driver) at `/js/`, and — when
// given a sync server — its API (`/v1/…`) proxied from the same origin, so
// the page needs no CORS and signs its own origin at login (README).
// Run: node examples/web/serve.mjs [port] [--api http://127.0.0.1:8787]
//      → http://127.0.0.1:<port>/ ; start the sync server with
//        --origin http://127.0.0.1:<port>
import { createServer, request as httpRequest } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const ROOTS = [
  ["/pkg/web/", join(here, "../../wasm/pkg/web")],
  ["/js/", join(here, "../../wasm/js")],
  ["/", here],
];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
};

/** The sync API's paths: forwarded as they are. */
const isApi = (path) => path.startsWith("/v1/") || path === "/healthz";

/** Forwards one request to the sync server; a server that cannot be reached is a 502 in the protocol's error shape. */
function proxy(req, res, api) {
  const target = new URL(req.url ?? "/", api);
  const up = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on("error", () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: "unavailable", message: "the sync server cannot be reached" } }));
  });
  req.pipe(up);
}

/**
 * Starts the server on 127.0.0.1; resolves to {url, setApi, close}.
 * `api` (or a later `setApi(url)`) is the sync server to proxy `/v1/` to.
 */
export function startServer(port = 0, { api = null } = {}) {
  let apiUrl = api;
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (isApi(path)) {
      if (apiUrl === null) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "not_found", message: "no sync server configured (--api)" } }));
      } else {
        proxy(req, res, apiUrl);
      }
      return;
    }
    const [prefix, root] = ROOTS.find(([p]) => path.startsWith(p));
    const rel = path.slice(prefix.length) || "index.html";
    const file = normalize(join(root, rel));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const { port: p } = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve({
        url: `http://127.0.0.1:${p}/`,
        setApi: (url) => {
          apiUrl = url;
        },
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(r);
          }),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--api");
  const api = at >= 0 ? args.splice(at, 2)[1] : null;
  const { url } = await startServer(Number(args[0] ?? 8080), { api });
  console.log(`promptvault example at ${url}${api ? ` (sync API proxied to ${api})` : ""}`);
}
