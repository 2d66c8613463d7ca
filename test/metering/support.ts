/**
 * Helpers shared by the metering tests: finance's views through the public
 * API, a window around "now" on the gateway's clock, bounded concurrency,
 * and a mocked client for fault branches.
 */
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { expect } from "vitest";
import { localDynamoClient } from "../../functions/local/server.ts";
import type { Handler } from "../support/backends.ts";
import { test } from "../support/fixtures.ts";
import { createTestGateway, dynamoEndpoint, type TestGateway } from "../support/gateway.ts";

export interface Row {
  agreement?: string;
  provider?: string;
  consumer?: string;
  dataset?: string;
  period: string;
  requests: number;
  denied: number;
  blocked: number;
  failed: number;
  records: number;
  bytes: number;
  value: { currency: string; amount: number };
}

export interface Reconciliation {
  consistent: boolean;
  events: number;
  flows: number;
  differences: unknown[];
}

/** The gateway's "now" (its clock may be shifted by the test). */
export const gatewayNow = (t: TestGateway): Date => new Date(Date.now() + t.clock.offsetMs);

/** A window of whole hours around the gateway's now: two hours back, two ahead. */
export function windowAround(t: TestGateway): { from: string; to: string } {
  const now = gatewayNow(t).getTime();
  const hour = 3_600_000;
  const start = Math.floor(now / hour) * hour - 2 * hour;
  return {
    from: new Date(start).toISOString(),
    to: new Date(start + 5 * hour).toISOString(),
  };
}

export async function financeToken(t: TestGateway): Promise<string> {
  return t.token("finance", ["metrics:read"]);
}

export async function getJson<T>(
  t: TestGateway,
  path: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await t.call("GET", path, { token, headers });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Finance's rows for the window around now. */
export async function flows(
  t: TestGateway,
  params: Record<string, string> = {},
  window = windowAround(t),
): Promise<Row[]> {
  const q = new URLSearchParams({ ...window, granularity: "total", ...params });
  const body = await getJson<{ items: Row[] }>(t, `/metrics/flows?${q}`, await financeToken(t));
  return body.items;
}

/** The rows of one agreement (one per currency), from finance's total. */
export async function flowRowsOf(
  t: TestGateway,
  agreement: string,
  window = windowAround(t),
): Promise<Row[]> {
  return (await flows(t, {}, window)).filter((r) => r.agreement === agreement);
}

export async function reconcile(t: TestGateway): Promise<Reconciliation> {
  const q = new URLSearchParams(windowAround(t));
  return getJson<Reconciliation>(t, `/metrics/reconcile?${q}`, await financeToken(t));
}

/** Runs `n` tasks with at most `width` in flight; results in task order. */
export async function pool<T>(
  n: number,
  width: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
  return out;
}

/**
 * A provider answering `?n=<k>` with k records (default 2); `?marker=1` puts a
 * core marker (the ecosystem dataset's `CAL-[0-9]{6}`) into a granted field.
 */
export const recordsHandler =
  (fallback = 2): Handler =>
  (req, res) => {
    const query = new URL(req.url, "http://x").searchParams;
    const n = Number(query.get("n") ?? fallback);
    const marker = query.get("marker") === "1";
    const items = Array.from({ length: n }, (_, i) => ({
      vin: marker ? "CAL-123456" : `VIN-${i}`,
      mileage: 1000 + i,
      speed: { avg: 50 },
    }));
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ items }));
  };

/** Seconds from `t` to the next UTC midnight, rounded up (a Retry-After). */
export const secondsToNextDay = (t: number): number => {
  const d = new Date(t);
  return Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - t) / 1000);
};

export const secondsToNextMonth = (t: number): number => {
  const d = new Date(t);
  return Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - t) / 1000);
};

/**
 * Keeps a test's quota windows whole: if the gateway's clock is within ten
 * minutes of the end of a UTC day (so, too, of a month), it is moved past it.
 */
export function avoidWindowEdges(t: TestGateway): void {
  const now = gatewayNow(t).getTime();
  const margin = 10 * 60_000;
  const toDay = secondsToNextDay(now) * 1000;
  if (toDay < margin) t.clock.offsetMs += toDay + margin;
}

export async function problem(res: Response): Promise<{ code: string; status: number }> {
  expect(res.headers.get("Content-Type") ?? "").toContain("application/problem+json");
  return (await res.json()) as { code: string; status: number };
}

/** The fixtures (test/support/fixtures.ts), with a gateway whose quota windows stay whole. */
export const meteringTest = test.extend("t", { scope: "file" }, async () => {
  const t = await createTestGateway();
  avoidWindowEdges(t);
  return t;
});

const FORWARDED = [
  GetItemCommand,
  BatchGetItemCommand,
  QueryCommand,
  ScanCommand,
  PutItemCommand,
  UpdateItemCommand,
  DeleteItemCommand,
  BatchWriteItemCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
] as const;

/**
 * A client mocked with aws-sdk-client-mock (for fault branches only) that
 * forwards every call to DynamoDB Local, unless `intercept` answers it
 * (a promise) or the test sets another behaviour on `mock`.
 */
export function forwardingClient(
  intercept: (
    command: string,
    input: Record<string, unknown>,
  ) => Promise<unknown> | undefined = () => undefined,
) {
  const real = localDynamoClient(dynamoEndpoint());
  const client = new DynamoDBClient({
    endpoint: dynamoEndpoint(),
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const mock = mockClient(client);
  for (const Command of FORWARDED) {
    // biome-ignore lint/suspicious/noExplicitAny: each command class takes its own input type
    mock.on(Command as any).callsFake((input: any) => {
      // biome-ignore lint/suspicious/noExplicitAny: as above
      return intercept(Command.name, input) ?? real.send(new (Command as any)(input));
    });
  }
  return { client, mock };
}
