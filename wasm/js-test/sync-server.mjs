// Starts the real reference server (server/, the promptvault-server binary)
// on loopback with a temporary SQLite file, for the sync tests. The binary
// is $PV_SERVER_BIN, or debug/promptvault-server under $CARGO_TARGET_DIR
// (scripts/test-wasm.sh builds it).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, openSync, closeSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export function serverBinary() {
  const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache/promptvault/target");
  const bin = process.env.PV_SERVER_BIN ?? join(target, "debug/promptvault-server");
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: build it with \`cargo build -p promptvault-server\` (scripts/test-wasm.sh does)`);
  }
  return bin;
}

/**
 * Resolves to {url, log, close}. `origin` is the origin clients sign
 * (default: the server's own URL); behind a same-origin proxy, the page's.
 */
export async function startSyncServer({ origin } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "pv-sync-server-"));
  const log = join(dir, "server.log");
  const args = ["--listen", "127.0.0.1:0", "--database", `sqlite://${join(dir, "server.db")}`];
  if (origin) args.push("--origin", origin);
  const err = openSync(log, "a");
  const child = spawn(serverBinary(), args, {
    stdio: ["ignore", "pipe", err],
    env: { ...process.env, RUST_LOG: "info" },
  });
  closeSync(err);
  const lines = createInterface({ input: child.stdout });
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not start within 30 s")), 30_000);
    child.once("exit", (code) => reject(new Error(`the server exited (${code}); see ${log}`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      const m = /^listening on (\S+)$/.exec(line.trim());
      if (m) resolve(m[1]);
      else reject(new Error(`unexpected first line from the server: ${line}`));
    });
  });
  child.removeAllListeners("exit");
  let closed = false;
  return {
    url: `http://${addr}`,
    log,
    close: async () => {
      if (closed) return;
      closed = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
