/**
 * Demo partner backends for the local server: FleetCo's telemetry API (whose
 * records carry core fields, personal data and core markers) and an inbox for
 * consumers. Both check what the gateway sends them the way a real backend
 * should: with the partner SDK's verifyGatewayRequest and verifyGatewayEvent
 * (the gateway's published keys, fetched once and cached).
 */
import { Readable } from "node:stream";
import { verifyGatewayEvent, verifyGatewayRequest } from "@data-sharing-gateway/sdk";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const RECORDS = [
  ["YV1DZ8256C2271234", 182345, 61.2, 131, "CAL-004211", "Anna Berg", "Serviced in Malmö"],
  ["WDB9634031L738210", 402117, 74.8, 118, "CAL-117730", "Jonas Weber", "Tyres replaced"],
  ["VF1RFB00X57218844", 95410, 55.1, 142, "CAL-220918", "Claire Martin", ""],
  ["YS2R4X20005399721", 611032, 68.4, 109, "CAL-004211", "Ola Nordmann", "Night routes"],
] as const;

function telemetry() {
  return RECORDS.map(([vin, mileage, avg, max, calibration, name, notes]) => ({
    vin,
    mileage,
    speed: { avg, max },
    engine: { calibration, temperature: 88 },
    driver: { name, license: `LIC-${vin.slice(-4)}` },
    notes,
    routePlan: "depot-7 > E6 > customer-42",
    // Written into the JSON text below: more digits than a double holds.
    odometerMicros: 0,
  }));
}

/** Records of FleetCo's bulk export (the tour's large transfer): about 25 MB of NDJSON. */
export const BULK_RECORDS = 100_000;

/** The bulk export, generated as it is sent: NDJSON, one vehicle-day per line. */
async function* bulkExport(): AsyncGenerator<string> {
  const base = telemetry();
  let batch = "";
  for (let i = 0; i < BULK_RECORDS; i++) {
    const r = base[i % base.length];
    if (r === undefined) continue;
    const line = {
      ...r,
      vin: `${r.vin.slice(0, 11)}${String(i).padStart(6, "0")}`,
      mileage: r.mileage + i,
      notes: `day ${i % 365}`,
    };
    batch += `${JSON.stringify(line)}\n`;
    if (batch.length >= 64 * 1024) {
      yield batch;
      batch = "";
    }
  }
  if (batch !== "") yield batch;
}

export interface DemoBackend {
  readonly url: string;
  readonly received: unknown[];
  close(): Promise<void>;
}

/** Whether a request carries a gateway JWT for this partner. */
function verifier(partnerId: string, gatewayUrl: string) {
  return async (request: Request): Promise<boolean> =>
    verifyGatewayRequest(request, { gatewayUrl, partnerId }).then(
      () => true,
      () => false,
    );
}

/** Events from the gateway are JWS signed with its published keys, addressed to this partner. */
function eventVerifier(partnerId: string, gatewayUrl: string) {
  return async (jws: string): Promise<unknown> =>
    verifyGatewayEvent(jws, { gatewayUrl, partnerId }).then(
      (event) => event,
      () => undefined,
    );
}

/** POST /gateway-events: keeps verified events, refuses anything else with 401. */
function acceptEvents(
  app: Hono,
  received: unknown[],
  verify: (jws: string) => Promise<unknown>,
): void {
  app.post("/gateway-events", async (c) => {
    const event = await verify(await c.req.text());
    if (event === undefined) return c.json({ error: "not a gateway event for this partner" }, 401);
    received.push({ event });
    return c.body(null, 204);
  });
}

async function listen(app: Hono): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    );
  });
}

/**
 * FleetCo: GET /telemetry (records), /telemetry/{vin}, /telemetry/incidents (a
 * marker in a granted field), /telemetry/bulk (a large NDJSON export, for transfers).
 */
export async function startProviderBackend(
  partnerId: string,
  gatewayUrl: string,
): Promise<DemoBackend> {
  const verify = verifier(partnerId, gatewayUrl);
  const received: unknown[] = [];
  const app = new Hono();
  acceptEvents(app, received, eventVerifier(partnerId, gatewayUrl));
  app.use("*", async (c, next) => {
    if (!(await verify(c.req.raw))) return c.json({ error: "gateway token required" }, 401);
    await next();
  });
  const rawJson = (body: unknown) =>
    // The big odometer value must reach the gateway with all its digits.
    JSON.stringify(body).replace(
      /"odometerMicros":[0-9e+.]+/g,
      '"odometerMicros":18234500000000000001',
    );
  app.get("/telemetry", (c) =>
    c.body(rawJson({ items: telemetry(), next: null }), 200, {
      "Content-Type": "application/json",
    }),
  );
  app.get("/telemetry/incidents", (c) =>
    c.json({
      items: [
        { vin: "YV1DZ8256C2271234", mileage: 182345, notes: "calibration CAL-004211 drifted" },
      ],
    }),
  );
  app.get("/telemetry/bulk", (c) =>
    c.body(Readable.toWeb(Readable.from(bulkExport())) as ReadableStream, 200, {
      "Content-Type": "application/x-ndjson",
    }),
  );
  app.get("/telemetry/:vin", (c) => {
    const record = telemetry().find((r) => r.vin === c.req.param("vin"));
    return record === undefined
      ? c.json({ error: "no such vehicle" }, 404)
      : c.body(rawJson({ items: [record] }), 200, { "Content-Type": "application/json" });
  });
  const { url, close } = await listen(app);
  return { url, received, close };
}

/** A consumer's inbox: accepts deliveries at any path and gateway events at /gateway-events. */
export async function startConsumerBackend(
  partnerId: string,
  gatewayUrl: string,
): Promise<DemoBackend> {
  const verify = verifier(partnerId, gatewayUrl);
  const received: unknown[] = [];
  const app = new Hono();
  acceptEvents(app, received, eventVerifier(partnerId, gatewayUrl));
  app.post("*", async (c) => {
    if (!(await verify(c.req.raw))) return c.json({ error: "gateway token required" }, 401);
    received.push({ path: new URL(c.req.url).pathname, body: await c.req.text() });
    return c.json({ accepted: true });
  });
  app.get("/inbox", (c) => c.json({ items: received }));
  const { url, close } = await listen(app);
  return { url, received, close };
}
