// A local OAuth2 authorization server for the tests: oidc-provider 9 with its development
// login and consent pages (any login name is accepted and becomes the account id, `sub` and
// `email`), PKCE (S256) required, authorization_code + refresh_token grants, refresh tokens
// rotated on every use (a rotated one presented again revokes the whole grant), RFC 7662
// introspection (Dovecot's oauth2 passdb) and RFC 7009 revocation.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json (written by testkit, never on the command line: it holds client secrets; it is
// removed as soon as it is read):
//   { "port": 41234, "access_token_ttl": 3600, "imap_scope": "imap",
//     "clients": [{ "client_id": "...", "client_secret": "...", "redirect_uris": ["..."],
//                   "access_token_ttl": 3 }] }
// (a client's own access_token_ttl, in seconds, wins over the provider's). With
// "remove_on_exit": DIR, that directory is removed when stdin closes.
//
// Listens on 127.0.0.1 only; the issuer is http://localhost:PORT. Prints one line
// `READY http://localhost:PORT` on stdout once it accepts connections.
//
// GET /testkit/refreshes answers how many refresh_token grants each account got and how many
// were refused ({"alice@example.test": {"granted": 3, "refused": 0}}; a refusal before the
// account is known, e.g. an unknown or revoked refresh token, counts under ""), so that
// tests count refreshes at the provider itself.
//
// POST /testkit/revoke-account?account=NAME revokes every grant of that account (its access
// and refresh tokens too), as a user removing the app's access in the provider's settings
// would; it answers how many grants went ({"revoked": 1}).

import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
// The file holds client secrets: gone from the disk once read.
rmSync(configPath, { force: true });
const port = Number(config.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`bad port in ${configPath}`);
  process.exit(2);
}
const accessTokenTtl = Number(config.access_token_ttl ?? 3600);
const imapScope = config.imap_scope ?? 'imap';
const issuer = `http://localhost:${port}`;

const clientTtl = new Map((config.clients ?? [])
  .filter((c) => c.access_token_ttl)
  .map((c) => [c.client_id, Number(c.access_token_ttl)]));

const clients = (config.clients ?? []).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  // Dovecot sends the credentials of its introspection URL as HTTP Basic.
  token_endpoint_auth_method: 'client_secret_basic',
}));

const provider = new Provider(issuer, {
  clients,
  // Any login name is an account: `sub` and `email` are that name (a mail address).
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'email', 'offline_access', imapScope],
  pkce: { required: () => true },
  // Every refresh rotates; oidc-provider revokes the grant when a rotated token comes back.
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  ttl: {
    AccessToken(_ctx, _token, client) {
      return clientTtl.get(client?.clientId) ?? accessTokenTtl;
    },
    AuthorizationCode: 60,
    RefreshToken: 24 * 3600,
    Grant: 24 * 3600,
    Interaction: 600,
    Session: 24 * 3600,
    IdToken: 3600,
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
});

// Development keys, HTTP issuer: expected here, and only here.
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const refreshes = new Map();
function countRefresh(ctx, outcome) {
  if (ctx.oidc?.params?.grant_type !== 'refresh_token') return;
  const account = ctx.oidc.entities?.Account?.accountId ?? '';
  const counts = refreshes.get(account) ?? { granted: 0, refused: 0 };
  counts[outcome] += 1;
  refreshes.set(account, counts);
}
provider.on('grant.success', (ctx) => countRefresh(ctx, 'granted'));

// The grants of each account, for /testkit/revoke-account.
const grantsOf = new Map();
provider.on('grant.saved', (grant) => {
  if (!grant.accountId) return;
  const ids = grantsOf.get(grant.accountId) ?? new Set();
  ids.add(grant.jti);
  grantsOf.set(grant.accountId, ids);
});
async function revokeAccount(account) {
  const ids = [...(grantsOf.get(account) ?? [])];
  grantsOf.delete(account);
  for (const id of ids) {
    await Promise.all([
      provider.AccessToken.revokeByGrantId(id),
      provider.RefreshToken.revokeByGrantId(id),
      provider.AuthorizationCode.revokeByGrantId(id),
    ]);
    const grant = await provider.Grant.find(id);
    if (grant) await grant.destroy();
  }
  return ids.length;
}
provider.on('grant.error', (ctx) => countRefresh(ctx, 'refused'));

const oidc = provider.callback();
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/testkit/refreshes') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(Object.fromEntries(refreshes)));
    return;
  }
  if (req.method === 'POST' && req.url.startsWith('/testkit/revoke-account?')) {
    const account = new URL(req.url, issuer).searchParams.get('account') ?? '';
    revokeAccount(account).then(
      (revoked) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ revoked }));
      },
      (err) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
    return;
  }
  oidc(req, res);
});
// Dovecot's HTTP client keeps an idle connection for 60 s and reuses it; Node would close it
// after 5 s, and a request Dovecot sends on a connection being closed waits for its timeout.
server.keepAliveTimeout = 120_000;
if (process.env.TESTKIT_OAUTH2_TRACE) {
  server.on('request', (req, res) => {
    const start = Date.now();
    res.on('finish', () => console.error(`${req.method} ${req.url.split('?')[0]} ${res.statusCode} ${Date.now() - start}ms`));
  });
}
server.on('error', (err) => {
  console.error(`listen failed: ${err.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});

// The harness closes our stdin when it goes away (also when it dies without cleaning up, e.g.
// a provider kept in a `static`): exit then, removing the harness's temp dir if it says so.
function leave() {
  if (config.remove_on_exit) {
    rmSync(config.remove_on_exit, { recursive: true, force: true });
  }
  process.exit(0);
}
process.stdin.on('end', leave);
process.stdin.on('close', leave);
process.stdin.resume();
process.on('SIGTERM', leave);
