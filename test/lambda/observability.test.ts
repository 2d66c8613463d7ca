/**
 * Observability of the bundled functions (as deployed, in workers with the
 * template's environment): W3C traceparent from the caller to the partner
 * backend (a new span of the gateway's, nothing else of the caller's), every
 * log line of a request with its trace id and the Lambda request id and
 * cold-start flag (Powertools Logger), and per-flow business figures as EMF
 * (Powertools Metrics).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newClientSecret } from "../../functions/auth/secrets.ts";
import { json, startBackend, type TestBackend } from "../support/backends.ts";
import { agreementInput, datasetInput, RECORDS } from "../support/ecosystem.ts";
import { deployLocally, type LocalDeployment } from "./deployment.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const AGREEMENT = "ob-agr";

let d: LocalDeployment;
let provider: TestBackend;
let token: string;

type Line = Record<string, unknown>;
const parse = (lines: string[]): Line[] =>
  lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });

beforeAll(async () => {
  d = await deployLocally({ stage: "dev" }, { only: ["token", "exchange"], logLevel: "info" });
  provider = await startBackend((req, res) =>
    json(
      { items: req.url.includes("leak") ? [{ vin: "CAL-123456" }] : RECORDS },
      // Part of an answer: nothing the gateway may release.
      req.url.includes("partial") ? 206 : 200,
    )(req, res),
  );
  // The ecosystem, written in-process (the operators' routes are proven elsewhere).
  const { store } = d;
  const at = new Date().toISOString();
  const partner = (id: string, jurisdiction: string) => ({
    id,
    name: id,
    jurisdiction,
    baseUrl: provider.url,
    status: "active" as const,
    createdAt: at,
    updatedAt: at,
  });
  const secret = newClientSecret();
  await store.db.transact(
    [
      ...store.registry.partnerOps(partner("ob-fleet", "SE"), null),
      ...store.registry.partnerOps(partner("ob-insure", "DE"), null),
      ...store.credentials.clientOps(
        {
          id: "ob-insure",
          role: "partner",
          secretHash: await store.secrets.hash(secret),
          createdAt: at,
          updatedAt: at,
        },
        null,
      ),
    ],
    "seed",
  );
  await store.db.transact(
    store.registry.datasetOps(
      {
        ...(datasetInput("ob-ds", "ob-fleet") as Record<string, unknown>),
        version: 1,
        createdAt: at,
        updatedAt: at,
      } as never,
      null,
    ),
    "seed",
  );
  await store.db.transact(
    store.registry.agreementOps(
      {
        ...(agreementInput(AGREEMENT, "ob-fleet", "ob-insure", "ob-ds") as Record<string, unknown>),
        valueShares: [{ partner: "ob-fleet", bps: 10_000 }],
        status: "active",
        version: 1,
        createdAt: at,
        updatedAt: at,
      } as never,
      null,
      false,
    ),
    "seed",
  );
  const res = await d.request("POST", "/oauth/token", {
    headers: {
      authorization: `Basic ${Buffer.from(`ob-insure:${secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: `grant_type=client_credentials&scope=agreement%3A${AGREEMENT}`,
  });
  expect(res.statusCode, res.body).toBe(200);
  token = (res.json as { access_token: string }).access_token;
}, 180_000);

afterAll(async () => {
  await provider?.close();
  await d?.close();
});

const read = (headers: Record<string, string>, path = "") =>
  d.request("GET", `/v1/exchange/${AGREEMENT}${path}`, {
    headers: { authorization: `Bearer ${token}`, "data-purpose": "insurance-pricing", ...headers },
  });

describe("traceparent to partner backends", () => {
  it("continues the caller's trace with the gateway's own span, and nothing else of the caller's", async () => {
    provider.received.length = 0;
    const res = await read({
      traceparent: `00-${TRACE}-${CALLER_SPAN}-01`,
      tracestate: "vendor=secret",
      baggage: "user=alice",
      "x-partner-internal": "do-not-forward",
    });
    expect(res.statusCode, res.body).toBe(200);
    const sent = provider.received.at(-1)?.headers ?? {};
    const [version, traceId, parentId, flags] = String(sent.traceparent).split("-");
    expect({ version, traceId, flags }).toEqual({ version: "00", traceId: TRACE, flags: "01" });
    expect(parentId).toMatch(/^[0-9a-f]{16}$/);
    expect(parentId).not.toBe(CALLER_SPAN);
    expect(sent.tracestate).toBeUndefined();
    expect(sent.baggage).toBeUndefined();
    expect(sent["x-partner-internal"]).toBeUndefined();
  });

  it("starts a new trace when the caller's traceparent is invalid or missing", async () => {
    const cases: Record<string, string>[] = [
      { traceparent: `00-${"0".repeat(32)}-${CALLER_SPAN}-01` },
      {},
    ];
    for (const headers of cases) {
      provider.received.length = 0;
      expect((await read(headers)).statusCode).toBe(200);
      const sent = String(provider.received.at(-1)?.headers.traceparent);
      expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(sent).not.toContain("0".repeat(32));
    }
  });
});

describe("logs and figures (Powertools)", () => {
  it("every line of a request carries its trace id, request id, Lambda request id and cold start", async () => {
    await d.functions.exchange?.takeLogs();
    const res = await read({ traceparent: `00-${TRACE}-${CALLER_SPAN}-01` }, "/leak");
    expect(res.statusCode).toBe(502);
    const raw = (await d.functions.exchange?.takeLogs()) ?? [];
    const lines = parse(raw).filter((l) => "code" in l);
    expect(lines.map((l) => l.code)).toEqual(expect.arrayContaining(["leak_blocked"]));
    for (const line of lines) {
      expect(line).toMatchObject({
        traceId: TRACE,
        requestId: res.headers["x-request-id"],
        function_request_id: expect.stringMatching(/^exchange-/),
        cold_start: expect.any(Boolean),
        service: "gateway-exchange",
        message: line.code,
      });
    }
  });

  it("publishes the flow's figures as EMF: released, records, bytes and value, per flow", async () => {
    await d.functions.exchange?.takeLogs();
    expect((await read({})).statusCode).toBe(200);
    const raw = (await d.functions.exchange?.takeLogs()) ?? [];
    const emf = parse(raw).find((l) => "_aws" in l);
    expect(emf).toMatchObject({
      flow: AGREEMENT,
      service: "gateway-exchange",
      Released: 1,
      Records: RECORDS.length,
      Bytes: expect.any(Number),
      Value: expect.any(Number),
      currency: "EUR",
      _aws: {
        CloudWatchMetrics: [
          expect.objectContaining({
            Namespace: "DataSharingGateway/dev",
            Dimensions: [expect.arrayContaining(["service", "flow"])],
          }),
        ],
      },
    });
  });

  it("a read's replay is not released twice; refusals are figures of their kind (Failed, Blocked)", async () => {
    const figures = async () =>
      parse((await d.functions.exchange?.takeLogs()) ?? []).filter((l) => "_aws" in l);
    await d.functions.exchange?.takeLogs();
    const key = { "idempotency-key": "ob-replay-1" };
    const first = await read(key, "/daily");
    expect(first.statusCode, first.body).toBe(200);
    expect(await figures()).toEqual([expect.objectContaining({ flow: AGREEMENT, Released: 1 })]);
    const again = await read(key, "/daily");
    expect(again.body).toBe(first.body);
    // Answered from what was kept: metered once, so figured once.
    expect(await figures()).toEqual([]);

    expect((await read({}, "/partial")).statusCode).toBe(502);
    const failed = await figures();
    expect(failed).toEqual([expect.objectContaining({ flow: AGREEMENT, Failed: 1 })]);
    expect(failed[0]).not.toHaveProperty("Released");
    expect((await read({}, "/leak")).statusCode).toBe(502);
    expect(await figures()).toEqual([expect.objectContaining({ flow: AGREEMENT, Blocked: 1 })]);
  });
});
