/**
 * `npm run bench -- cost`: what a million exchanges cost in AWS, derived from
 * a real exchange through the in-process app on DynamoDB Local. A middleware
 * on the gateway's DynamoDB client records every call; the items each call
 * wrote or read are then read back and sized by DynamoDB's rules, giving the
 * write and read request units (transactional writes at 2 per KB, strongly
 * consistent reads at 1 per 4 KB). KMS calls are counted on the gateway's key
 * derivations (each a KMS GenerateMac in AWS, cached per process). Lambda
 * GB-seconds come from the measured handler duration (median, in-process, so
 * including DynamoDB Local's latency: an upper estimate) at the exchange
 * function's memory. Priced with PRICES below; printed next to an AWS API
 * Gateway REST API with usage plans doing the metering instead.
 * Run alone: npx tsx -e "import('./bench/cost.ts').then(m=>m.run())"
 */
import {
  type AttributeValue,
  GetItemCommand,
  type TransactWriteItem,
} from "@aws-sdk/client-dynamodb";
import { FUNCTION_SETTINGS } from "../infra/gateway-stack.ts";
import { PURPOSE, startFinanceBench } from "./finance-setup.ts";
import { emit, percentile, round } from "./stats.ts";

/**
 * On-demand prices, US East (N. Virginia), USD, as AWS publishes them;
 * compiled 2026-12-02 (DynamoDB after its November 2024 on-demand
 * reduction). The one place prices live: check them before quoting.
 */
export const PRICES = {
  date: "2026-12-02",
  region: "us-east-1",
  dynamoPerMillionWrites: 0.625,
  dynamoPerMillionReads: 0.125,
  kmsPer10kRequests: 0.03,
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  httpApiPerMillion: 1.0,
  restApiPerMillion: 3.5,
} as const;

const SAMPLES = 40;

type Attr = AttributeValue;

/** An attribute value's size by DynamoDB's rules (numbers: about one byte per two digits, plus one). */
function valueSize(v: Attr): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|^0+/g, "").length / 2) + 1;
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + Math.ceil(s.length / 2) + 1, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, x) => n + 1 + valueSize(x), 0);
  if (v.M !== undefined) return 3 + itemSize(v.M);
  return 0;
}

export function itemSize(item: Record<string, Attr>): number {
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueSize(v), 0);
}

interface Recorded {
  readonly command: string;
  readonly input: Record<string, unknown>;
  readonly output?: Record<string, unknown>;
}

/** What one item of a metering transaction is, by its key (see functions/store/meter-keys.ts). */
function kindOf(table: string, pk: string): string {
  if (!table.includes("meter")) return `registry ${pk.split("#")[0]}`;
  const prefix = pk.split("#")[0] ?? "";
  const names: Record<string, string> = {
    E: "event",
    I: "idempotency claim",
    R: "hour rollup",
    P: pk.split("#")[1]?.length === 7 ? "month rollup" : "day rollup",
    Q: "quota counter",
    C: "closed-month check",
  };
  return names[prefix] ?? prefix;
}

export async function run(): Promise<void> {
  const b = await startFinanceBench(10);
  try {
    const recorded: Recorded[] = [];
    b.client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        recorded.push({
          command: context.commandName ?? "unknown",
          input: args.input as Record<string, unknown>,
          output: out.output as unknown as Record<string, unknown>,
        });
        return out;
      },
      { step: "initialize", name: "benchCostRecorder" },
    );
    let kmsCalls = 0;
    const derive = b.gw.pseudonyms.derive.bind(b.gw.pseudonyms);
    const seen = new Set<string>();
    // Each label the process has not derived yet is one KMS GenerateMac in AWS.
    const count = (label: string) => {
      if (!seen.has(label)) kmsCalls++;
      seen.add(label);
    };
    Object.assign(b.gw.pseudonyms, {
      derive: (label: string) => {
        count(label);
        return derive(label);
      },
    });
    const scenarios = [
      { name: "read", agreement: "cost-plain", extra: {}, key: false },
      {
        name: "read+quotas+idempotency-key",
        agreement: "cost-quota",
        extra: { quota: { requestsPerDay: 100_000_000, recordsPerMonth: 1_000_000_000 } },
        key: true,
      },
    ];
    for (const s of scenarios) await b.agreement(s.agreement, s.extra);
    const token = await b.consumerToken(scenarios.map((s) => s.agreement));
    let seq = 0;
    const exchange = async (agreement: string, key: boolean) => {
      const t0 = process.hrtime.bigint();
      const res = await b.app.request(`/v1/exchange/${agreement}`, {
        headers: {
          Authorization: `Bearer ${token}`,
          "Data-Purpose": PURPOSE,
          ...(key ? { "Idempotency-Key": `cost-${++seq}` } : {}),
        },
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`exchange: ${res.status}`);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const sizeOf = async (table: string, key: Record<string, Attr>) => {
      const out = await b.client.send(
        new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }),
      );
      return out.Item === undefined ? 0 : itemSize(out.Item);
    };

    for (const s of scenarios) {
      for (let i = 0; i < 10; i++) await exchange(s.agreement, s.key); // warm-up
      kmsCalls = 0;
      const durations: number[] = [];
      for (let i = 0; i < SAMPLES; i++) durations.push(await exchange(s.agreement, s.key));
      const kmsPerExchange = kmsCalls / SAMPLES;
      // One more exchange, recorded and sized item by item.
      recorded.length = 0;
      await exchange(s.agreement, s.key);
      const calls = [...recorded];
      let wcu = 0;
      let rcu = 0;
      const items: { kind: string; op: string; bytes: number; wcu: number }[] = [];
      for (const c of calls) {
        if (c.command === "TransactWriteItemsCommand") {
          for (const t of (c.input.TransactItems ?? []) as TransactWriteItem[]) {
            const [op, body] = Object.entries(t)[0] as [
              string,
              { TableName: string; Key?: Record<string, Attr>; Item?: Record<string, Attr> },
            ];
            const key = body.Key ?? { pk: body.Item?.pk as Attr, sk: body.Item?.sk as Attr };
            const bytes =
              op === "Put" ? itemSize(body.Item ?? {}) : await sizeOf(body.TableName, key);
            const units = 2 * Math.ceil(Math.max(1, bytes) / 1024);
            wcu += units;
            items.push({ kind: kindOf(body.TableName, key.pk?.S ?? ""), op, bytes, wcu: units });
          }
        } else if (c.command === "BatchGetItemCommand") {
          const responses = (c.output?.Responses ?? {}) as Record<string, Record<string, Attr>[]>;
          for (const list of Object.values(responses))
            for (const item of list) rcu += Math.ceil(Math.max(1, itemSize(item)) / 4096);
        } else if (c.command === "GetItemCommand" || c.command === "QueryCommand") {
          rcu += 1;
        } else if (c.command !== "unknown") {
          wcu += 1;
        }
      }
      durations.sort((x, y) => x - y);
      const ms = percentile(durations, 50);
      const memoryGb = FUNCTION_SETTINGS.exchange.memorySize / 1024;
      const perMillion = {
        dynamoWrites: round(wcu * PRICES.dynamoPerMillionWrites, 3),
        dynamoReads: round(rcu * PRICES.dynamoPerMillionReads, 3),
        kms: round(kmsPerExchange * 100 * PRICES.kmsPer10kRequests, 3),
        lambdaCompute: round((ms / 1000) * memoryGb * 1e6 * PRICES.lambdaArmPerGbSecond, 3),
        lambdaRequests: PRICES.lambdaPerMillionRequests,
        httpApi: PRICES.httpApiPerMillion,
      };
      emit({
        bench: "cost",
        scenario: s.name,
        storeCalls: Object.fromEntries(
          [...new Set(calls.map((c) => c.command))].map((n) => [
            n,
            calls.filter((c) => c.command === n).length,
          ]),
        ),
        meteringTransaction: items,
        wcuPerExchange: wcu,
        rcuPerExchange: rcu,
        kmsCallsPerExchange: kmsPerExchange,
        handlerMsMedian: round(ms),
        lambdaMemoryMb: FUNCTION_SETTINGS.exchange.memorySize,
        usdPerMillionExchanges: {
          ...perMillion,
          total: round(
            Object.values(perMillion).reduce((n, v) => n + v, 0),
            2,
          ),
        },
        apiGatewayRestWithUsagePlansUsdPerMillion: PRICES.restApiPerMillion,
        prices: PRICES,
      });
    }
  } finally {
    await b.close();
  }
}
