/**
 * Concurrent token issuance against DynamoDB Local, two shapes.
 *
 * `issuance.local` (the issue's "locally"): ONE gateway process, as the local
 * server runs, with ISSUANCE_IN_FLIGHT requests in flight through the real
 * token endpoint (app.request): client secret check, one read of the client,
 * its partner, the agreement and its other party (shared by the requests
 * waiting for it: token/grouped-reads.ts), signing, audit append. Its audit
 * appends with group commit (the default: appends queued on a chain share a
 * transaction) and without (`maxGroup: 1`, a real setting: one transaction
 * per append), interleaved over ISSUANCE_ROUNDS rounds after a warm-up; per
 * variant the median round's tokens/s, latency p50/p99, the DynamoDB calls
 * per token by operation (`storeCallsPerToken`) and the audit transactions
 * per token. (The code before batching and grouping, which this cannot run,
 * read 2 GetItem and 2 BatchGetItem and wrote a transaction per token: the
 * issue's 38 tokens/s.)
 *
 * `issuance.tokens`: 64 requests in flight, each from its own "container" (a
 * gateway instance with its own AuditLog and DynamoDB client, as 64 Lambda
 * instances would be: one request at a time each, so no grouping), with the
 * audit trail as it was (`single`: every issuance appends to one chain head)
 * and as it is (`sharded`: AUDIT_CHAINS chains), in the same run. Per
 * layout: tokens/s, latency p50/p99, refusals (503: the append gave up), the
 * audit transactions cancelled because another writer moved the head first
 * (`conflicts`) and storeCallsPerToken. Then the same for bare audit appends
 * (no secret hashing, no signing), which isolates the head. DynamoDB Local
 * runs transactions one at a time (about 100 small ones a second here), so
 * this shape, at one transaction per token at least, stays far below what
 * DynamoDB itself sustains: compare layouts, not absolute rates.
 *
 * First, the client-secret check alone at the same concurrency, as it was
 * (scrypt, N = 2^14) and as it is (HMAC-SHA-256 under a pepper): what each
 * token costs in CPU before any store call (`issuance.secretCheck`).
 *
 * Starts its own DynamoDB Local (in memory). ISSUANCE_TOKENS (256 per
 * layout), ISSUANCE_LOCAL_TOKENS (1024 per round), ISSUANCE_ROUNDS (3),
 * ISSUANCE_APPENDS (1024), ISSUANCE_IN_FLIGHT (64).
 * Run alone: npm run bench -- issuance
 */
import { randomUUID } from "node:crypto";
import { createApp } from "../functions/app.ts";
import type { GatewayKeys } from "../functions/auth/keys.ts";
import { ephemeralKeys } from "../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../functions/auth/pseudonyms.ts";
import {
  newClientSecret,
  PEPPER_LABEL,
  pepperedSecrets,
  scryptHash,
} from "../functions/auth/secrets.ts";
import { ensureTradeRules } from "../functions/bootstrap.ts";
import { createGateway, DEFAULT_SETTINGS, type Gateway } from "../functions/gateway.ts";
import { startDynamoLocal } from "../functions/local/dynamo-local.ts";
import { localDynamoClient } from "../functions/local/server.ts";
import { silentLogger } from "../functions/log.ts";
import { AUDIT_CHAINS, type AuditLogOptions } from "../functions/store/audit.ts";
import { ensureTables, localTableNames } from "../functions/store/create-tables.ts";
import type { TableNames } from "../functions/store/db.ts";
import { tokenSurface } from "../functions/surfaces/token.ts";
import { agreement, dataset, partner } from "./fixtures.ts";
import { emit, percentile, round } from "./stats.ts";

const ISSUER = "http://bench.issuance";
const LAYOUTS: readonly { name: string; options: AuditLogOptions }[] = [
  { name: "single head (before)", options: { layout: "single" } },
  { name: `${AUDIT_CHAINS} chains (after)`, options: { layout: "sharded" } },
];

function envNumber(name: string, fallback: number): number {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

/** Runs `work` `total` times with `inFlight` workers, worker i on container i. */
async function drive(
  inFlight: number,
  total: number,
  work: (worker: number) => Promise<boolean>,
): Promise<{ seconds: number; ok: number; failed: number; latencies: number[] }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      while (next < total) {
        next++;
        const t0 = performance.now();
        const done = await work(worker).catch(() => false);
        latencies.push(performance.now() - t0);
        if (done) ok++;
        else failed++;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, ok, failed, latencies };
}

/** DynamoDB calls by operation, counted on every container's client. */
type Calls = Map<string, number>;

function countedClient(endpoint: string, calls: Calls) {
  const client = localDynamoClient(endpoint);
  client.middlewareStack.add(
    (next, context) => (args) => {
      const op = context.commandName ?? "unknown";
      calls.set(op, (calls.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "benchCallCounter" },
  );
  return client;
}

async function containers(
  endpoint: string,
  tables: TableNames,
  count: number,
  audit: AuditLogOptions,
  calls: Calls,
  keys?: GatewayKeys,
): Promise<Gateway[]> {
  const signing = keys ?? (await ephemeralKeys());
  return Array.from({ length: count }, () =>
    createGateway({
      client: countedClient(endpoint, calls),
      tables,
      keys: signing,
      pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 1)),
      settings: { ...DEFAULT_SETTINGS, issuer: ISSUER, audience: ISSUER, localBackends: true },
      log: silentLogger,
      audit,
    }),
  );
}

/** A provider, a consumer with a secret and an active agreement: what a partner token needs. */
async function seed(gw: Gateway): Promise<{ id: string; secret: string; agreementId: string }> {
  await ensureTradeRules(gw);
  const secret = newClientSecret();
  const now = new Date().toISOString();
  await gw.db.transact(
    [
      ...gw.registry.partnerOps(partner("fleetco", "SE"), null),
      ...gw.registry.partnerOps(partner("insureco", "DE"), null),
      ...gw.credentials.clientOps(
        {
          id: "insureco",
          role: "partner",
          secretHash: await gw.secrets.hash(secret),
          createdAt: now,
          updatedAt: now,
        },
        null,
      ),
    ],
    "seed",
  );
  await gw.db.transact(gw.registry.datasetOps(dataset, null), "seed");
  await gw.db.transact(gw.registry.agreementOps(agreement, null, false), "seed");
  return { id: "insureco", secret, agreementId: agreement.id };
}

/** The secret check alone, `inFlight` at a time: scrypt (before) against the keyed hash (after). */
async function secretChecks(inFlight: number, tokens: number): Promise<void> {
  const pseudonyms = pseudonymKeysFromSecret(Buffer.alloc(32, 1));
  const secrets = pepperedSecrets(() => pseudonyms.derive(PEPPER_LABEL));
  const secret = newClientSecret();
  const keyed = await secrets.hash(secret);
  const old = await scryptHash(secret);
  for (const [scheme, stored, total] of [
    ["scrypt N=2^14 (before)", old, tokens],
    ["hmac-sha256 + pepper (after)", keyed, tokens * 100],
  ] as const) {
    const r = await drive(inFlight, total, async () => (await secrets.verify(secret, stored)).ok);
    const sorted = [...r.latencies].sort((a, b) => a - b);
    emit({
      bench: "issuance.secretCheck",
      scheme,
      inFlight,
      done: r.ok,
      perSecond: round(r.ok / r.seconds, 1),
      p50Ms: round(percentile(sorted, 50), 3),
    });
  }
}

/** One token request through the app, true when a token came back. */
async function requestToken(
  app: ReturnType<typeof createApp>,
  client: { id: string; secret: string; agreementId: string },
): Promise<boolean> {
  const res = await app.request("/oauth/token", {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: `grant_type=client_credentials&scope=agreement%3A${client.agreementId}`,
  });
  await res.arrayBuffer();
  return res.status === 200;
}

const perToken = (calls: Calls, tokens: number) =>
  Object.fromEntries(
    [...calls].map(([op, n]) => [op.replace(/Command$/, ""), round(n / Math.max(1, tokens), 2)]),
  );

const LOCAL_VARIANTS: readonly { name: string; audit: AuditLogOptions }[] = [
  { name: "one transaction per append (maxGroup 1)", audit: { maxGroup: 1 } },
  { name: "group commit (default)", audit: {} },
];

/**
 * The local server's shape: one gateway, `inFlight` requests at once. Each
 * round runs every variant on a fresh gateway over the same tables (after a
 * short warm-up); the figure is the median round by tokens/s.
 */
async function oneProcess(
  endpoint: string,
  inFlight: number,
  tokens: number,
  rounds: number,
): Promise<void> {
  const admin = localDynamoClient(endpoint);
  const tables = localTableNames(`bl${randomUUID().slice(0, 8)}`);
  await ensureTables(admin, tables);
  const keys = await ephemeralKeys();
  const seedCalls: Calls = new Map();
  const [seeder] = await containers(endpoint, tables, 1, {}, seedCalls, keys);
  const client = await seed(seeder as Gateway);
  // DynamoDB Local's JIT warms up over the first few thousand calls: not measured.
  const [warm] = await containers(endpoint, tables, 1, {}, new Map(), keys);
  const warmApp = createApp(warm as Gateway, [tokenSurface]);
  await drive(inFlight, 4 * inFlight, () => requestToken(warmApp, client));
  const results = new Map<string, Record<string, unknown>[]>();
  for (let r = 0; r < rounds; r++) {
    for (const variant of LOCAL_VARIANTS) {
      const calls: Calls = new Map();
      const [gw] = await containers(endpoint, tables, 1, variant.audit, calls, keys);
      const app = createApp(gw as Gateway, [tokenSurface]);
      await drive(8, 32, () => requestToken(app, client));
      calls.clear();
      const audit = { ...(gw as Gateway).audit.stats };
      const issued = await drive(inFlight, tokens, () => requestToken(app, client));
      const after = (gw as Gateway).audit.stats;
      const figures = results.get(variant.name) ?? [];
      figures.push({
        ...figure(
          "issuance.local",
          variant.name,
          inFlight,
          issued,
          after.conflicts - audit.conflicts,
        ),
        auditTransactionsPerToken: round(
          (after.transactions - audit.transactions) / Math.max(1, issued.ok),
          3,
        ),
        storeCallsPerToken: perToken(calls, issued.ok),
        storeCallsTotalPerToken: round(
          [...calls.values()].reduce((a, b) => a + b, 0) / Math.max(1, issued.ok),
          2,
        ),
      });
      results.set(variant.name, figures);
    }
  }
  for (const figures of results.values()) {
    const sorted = [...figures].sort((a, b) => Number(a.perSecond) - Number(b.perSecond));
    const median = sorted[Math.floor(sorted.length / 2)] as Record<string, unknown>;
    emit({
      ...median,
      rounds,
      perSecondByRound: figures.map((f) => f.perSecond),
    });
  }
}

export async function run(): Promise<void> {
  const inFlight = envNumber("ISSUANCE_IN_FLIGHT", 64);
  const tokens = envNumber("ISSUANCE_TOKENS", 256);
  const appends = envNumber("ISSUANCE_APPENDS", 1024);
  const localTokens = envNumber("ISSUANCE_LOCAL_TOKENS", 1024);
  const rounds = envNumber("ISSUANCE_ROUNDS", 3);
  await secretChecks(inFlight, tokens);
  const store = await startDynamoLocal({ dbPath: null, timeoutMs: 60_000 });
  try {
    await oneProcess(store.endpoint, inFlight, localTokens, rounds);
    for (const layout of LAYOUTS) {
      const admin = localDynamoClient(store.endpoint);
      const tables = localTableNames(`bi${randomUUID().slice(0, 8)}`);
      await ensureTables(admin, tables);
      const calls: Calls = new Map();
      const gws = await containers(store.endpoint, tables, inFlight, layout.options, calls);
      const first = gws[0] as Gateway;
      const client = await seed(first);
      calls.clear();
      const apps = gws.map((gw) => createApp(gw, [tokenSurface]));
      const issued = await drive(inFlight, tokens, (worker) =>
        requestToken(apps[worker] as (typeof apps)[number], client),
      );
      const tokenConflicts = gws.reduce((n, gw) => n + gw.audit.stats.conflicts, 0);
      emit({
        ...figure("issuance.tokens", layout.name, inFlight, issued, tokenConflicts),
        storeCallsPerToken: perToken(calls, issued.ok),
      });

      const before = gws.reduce((n, gw) => n + gw.audit.stats.conflicts, 0);
      const appended = await drive(inFlight, appends, async (worker) => {
        const r = await (gws[worker] as Gateway).audit.append({
          actor: "bench",
          action: "bench.append",
          target: `worker:${worker}`,
        });
        return r.ok;
      });
      const appendConflicts = gws.reduce((n, gw) => n + gw.audit.stats.conflicts, 0) - before;
      emit(figure("issuance.auditAppends", layout.name, inFlight, appended, appendConflicts));
      const verdict = await first.audit.verify();
      if (!verdict.valid)
        throw new Error(`the ${layout.name} trail is broken: ${verdict.firstBroken}`);
    }
  } finally {
    await store.stop();
  }
}

function figure(
  bench: string,
  layout: string,
  inFlight: number,
  r: { seconds: number; ok: number; failed: number; latencies: number[] },
  conflicts: number,
) {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  return {
    bench,
    layout,
    inFlight,
    done: r.ok,
    refused: r.failed,
    seconds: round(r.seconds, 2),
    perSecond: round(r.ok / r.seconds, 1),
    p50Ms: round(percentile(sorted, 50), 1),
    p99Ms: round(percentile(sorted, 99), 1),
    conflicts,
    conflictsPerSuccess: round(conflicts / Math.max(1, r.ok), 2),
  };
}
