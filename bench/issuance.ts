/**
 * Concurrent token issuance against DynamoDB Local, with the audit trail as
 * it was (`single`: every issuance appends to one chain head) and as it is
 * (`sharded`: AUDIT_CHAINS chains), in the same run.
 *
 * 64 requests in flight, each from its own "container" (a gateway instance
 * with its own AuditLog and DynamoDB client, as 64 Lambda instances would
 * be), through the real token endpoint (app.request): client secret check,
 * partner and agreement reads, signing, audit append. Per layout: tokens/s,
 * latency p50/p99, refusals (503: the append gave up), and the audit
 * transactions cancelled because another writer moved the head first
 * (`conflicts`), and the DynamoDB calls per token by operation (`storeCalls`:
 * what bounds the rate once the secret check costs nothing). Then the same for bare audit appends (no secret hashing,
 * no signing), which isolates the head.
 *
 * First, the client-secret check alone at the same concurrency, as it was
 * (scrypt, N = 2^14) and as it is (HMAC-SHA-256 under a pepper): what each
 * token costs in CPU before any store call (`issuance.secretCheck`).
 *
 * Starts its own DynamoDB Local (in memory). ISSUANCE_TOKENS (256 per
 * layout), ISSUANCE_APPENDS (1024), ISSUANCE_IN_FLIGHT (64).
 * Run alone: npm run bench -- issuance
 */
import { randomUUID } from "node:crypto";
import { createApp } from "../functions/app.ts";
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
): Promise<Gateway[]> {
  const keys = await ephemeralKeys();
  return Array.from({ length: count }, () =>
    createGateway({
      client: countedClient(endpoint, calls),
      tables,
      keys,
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

export async function run(): Promise<void> {
  const inFlight = envNumber("ISSUANCE_IN_FLIGHT", 64);
  const tokens = envNumber("ISSUANCE_TOKENS", 256);
  const appends = envNumber("ISSUANCE_APPENDS", 1024);
  await secretChecks(inFlight, tokens);
  const store = await startDynamoLocal({ dbPath: null, timeoutMs: 60_000 });
  try {
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
      const basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`;
      const body = `grant_type=client_credentials&scope=agreement%3A${client.agreementId}`;
      const issued = await drive(inFlight, tokens, async (worker) => {
        const res = await (apps[worker] as (typeof apps)[number]).request("/oauth/token", {
          method: "POST",
          headers: { Authorization: basic, "Content-Type": "application/x-www-form-urlencoded" },
          body,
        });
        await res.arrayBuffer();
        return res.status === 200;
      });
      const tokenConflicts = gws.reduce((n, gw) => n + gw.audit.stats.conflicts, 0);
      emit({
        ...figure("issuance.tokens", layout.name, inFlight, issued, tokenConflicts),
        storeCallsPerToken: Object.fromEntries(
          [...calls].map(([op, n]) => [op.replace(/Command$/, ""), round(n / issued.ok, 2)]),
        ),
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
