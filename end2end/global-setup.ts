// Starts the real parts the specs talk to: a Dovecot pair (the Rust test harness, `testkit
// serve`) and the release `imapcopy` server configured to reach it. Everything listens on
// loopback; names resolve only through a static hosts file (no DNS).
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "..");

export type Harness = {
  url: string;
  slash: {
    imaps_port: number;
    imap_port: number;
    separator: string;
    prefix: string;
    slow_imaps_port: number;
    plain_only_port: number;
  };
  dot: { imaps_port: number; imap_port: number; separator: string; prefix: string };
  users: { login: string; password: string }[];
  /// `testkit` control port (see `control()` in tests/harness-control.ts).
  control_port: number;
  /// Everything `startImapcopy` needs to start another server like the main one.
  server: { dir: string; caFile: string; hostsFile: string };
  /// A second server with OAuth2 sign-in ("Test Provider", for IMAP host `localhost`) at a
  /// real oidc-provider on `localhost` (so its callback is cross-site), and the Dovecot
  /// that accepts the provider's tokens.
  oauth2: { url: string; issuer: string; imaps_port: number };
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, child: ChildProcess, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what}: process exited with ${child.exitCode}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not ready after ${ms} ms`);
}

export default async function globalSetup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imapcopy-e2e-"));
  const stateFile = path.join(dir, "harness.json");
  const oauthPort = await freePort();
  const oauthUrl = `http://127.0.0.1:${oauthPort}`;
  const testkit = spawn(
    path.join(root, "target/debug/testkit"),
    [
      "serve",
      "--state-file", stateFile,
      "--user", "alice@example.test:alice-secret",
      "--user", 'bob@example.test:b"\\é§ secret',
      "--user", "carol@example.test:carol-secret",
      "--user", "dave@example.test:dave-secret",
      "--user", "erin@example.test:erin-secret",
      "--user", "frank@example.test:frank-secret",
      "--user", "gina@example.test:gina-secret",
      "--user", "hank@example.test:hank-secret",
      "--user", "ivan@example.test:ivan-secret",
      "--user", "judy@example.test:judy-secret",
      "--user", "kate@example.test:kate-secret",
      "--user", "liam@example.test:liam-secret",
      "--seed-messages", "20",
      "--latency-ms", "80",
      "--oauth2-redirect", `${oauthUrl}/oauth2/callback`,
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  await waitFor("testkit", () => fs.existsSync(stateFile), testkit);
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));

  const caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(
    caFile,
    [state.slash, state.dot, state.oauth2.dovecot]
      .map((s: { ca_pem_path: string }) => fs.readFileSync(s.ca_pem_path, "utf8"))
      .join("\n"),
  );
  const hostsFile = path.join(dir, "hosts");
  fs.writeFileSync(hostsFile, "127.0.0.1 localhost\n");

  // Every spec runs from 127.0.0.1: the per-client limits must not be what they meet (the
  // rate-limit spec starts a strict server of its own).
  const { url, process: server } = await startImapcopy({ dir, caFile, hostsFile }, "main", [
    "--validate-per-minute", "1000",
    "--synchronize-per-minute", "1000",
    "--lookup-per-minute", "1000",
  ]);

  // The operator's provider file; the secret comes from the environment (never argv).
  const oauth = state.oauth2;
  const providerFile = path.join(dir, "provider.toml");
  fs.writeFileSync(
    providerFile,
    [
      'name = "testkit"',
      'display_name = "Test Provider"',
      `authorization_endpoint = "${oauth.issuer}/auth"`,
      `token_endpoint = "http://127.0.0.1:${oauth.port}/token"`,
      `userinfo_endpoint = "http://127.0.0.1:${oauth.port}/me"`,
      'scopes = ["openid", "email", "offline_access", "imap"]',
      'imap_scope = "imap"',
      'imap_hosts = ["localhost"]',
      `client_id = "${oauth.client_id}"`,
      'extra_params = [["prompt", "consent"]]',
      "",
    ].join("\n"),
  );
  const { process: oauthServer } = await startImapcopy(
    { dir, caFile, hostsFile },
    "oauth2",
    ["--oauth2-provider-file", providerFile, "--public-url", oauthUrl],
    { port: oauthPort, env: { IMAPCOPY_OAUTH2_CLIENT_SECRET: oauth.client_secret } },
  );

  const harness: Harness = {
    url,
    slash: state.slash,
    dot: state.dot,
    users: state.users,
    control_port: state.control_port,
    server: { dir, caFile, hostsFile },
    oauth2: { url: oauthUrl, issuer: oauth.issuer, imaps_port: oauth.dovecot.imaps_port },
  };
  fs.writeFileSync(path.join(dir, "harness-public.json"), JSON.stringify(harness));
  process.env.IMAPCOPY_URL = url;
  process.env.IMAPCOPY_HARNESS = path.join(dir, "harness-public.json");
  process.env.IMAPCOPY_E2E_DIR = dir;
  fs.writeFileSync(path.join(dir, "pids"), JSON.stringify([server.pid, oauthServer.pid, testkit.pid]));
  console.log(`harness: imapcopy at ${url}, logs in ${dir}`);
}

/**
 * Starts the release `imapcopy serve` against the harness (its own data dir `<dir>/data-<name>`,
 * log `<dir>/server-<name>.log`) and waits for /healthz. `extra` adds or overrides options.
 */
export async function startImapcopy(
  server: { dir: string; caFile: string; hostsFile: string },
  name: string,
  extra: string[],
  opts: { port?: number; env?: Record<string, string> } = {},
): Promise<{ url: string; process: ChildProcess }> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(server.dir, `server-${name}.log`), "a");
  const child = spawn(
    path.join(root, "target/release/imapcopy"),
    [
      "serve",
      "--listen", `127.0.0.1:${port}`,
      "--data-dir", path.join(server.dir, `data-${name}`),
      "--site-root", path.join(root, "target/site"),
      "--ca-file", server.caFile,
      "--static-hosts", server.hostsFile,
      "--allow-private-networks",
      ...extra,
    ],
    { stdio: ["ignore", log, log], env: { ...process.env, ...(opts.env ?? {}) } },
  );
  await waitFor(
    `imapcopy (${name})`,
    async () => {
      try {
        return (await fetch(`${url}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    child,
  );
  return { url, process: child };
}
