/**
 * Metering under store faults. A real DynamoDBClient pointed at DynamoDB
 * Local, whose request handler is wrapped so that a call can land and then
 * fail, or be answered with a throttling or cancellation error: the SDK's own
 * retry middleware runs as it would in AWS. aws-sdk-client-mock covers the
 * faults where no real call is needed (persistent denials, missing tables,
 * failing reads). Every faulty gateway shares the tables and keys of a healthy
 * one, through which the counts are read back.
 */
import { Readable } from "node:stream";
import {
  BatchGetItemCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  InternalServerError,
  ResourceNotFoundException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../functions/log.ts";
import type { Agreement } from "../../policies/model.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, dynamoEndpoint, type TestGateway } from "../support/gateway.ts";
import { avoidWindowEdges, flowRowsOf, forwardingClient, problem, reconcile } from "./support.ts";

let base: TestGateway;
const ecosystems: Ecosystem[] = [];

beforeAll(async () => {
  base = await createTestGateway();
  avoidWindowEdges(base);
});
afterAll(async () => {
  for (const e of ecosystems) await e.close();
});

async function ecosystem(options: Parameters<typeof createEcosystem>[1] = {}) {
  const e = await createEcosystem(base, options);
  ecosystems.push(e);
  return e;
}

/** A gateway on the shared tables and keys, talking to the store through `client`. */
function gatewayWith(client: DynamoDBClient): Promise<TestGateway> {
  return createTestGateway({ client, tables: base.gw.db.tables, keys: base.gw.keys }).then((g) => {
    g.clock.offsetMs = base.clock.offsetMs;
    return g;
  });
}

const read = (g: TestGateway, e: Ecosystem, token: string, headers: Record<string, string> = {}) =>
  g.call("GET", `/v1/exchange/${e.agreement}`, {
    token,
    headers: { "Data-Purpose": "insurance-pricing", ...headers },
  });

const deliver = (g: TestGateway, e: Ecosystem, token: string) =>
  g.call("POST", `/v1/exchange/${e.agreement}`, {
    token,
    body: { items: RECORDS },
    headers: { "Data-Purpose": "insurance-pricing" },
  });

/** Released exchanges of the agreement, as finance sees them (through the healthy gateway). */
async function counted(e: Ecosystem): Promise<number> {
  return (await flowRowsOf(base, e.agreement)).reduce((n, r) => n + r.requests, 0);
}

// ------------------------------------------------------------ a real client with faults

type TransactItems = { Put?: { Item?: Record<string, { S?: string }> } }[];

interface Call {
  readonly op: string;
  readonly token: string | undefined;
  readonly metering: boolean;
  /** Items in a transaction. */
  readonly items: number;
}

type Fault =
  | { readonly kind: "land-then-reset" }
  | { readonly kind: "reset-and-hold" }
  | { readonly kind: "answer"; readonly status: number; readonly body: Record<string, unknown> };

interface HttpLike {
  headers: Record<string, string>;
  body?: unknown;
}
type Handle = (request: HttpLike, options?: unknown) => Promise<{ response: unknown }>;

/**
 * A real client whose HTTP handler consults `decide` for each call: pass it
 * on, pass it on and then fail as a reset connection would (the write
 * landed), fail without passing it on but keep it to be sent later (a write
 * still in flight when the SDK gave up), or answer with an error of DynamoDB's.
 */
function faultyClient(decide: (call: Call, index: number) => Fault | undefined, maxAttempts = 4) {
  const client = new DynamoDBClient({
    endpoint: dynamoEndpoint(),
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts,
  });
  const handler = client.config.requestHandler as unknown as { handle: Handle };
  const inner: Handle = handler.handle.bind(handler);
  const calls: Call[] = [];
  const held: HttpLike[] = [];
  handler.handle = async (request, options) => {
    const op = (request.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
    const input = JSON.parse(bodyText(request.body)) as {
      ClientRequestToken?: string;
      TransactItems?: TransactItems;
    };
    const metering =
      op === "TransactWriteItems" &&
      (input.TransactItems ?? []).some((i) => i.Put?.Item?.state?.S === "metered");
    const call = {
      op,
      token: input.ClientRequestToken,
      metering,
      items: input.TransactItems?.length ?? 0,
    };
    calls.push(call);
    const fault = decide(call, calls.filter((c) => c.metering).length - 1);
    if (fault?.kind === "answer") {
      return {
        response: {
          statusCode: fault.status,
          headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "fault" },
          body: Readable.from([Buffer.from(JSON.stringify(fault.body))]),
        },
      };
    }
    if (fault?.kind === "reset-and-hold") {
      held.push(request);
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    }
    const out = await inner(request, options);
    if (fault?.kind === "land-then-reset") {
      (out.response as { body?: Readable }).body?.resume();
      throw Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    }
    return out;
  };
  /** Sends the held requests now, as a late delivery of them to DynamoDB would. */
  const release = async () => {
    const statuses: number[] = [];
    for (const r of held.splice(0)) {
      const out = await inner(r);
      const res = out.response as { statusCode: number; body?: Readable };
      res.body?.resume();
      statuses.push(res.statusCode);
    }
    return statuses;
  };
  return { client, calls, release };
}

const meteringCalls = (calls: readonly Call[]) => calls.filter((c) => c.metering);

/** The JSON text of a serialized request (a string or bytes). */
function bodyText(body: unknown): string {
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString("utf8");
  return "{}";
}

const dynamoError = (type: string, message: string, extra: Record<string, unknown> = {}) => ({
  __type: `com.amazonaws.dynamodb.v20120810#${type}`,
  message,
  ...extra,
});

describe("a metering write that lands and then times out", () => {
  it("is retried by the SDK with the same ClientRequestToken and counted once; the exchange is released once", async () => {
    const e = await ecosystem();
    const { client, calls } = faultyClient((c, i) =>
      c.metering && i === 0 ? { kind: "land-then-reset" } : undefined,
    );
    const g = await gatewayWith(client);
    const res = await read(g, e, await e.partnerToken(e.ids.consumer));
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Records")).toBe("2");
    const writes = meteringCalls(calls);
    expect(writes).toHaveLength(2);
    expect(writes[0]?.token).toBeDefined();
    expect(writes[1]?.token).toBe(writes[0]?.token);
    expect(e.provider.received).toHaveLength(1);
    expect(await counted(e)).toBe(1);
    expect(await reconcile(base)).toMatchObject({ consistent: true });
  });

  it("when every SDK attempt lands and times out: 503, nothing released, and the landed write taken back", async () => {
    const e = await ecosystem();
    const { client, calls } = faultyClient((c) =>
      c.metering ? { kind: "land-then-reset" } : undefined,
    );
    const g = await gatewayWith(client);
    const res = await read(g, e, await e.partnerToken(e.ids.consumer));
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(body).toContain("metering_unavailable");
    expect(body).not.toContain("VIN-");
    expect(meteringCalls(calls).length).toBeGreaterThanOrEqual(2);
    expect(new Set(meteringCalls(calls).map((c) => c.token)).size).toBe(1);
    expect(await counted(e)).toBe(0);
    expect(await reconcile(base)).toMatchObject({ consistent: true });
  });

  it("when the write is still in flight as the SDK gives up, a late commit cannot count", async () => {
    const e = await ecosystem();
    const { client, release } = faultyClient(
      (c) => (c.metering ? { kind: "reset-and-hold" } : undefined),
      1,
    );
    const g = await gatewayWith(client);
    const res = await read(g, e, await e.partnerToken(e.ids.consumer));
    expect(res.status).toBe(503);
    // DynamoDB now receives the write that was in flight: it must not commit.
    expect(await release()).toEqual([400]);
    expect(await counted(e)).toBe(0);
    expect(await reconcile(base)).toMatchObject({ consistent: true });
  });
});

describe("a throttled metering write", () => {
  it("is retried by the SDK and counted once (ProvisionedThroughputExceeded, then Throttling)", async () => {
    const e = await ecosystem();
    const { client, calls } = faultyClient((c, i) => {
      if (!c.metering) return undefined;
      if (i === 0)
        return {
          kind: "answer",
          status: 400,
          body: dynamoError("ProvisionedThroughputExceededException", "throughput exceeded"),
        };
      if (i === 2)
        return {
          kind: "answer",
          status: 400,
          body: {
            __type: "com.amazon.coral.availability#ThrottlingException",
            message: "Rate of requests exceeds the allowed throughput.",
          },
        };
      return undefined;
    });
    const g = await gatewayWith(client);
    const token = await e.partnerToken(e.ids.consumer);
    expect((await read(g, e, token)).status).toBe(200);
    expect((await read(g, e, token)).status).toBe(200);
    const writes = meteringCalls(calls);
    expect(writes).toHaveLength(4);
    expect(writes[1]?.token).toBe(writes[0]?.token);
    expect(writes[3]?.token).toBe(writes[2]?.token);
    expect(await counted(e)).toBe(2);
  });
});

describe("a transaction conflict", () => {
  /** DynamoDB's answer when another transaction holds the last item of this one. */
  const conflict = (items: number): Fault => ({
    kind: "answer",
    status: 400,
    body: dynamoError(
      "TransactionCanceledException",
      "Transaction cancelled, please refer cancellation reasons for specific reasons",
      {
        CancellationReasons: Array.from({ length: items }, (_, i) =>
          i === items - 1 ? { Code: "TransactionConflict" } : { Code: "None" },
        ),
      },
    ),
  });

  it("is retried by the meter in a new round (new token) and counted once", async () => {
    const e = await ecosystem({ agreement: { quota: { requestsPerDay: 5 } } });
    const { client, calls } = faultyClient((c, i) =>
      c.metering && i < 2 ? conflict(c.items) : undefined,
    );
    const g = await gatewayWith(client);
    expect((await read(g, e, await e.partnerToken(e.ids.consumer))).status).toBe(200);
    const writes = meteringCalls(calls);
    expect(writes).toHaveLength(3);
    expect(new Set(writes.map((w) => w.token)).size).toBe(3);
    expect(await counted(e)).toBe(1);
    expect(await reconcile(base)).toMatchObject({ consistent: true });
  });

  it("that never ends: 503, nothing released, nothing counted", async () => {
    const e = await ecosystem();
    const { client } = faultyClient((c) => (c.metering ? conflict(c.items) : undefined));
    const g = await gatewayWith(client);
    const res = await read(g, e, await e.partnerToken(e.ids.consumer));
    expect(res.status).toBe(503);
    expect(await problem(res)).toMatchObject({ code: "metering_unavailable" });
    expect(await counted(e)).toBe(0);
  });
});

// ------------------------------------------------------------ persistent faults (mocked)

/** A mocked client that forwards every call to DynamoDB Local until told otherwise. */
const mockedClient = () => forwardingClient();

const accessDenied = () =>
  new DynamoDBServiceException({
    name: "AccessDeniedException",
    $fault: "client",
    message: "User is not authorized to perform: dynamodb:UpdateItem",
    $metadata: { httpStatusCode: 400 },
  });

describe("persistent store faults on the metering write", () => {
  it("throttling that never ends: the SDK retries, then 503 and nothing released or counted", async () => {
    const e = await ecosystem();
    const { client, calls } = faultyClient(
      (c) =>
        c.metering
          ? {
              kind: "answer",
              status: 400,
              body: dynamoError("ProvisionedThroughputExceededException", "throughput exceeded"),
            }
          : undefined,
      2,
    );
    const g = await gatewayWith(client);
    const res = await read(g, e, await e.partnerToken(e.ids.consumer));
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    const body = await res.text();
    expect(body).toContain("metering_unavailable");
    expect(body).not.toContain("VIN-");
    expect(meteringCalls(calls)).toHaveLength(2);
    // The upstream answered; the caller got none of it.
    expect(e.provider.received).toHaveLength(1);
    expect(await counted(e)).toBe(0);
  });

  for (const [name, error] of [
    ["access denied", accessDenied],
    [
      "a missing table",
      () =>
        new ResourceNotFoundException({
          message: "Requested resource not found",
          $metadata: { httpStatusCode: 400 },
        }),
    ],
  ] as const) {
    it(`${name}: a read releases nothing, a deliver sends nothing, 503 metering_unavailable`, async () => {
      const e = await ecosystem();
      const { client, mock } = mockedClient();
      const g = await gatewayWith(client);
      mock.on(TransactWriteItemsCommand).rejects(error());
      const r = await read(g, e, await e.partnerToken(e.ids.consumer));
      expect(r.status).toBe(503);
      const text = await r.text();
      expect(text).toContain("metering_unavailable");
      expect(text).not.toContain("VIN-");
      expect(e.provider.received).toHaveLength(1);
      const d = await deliver(g, e, await e.partnerToken(e.ids.provider));
      expect(d.status).toBe(503);
      expect(await problem(d)).toMatchObject({ code: "metering_unavailable" });
      expect(e.consumer.received).toHaveLength(0);
      expect(await counted(e)).toBe(0);
      mock.restore();
    });
  }
});

describe("a refusal the store cannot count", () => {
  it("still stands, and writes one refusal_uncounted line", async () => {
    const e = await ecosystem();
    const { client, mock } = mockedClient();
    const lines: Record<string, unknown>[] = [];
    const g = await createTestGateway({
      client,
      tables: base.gw.db.tables,
      keys: base.gw.keys,
      log: createLogger({ write: (l) => lines.push(JSON.parse(l)) }),
    });
    g.clock.offsetMs = base.clock.offsetMs;
    const token = await e.partnerToken(e.ids.consumer);
    // A refusal is counted in one transaction (its hour, day and month).
    mock.on(TransactWriteItemsCommand).rejects(accessDenied());
    const res = await read(g, e, token, { "Data-Purpose": "marketing" });
    mock.restore();
    expect(res.status).toBe(403);
    expect(await problem(res)).toMatchObject({ code: "purpose_not_permitted" });
    expect(e.provider.received).toHaveLength(0);
    expect(lines.filter((l) => l.code === "refusal_uncounted")).toEqual([
      expect.objectContaining({ level: "warn", agreement: e.agreement, kind: "denied" }),
    ]);
  });
});

describe("store faults on the state read", () => {
  it("a failing state read is a 503, never an allow, and the provider is not called", async () => {
    const e = await ecosystem();
    const { client, mock } = mockedClient();
    const g = await gatewayWith(client);
    const token = await e.partnerToken(e.ids.consumer);
    mock
      .on(BatchGetItemCommand)
      .rejects(
        new InternalServerError({ message: "internal", $metadata: { httpStatusCode: 500 } }),
      );
    mock.on(GetItemCommand).rejects(accessDenied());
    const res = await read(g, e, token);
    expect(res.status).toBe(503);
    expect(await problem(res)).toMatchObject({ code: "metering_unavailable" });
    expect(e.provider.received).toHaveLength(0);
    expect(await counted(e)).toBe(0);
    mock.restore();
  });

  it("a failing state read for an Idempotency-Key retry is a 503, never the kept body", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    expect((await read(base, e, token, { "Idempotency-Key": "k-1" })).status).toBe(200);
    const { client, mock } = mockedClient();
    const g = await gatewayWith(client);
    // The retry's one read (state and claim together) fails: no fresh status, no answer.
    mock
      .on(BatchGetItemCommand)
      .rejects(
        new InternalServerError({ message: "internal", $metadata: { httpStatusCode: 500 } }),
      );
    const res = await read(g, e, token, { "Idempotency-Key": "k-1" });
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain("VIN-");
    expect(await counted(e)).toBe(1);
    mock.restore();
  });
});

describe("the meter itself", () => {
  it("checks a partner once when it is both provider and consumer (one item per transaction)", async () => {
    const e = await ecosystem();
    const stored = await base.gw.registry.getAgreement(e.agreement);
    const agreement = stored?.value as Agreement;
    const outcome = await base.gw.meter.meter({
      agreement: { ...agreement, consumer: agreement.provider },
      action: "read",
      requestKey: "self-flow",
      records: 1,
      bytes: 10,
      now: new Date(Date.now() + base.clock.offsetMs),
    });
    expect(outcome.kind).toBe("metered");
  });

  it("keys an Idempotency-Key claim by action and request fingerprint", async () => {
    const e = await ecosystem();
    const agreement = (await base.gw.registry.getAgreement(e.agreement))?.value as Agreement;
    const meter = (fingerprint: string, action: "read" | "deliver" = "read") =>
      base.gw.meter.meter({
        agreement,
        action,
        requestKey: `r-${fingerprint}-${action}`,
        idempotencyKey: "same-key",
        fingerprint,
        records: 1,
        bytes: 10,
        now: new Date(Date.now() + base.clock.offsetMs),
      });
    expect((await meter("GET /a")).kind).toBe("metered");
    expect((await meter("GET /a")).kind).toBe("duplicate");
    expect((await meter("GET /b")).kind).toBe("metered");
    expect((await meter("GET /a", "deliver")).kind).toBe("metered");
    expect(await counted(e)).toBe(3);
  });
});
