import * as fs from "node:fs";
import * as path from "node:path";

export default async function globalTeardown() {
  const dir = process.env.IMAPCOPY_E2E_DIR;
  if (!dir) return;
  const pids: number[] = JSON.parse(fs.readFileSync(path.join(dir, "pids"), "utf8"));
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  // Give testkit a moment to stop Dovecot and remove its directories.
  const deadline = Date.now() + 10_000;
  for (const pid of pids) {
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        break;
      }
    }
  }
}
