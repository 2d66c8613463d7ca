/**
 * In-process cost of one exchange's policy work: token check, one read of
 * the state, decision, guard of an 8 KB body, and building the metering
 * transaction, with the store answered from memory (a fake `send`) and
 * the provider answering from memory. Separately for a token seen for the
 * first time and for a repeated one (verified-token cache).
 * Goals: under 100 µs for a repeat token, under 300 µs for a first one.
 */
import {
  BatchGetItemCommand,
  DynamoDBClient,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { ephemeralKeys } from "../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../functions/auth/pseudonyms.ts";
import { issueAccessToken } from "../functions/auth/tokens.ts";
import { ExchangeService } from "../functions/exchange/service.ts";
import { createGateway, DEFAULT_SETTINGS } from "../functions/gateway.ts";
import { silentLogger } from "../functions/log.ts";
import type { Item } from "../functions/store/codec.ts";
import { localTableNames } from "../functions/store/create-tables.ts";
import { EMPTY_TRADE_RULES } from "../policies/model.ts";
import { agreement, dataset, partner, telemetryBody } from "./fixtures.ts";
import { emit, sampleMicros, summary } from "./stats.ts";

const ISSUER = "http://bench.gateway";

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
    console.error(
      "unanswered",
      (command as object).constructor.name,
      JSON.stringify((command as { input?: unknown }).input).slice(0, 300),
    );
    throw new Error(`the benchmark store does not answer ${(command as object).constructor.name}`);
  };
  (client as unknown as { send: typeof send }).send = send;
  return { counts: () => ({ reads, writes }) };
}

export async function run(): Promise<void> {
  const client = new DynamoDBClient({
    region: "local",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  const body = Buffer.from(telemetryBody(8 * 1024));
  const gw = createGateway({
    client,
    tables: localTableNames("bench"),
    keys: await ephemeralKeys(),
    pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 1)),
    settings: { ...DEFAULT_SETTINGS, issuer: ISSUER, audience: ISSUER, localBackends: true },
    log: silentLogger,
    transport: async () => ({
      ok: true,
      status: 200,
      contentType: "application/json",
      contentEncoding: undefined,
      body,
    }),
  });
  const store = memoryStore(client, [
    ...gw.registry.partnerOps(partner("fleetco", "SE"), null),
    ...gw.registry.partnerOps(partner("insureco", "DE"), null),
    ...gw.registry.datasetOps(dataset, null),
    ...gw.registry.agreementOps(agreement, null, false),
    ...gw.registry.tradeRulesOps(EMPTY_TRADE_RULES, 0),
  ]);
  const service = new ExchangeService(gw);
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
  const exchange = async (token: string) => {
    const claims = await gw.verifier.verify(token, new Date());
    const out = await service.run({
      action: "read",
      agreementId: "agr-1",
      segments: [],
      rawQuery: "",
      claims,
      purpose: "insurance-pricing",
      idempotencyKey: undefined,
      requestId: `bench-${n++}`,
      accept: undefined,
    });
    if (out.records === 0) throw new Error("nothing released");
  };

  // The issue states its goals on a machine where parsing and printing the
  // same 8 KB body costs about 75 µs; the ratios make them portable.
  const parse = await sampleMicros(
    () => JSON.stringify(JSON.parse(body.toString("utf8"))),
    3000,
    300,
  );
  const baseline = summary(parse).medianUs;
  emit({ bench: "exchange.baseline.parseAndPrint8KB", ...summary(parse) });
  const repeat = await mint();
  const repeatSamples = await sampleMicros(() => exchange(repeat), 3000, 300);
  const fresh = await Promise.all(Array.from({ length: 1500 }, mint));
  let i = 0;
  const firstSamples = await sampleMicros(
    () => exchange(fresh[i++ % fresh.length] as string),
    1200,
    300,
  );
  const calls = store.counts();
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
    });
  }
  emit({
    bench: "exchange.dynamoCallsPerExchange",
    readRoundTrips: calls.reads / n,
    writeRoundTrips: calls.writes / n,
    exchanges: n,
  });
}
