/**
 * In-process cost of one exchange's policy work: token check, one read of
 * the state, decision, guard of an 8 KB body, and building the metering
 * transaction, with the store answered from memory (a fake `send`) and
 * the provider answering from memory. Separately for a token seen for the
 * first time and for a repeated one (verified-token cache).
 * Goals: under 100 µs for a repeat token, under 300 µs for a first one.
 * The repeat token's figure is the steady state (after WARM_UP_EXCHANGES),
 * sampled in blocks alternating with its baseline (a bare parse+print of the
 * same body), so that the ratio is not moved by the machine's drift.
 * Observability is in the measured path as deployed: the request's trace
 * context, the traceparent on the call to the provider, and the flow's
 * figures as Powertools EMF (serialised and published per exchange; the
 * output goes to a sink).
 *
 * DPoP next to it, in the same run, alternating exchange by exchange so that
 * drift of a noisy machine hits both alike: the same repeat token, but bound
 * to a key, with a fresh proof per exchange (made beforehand, as a client
 * would): the sender check (proof shape, signature, claims, ath, the
 * recent-proofs set) and the proof's claim beside the state read. Goal:
 * under 150 µs added on the reference machine (2 × its parse+print); the
 * floor, one ECDSA P-256 verification, is measured in the same run.
 */
import { generateKeyPairSync, randomUUID, sign, verify } from "node:crypto";
import { PerformanceObserver, performance } from "node:perf_hooks";
import {
  BatchGetItemCommand,
  DynamoDBClient,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from "jose";
import { accessTokenHash, normaliseHtu, type VerifiedProof } from "../functions/auth/dpop.ts";
import { ephemeralKeys } from "../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../functions/auth/pseudonyms.ts";
import { issueAccessToken } from "../functions/auth/tokens.ts";
import { ExchangeService } from "../functions/exchange/service.ts";
import type { UpstreamTransport } from "../functions/exchange/upstream.ts";
import { createGateway, DEFAULT_SETTINGS } from "../functions/gateway.ts";
import { checkSenderOf } from "../functions/http/sender.ts";
import { createPowertools, powertoolsTelemetry } from "../functions/lambda/powertools.ts";
import { silentLogger } from "../functions/log.ts";
import type { Item } from "../functions/store/codec.ts";
import { localTableNames } from "../functions/store/create-tables.ts";
import { withTrace } from "../functions/telemetry/context.ts";
import { noTelemetry } from "../functions/telemetry/telemetry.ts";
import { newTraceId } from "../functions/telemetry/traceparent.ts";
import { EMPTY_TRADE_RULES } from "../policies/model.ts";
import { agreement, dataset, partner, telemetryBody } from "./fixtures.ts";
import { emit, round, sampleMicros, summary } from "./stats.ts";

const ISSUER = "http://bench.gateway";
/** Exchanges before the policy work is sampled (steady state). */
const WARM_UP_EXCHANGES = 5000;
/** The policy work and its baseline: 3000 samples each, in alternating blocks. */
const BLOCKS = 6;
const PER_BLOCK = 500;

/**
 * Answers the client's calls from a map instead of the network: the fake
 * replaces `send`, so what is measured is the gateway's own work.
 */
function memoryStore(client: DynamoDBClient, seed: readonly TransactWriteItem[]) {
  const items = new Map<string, Item>();
  const id = (table: string, key: Item) => `${table}|${key.pk?.S}|${key.sk?.S}`;
  for (const op of seed)
    if (op.Put?.TableName && op.Put.Item) items.set(id(op.Put.TableName, op.Put.Item), op.Put.Item);
  let reads = 0;
  let writes = 0;
  let claims = 0;
  const send = async (command: unknown) => {
    if (command instanceof BatchGetItemCommand) {
      reads++;
      const Responses: Record<string, Item[]> = {};
      for (const [table, req] of Object.entries(command.input.RequestItems ?? {})) {
        Responses[table] = (req.Keys ?? [])
          .map((k) => items.get(id(table, k)))
          .filter((i): i is Item => i !== undefined);
      }
      return { Responses, UnprocessedKeys: {} };
    }
    if (command instanceof TransactWriteItemsCommand) {
      writes++;
      return {};
    }
    if (command instanceof UpdateItemCommand) {
      claims++;
      return {};
    }
    console.error(
      "unanswered",
      (command as object).constructor.name,
      JSON.stringify((command as { input?: unknown }).input).slice(0, 300),
    );
    throw new Error(`the benchmark store does not answer ${(command as object).constructor.name}`);
  };
  (client as unknown as { send: typeof send }).send = send;
  return { counts: () => ({ reads, writes, claims }) };
}

/**
 * The measured exchange, ready to run: a gateway on a memory store, the
 * provider answering an 8 KB body from memory, Powertools figures as in
 * Lambda. bench/exchange-profile.ts profiles the same thing.
 */
export async function exchangeRig() {
  const client = new DynamoDBClient({
    region: "local",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  const body = Buffer.from(telemetryBody(8 * 1024));
  // As the stack sets them for every function.
  process.env.POWERTOOLS_SERVICE_NAME ??= "gateway-exchange";
  process.env.POWERTOOLS_METRICS_NAMESPACE ??= "DataSharingGateway/bench";
  const provider: UpstreamTransport = async () => ({
    ok: true,
    status: 200,
    contentType: "application/json",
    contentEncoding: undefined,
    body,
  });
  const pt = createPowertools("error");
  // The EMF text is built as in Lambda; writing it to stdout (I/O, as the store's
  // round trips) is left out: the store here answers from memory too.
  let emfChars = 0;
  (pt.metrics as unknown as { console: Pick<Console, "log" | "warn"> }).console = {
    log: (line: string) => {
      emfChars += line.length;
    },
    warn: () => {},
  };
  const telemetry = powertoolsTelemetry(pt);
  const gw = createGateway({
    client,
    tables: localTableNames("bench"),
    keys: await ephemeralKeys(),
    pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 1)),
    settings: { ...DEFAULT_SETTINGS, issuer: ISSUER, audience: ISSUER, localBackends: true },
    log: silentLogger,
    // As in Lambda: Powertools Metrics for the flow's figures (EMF serialised,
    // written to a sink) and a traceparent on the call to the provider.
    telemetry,
    transport: provider,
  });
  const store = memoryStore(client, [
    ...gw.registry.partnerOps(partner("fleetco", "SE"), null),
    ...gw.registry.partnerOps(partner("insureco", "DE"), null),
    ...gw.registry.datasetOps(dataset, null),
    ...gw.registry.agreementOps(agreement, null, false),
    ...gw.registry.tradeRulesOps(EMPTY_TRADE_RULES, 0),
  ]);
  const service = new ExchangeService(gw);
  // The same exchange without observability: no trace context, no figures
  // noted, the provider called without a traceparent (for the A/B below).
  const bare = new ExchangeService({ ...gw, transport: provider, telemetry: noTelemetry });
  const settings = { issuer: ISSUER, audience: ISSUER, maxLifetimeSeconds: 900 };
  const bind = {
    "agr-1": { provider: "fleetco", consumer: "insureco", dataset: "vehicle-telemetry" },
  };
  const mint = async () =>
    (
      await issueAccessToken(
        gw.keys.signer,
        settings,
        { sub: "insureco", scopes: ["agreement:agr-1"], ttlSeconds: 900, bind },
        new Date(),
      )
    ).token;
  let n = 0;
  // Inside the request's trace (what the app's traceContext middleware sets up);
  // the figures the exchange notes are published when the invocation ends,
  // measured apart below (exchange.emfPublish).
  const exchange = (token: string) => {
    const requestId = `bench-${n++}`;
    return withTrace(
      { requestId, traceId: newTraceId(), parentId: null, sampled: true },
      async () => {
        const claims = await gw.verifier.verify(token, new Date());
        const out = await service.run({
          action: "read",
          agreementId: "agr-1",
          segments: [],
          rawQuery: "",
          claims,
          purpose: "insurance-pricing",
          idempotencyKey: undefined,
          requestId,
          accept: undefined,
        });
        if (out.records === 0) throw new Error("nothing released");
      },
    );
  };
  return {
    gw,
    body,
    store,
    telemetry,
    bare,
    service,
    mint,
    exchange,
    settings,
    bind,
    nextRequest: () => n++,
    exchanges: () => n,
    emfChars: () => emfChars,
    resetEmf: () => {
      emfChars = 0;
    },
  };
}

export async function run(): Promise<void> {
  const rig = await exchangeRig();
  const { gw, body, store, telemetry, bare, service, mint, exchange, settings, bind } = rig;
  // The issue states its goals on a machine where parsing and printing the
  // same 8 KB body costs about 75 µs; the ratios make them portable.
  const parsePrint = () => JSON.stringify(JSON.parse(body.toString("utf8")));
  const repeat = await mint();
  // Steady state, as a container that has served a few thousand requests:
  // V8 still compiles and re-compiles the path over its first thousands of
  // exchanges, which put the p99 at 7-11 × the median after 300 (measured).
  for (let i = 0; i < WARM_UP_EXCHANGES; i++) {
    await exchange(repeat);
    telemetry.flush();
  }
  for (let i = 0; i < 1000; i++) parsePrint();
  // The baseline and the policy work in alternating blocks, so that a noisy
  // machine's drift (CPU speed moved the baseline by a third between runs)
  // hits both alike; collections are counted in the policy work's blocks only.
  const parse: number[] = [];
  const repeatSamples: number[] = [];
  const windows: [number, number][] = [];
  const gcs: { at: number; ms: number }[] = [];
  const gcWatch = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ at: e.startTime, ms: e.duration });
  });
  gcWatch.observe({ entryTypes: ["gc"] });
  for (let block = 0; block < BLOCKS; block++) {
    for (let i = 0; i < PER_BLOCK; i++) {
      const t0 = process.hrtime.bigint();
      parsePrint();
      parse.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    const from = performance.now();
    for (let i = 0; i < PER_BLOCK; i++) {
      const t0 = process.hrtime.bigint();
      await exchange(repeat);
      repeatSamples.push(Number(process.hrtime.bigint() - t0) / 1000);
      // As Lambda's wrapper does when the invocation ends (measured apart:
      // exchange.withEmfPublish); left undone, the figures of thousands of
      // exchanges would pile up in memory, which no container does.
      telemetry.flush();
    }
    windows.push([from, performance.now()]);
  }
  // The observer hears of collections a little later.
  await new Promise((r) => setTimeout(r, 50));
  gcWatch.disconnect();
  parse.sort((a, b) => a - b);
  repeatSamples.sort((a, b) => a - b);
  const inSamples = gcs.filter((g) => windows.some(([a, b]) => g.at >= a && g.at <= b));
  const baseline = summary(parse).medianUs;
  emit({ bench: "exchange.baseline.parseAndPrint8KB", ...summary(parse) });
  const fresh = await Promise.all(Array.from({ length: 1500 }, mint));
  let i = 0;
  const firstSamples = await sampleMicros(
    () => exchange(fresh[i++ % fresh.length] as string),
    1200,
    300,
  );
  const calls = store.counts();
  const counted = rig.exchanges();
  // What Lambda's wrapper does after each exchange: Powertools Metrics builds
  // and publishes the flow's EMF record (one per flow and invocation).
  telemetry.flush();
  rig.resetEmf();
  const publish = await sampleMicros(
    async () => {
      await exchange(repeat);
      telemetry.flush();
    },
    1000,
    100,
  );
  const emfCharsPerPublish = Math.round(rig.emfChars() / (publish.length + 100));
  for (const [token, samples, goalUs] of [
    ["repeat", repeatSamples, 100],
    ["first", firstSamples, 300],
  ] as const) {
    const s = summary(samples);
    emit({
      bench: "exchange.policyWork",
      token,
      bodyBytes: body.length,
      ...s,
      ratioToParsePrint: Math.round((s.medianUs / baseline) * 100) / 100,
      goalUs,
      goalRatio: Math.round((goalUs / 75) * 100) / 100,
      p99ToMedian: round(s.p99Us / s.medianUs),
      goalP99ToMedian: 3,
      ...(token === "repeat"
        ? {
            warmUpExchanges: WARM_UP_EXCHANGES,
            gcDuringSamples: inSamples.length,
            gcMs: round(inSamples.reduce((a, g) => a + g.ms, 0)),
            gcMaxMs: round(Math.max(0, ...inSamples.map((g) => g.ms))),
          }
        : {}),
    });
  }
  // A/B in one loop, alternating, so that the machine's drift hits both alike.
  const plainExchange = async (token: string) => {
    const claims = await gw.verifier.verify(token, new Date());
    await bare.run({
      action: "read",
      agreementId: "agr-1",
      segments: [],
      rawQuery: "",
      claims,
      purpose: "insurance-pricing",
      idempotencyKey: undefined,
      requestId: `bench-${rig.nextRequest()}`,
      accept: undefined,
    });
  };
  const withObs: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < 4200; i++) {
    for (const [fn, into] of [
      [() => exchange(repeat), withObs],
      [() => plainExchange(repeat), without],
    ] as const) {
      const t0 = process.hrtime.bigint();
      await fn();
      if (i >= 200) into.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  telemetry.flush();
  withObs.sort((a, b) => a - b);
  without.sort((a, b) => a - b);
  const a = summary(withObs);
  const b = summary(without);
  emit({
    bench: "exchange.observabilityOverhead",
    token: "repeat",
    note: "interleaved A/B in one run: trace context, traceparent, figures noted vs none",
    withUs: a.medianUs,
    withoutUs: b.medianUs,
    overheadPercent: round(((a.medianUs - b.medianUs) / b.medianUs) * 100, 1),
    goalPercent: 5,
    samples: a.samples,
  });
  emit({
    bench: "exchange.withEmfPublish",
    token: "repeat",
    note: "policy work plus the invocation's Powertools EMF publish (serialised, not written)",
    ...summary(publish),
    emfCharsPerPublish,
  });
  emit({
    bench: "exchange.dynamoCallsPerExchange",
    readRoundTrips: calls.reads / counted,
    writeRoundTrips: calls.writes / counted,
    exchanges: counted,
  });

  // ---------------------------------------------------------------- DPoP
  const dpopKey = await generateKeyPair("ES256");
  const jwk = await exportJWK(dpopKey.publicKey);
  const bound = (
    await issueAccessToken(
      gw.keys.signer,
      settings,
      {
        sub: "insureco",
        scopes: ["agreement:agr-1"],
        ttlSeconds: 900,
        bind,
        cnf: { jkt: await calculateJwkThumbprint(jwk) },
      },
      new Date(),
    )
  ).token;
  const url = `${ISSUER}/v1/exchange/agr-1`;
  const makeProof = () =>
    new SignJWT({ htm: "GET", htu: url, jti: randomUUID(), ath: accessTokenHash(bound) })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
      .setIssuedAt()
      .sign(dpopKey.privateKey);
  // What the authentication middleware does, then the exchange, inside the request's trace.
  const senderExchange = (token: string, scheme: "Bearer" | "DPoP", dpop: string | undefined) => {
    const requestId = `bench-${rig.nextRequest()}`;
    return withTrace(
      { requestId, traceId: newTraceId(), parentId: null, sampled: true },
      async () => {
        const claims = await gw.verifier.verify(token, new Date());
        // Both spellings of the URL, normalised, as the middleware computes them per request.
        const htus =
          scheme === "DPoP"
            ? [normaliseHtu(url), normaliseHtu(`${ISSUER}/v1/exchange/agr-1`)].filter(
                (u): u is string => u !== null,
              )
            : [];
        const proof: VerifiedProof | undefined = await checkSenderOf(
          gw,
          { method: "GET", htus, dpop, certificate: undefined },
          { scheme, token },
          claims,
        );
        if (scheme === "DPoP" && proof === undefined) throw new Error("no proof verified");
        const out = await service.run({
          action: "read",
          agreementId: "agr-1",
          segments: [],
          rawQuery: "",
          claims,
          purpose: "insurance-pricing",
          idempotencyKey: undefined,
          requestId,
          accept: undefined,
          proof,
        });
        if (out.records === 0) throw new Error("nothing released");
      },
    );
  };
  const ROUNDS = 6;
  const PER_ROUND = 600;
  const WARMUP = 100;
  const bearerUs: number[] = [];
  const dpopUs: number[] = [];
  const claimsBefore = store.counts().claims;
  for (let r = 0; r < ROUNDS; r++) {
    // Fresh proofs each round (iat within 60 s), made outside the timed part.
    const proofs = await Promise.all(Array.from({ length: PER_ROUND + WARMUP }, makeProof));
    for (let k = 0; k < PER_ROUND + WARMUP; k++) {
      for (const [fn, into] of [
        [() => senderExchange(repeat, "Bearer", undefined), bearerUs],
        [() => senderExchange(bound, "DPoP", proofs[k]), dpopUs],
      ] as const) {
        const t0 = process.hrtime.bigint();
        await fn();
        if (k >= WARMUP) into.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
    }
    telemetry.flush();
  }
  const dpopClaims = store.counts().claims - claimsBefore;
  bearerUs.sort((x, y) => x - y);
  dpopUs.sort((x, y) => x - y);
  const bearer = summary(bearerUs);
  const dpop = summary(dpopUs);
  for (const [token, s] of [
    ["repeat, Bearer", bearer],
    ["repeat, DPoP-bound with a fresh proof", dpop],
  ] as const) {
    emit({ bench: "exchange.policyWork.sender", token, bodyBytes: body.length, ...s });
  }
  // The floor of what a proof adds: one ECDSA P-256 verification of a proof-sized input.
  const { privateKey: floorKey, publicKey: floorPub } = generateKeyPairSync("ec", {
    namedCurve: "P-256",
  });
  const floorInput = Buffer.alloc(600, 97);
  const floorSig = sign("sha256", floorInput, { key: floorKey, dsaEncoding: "ieee-p1363" });
  const floor = summary(
    await sampleMicros(
      () => verify("sha256", floorInput, { key: floorPub, dsaEncoding: "ieee-p1363" }, floorSig),
      2000,
      200,
    ),
  );
  const added = dpop.medianUs - bearer.medianUs;
  emit({
    bench: "exchange.dpopAdded",
    note: "interleaved A/B in one run: DPoP-bound repeat token + fresh proof vs Bearer repeat token",
    addedMedianUs: round(added),
    ratio: round(dpop.medianUs / bearer.medianUs),
    addedRatioToParsePrint: round(added / baseline),
    goalUs: 150,
    goalRatio: round(150 / 75),
    ecdsaP256VerifyMedianUs: floor.medianUs,
    proofClaimsPerDpopExchange: dpopClaims / (ROUNDS * (PER_ROUND + WARMUP)),
    samples: dpop.samples,
  });
}
