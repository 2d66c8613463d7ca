/**
 * A gateway served on loopback for transfer tests: DynamoDB Local tables and
 * a bucket of its own on the run's s3rver, URLs presigned against the
 * gateway's own `/local-objects` route (real HTTP, so plain curl can use
 * them), jobs run in this process (InProcessDispatcher), and an ecosystem
 * whose provider serves what a test asks.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { promisify } from "node:util";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { getRequestListener } from "@hono/node-server";
import { test as base } from "vitest";
import { createApp } from "../../functions/app.ts";
import { silentLogger } from "../../functions/log.ts";
import { ensureBucket, localS3Client } from "../../functions/store/objects.ts";
import { ALL_SURFACES } from "../../functions/surfaces/index.ts";
import { InProcessDispatcher } from "../../functions/transfers/dispatch.ts";
import { transferPrefix } from "../../functions/transfers/keys.ts";
import { localObjectsSurface } from "../../functions/transfers/local-urls.ts";
import { S3TransferStorage } from "../../functions/transfers/s3-storage.ts";
import { multipartWrite } from "../../functions/transfers/s3-upload.ts";
import { runTransferJob } from "../../functions/transfers/worker.ts";
import type { Handler } from "../support/backends.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import type { EcosystemOptions } from "../support/fixtures.ts";
import { createTestGateway, s3Endpoint, type TestGateway } from "../support/gateway.ts";

export const PURPOSE = "insurance-pricing";

export interface TransferGateway {
  readonly t: TestGateway;
  readonly base: string;
  readonly storage: S3TransferStorage;
  readonly dispatcher: InProcessDispatcher;
  /** A call to the served gateway over HTTP. */
  http(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  close(): Promise<void>;
}

export async function startTransferGateway(
  overrides: { transferMaxBytes?: number; transferLeaseMs?: number } = {},
): Promise<TransferGateway> {
  let listener:
    | ((req: IncomingMessage, res: import("node:http").ServerResponse) => void)
    | undefined;
  const server: Server = createServer((req, res) => listener?.(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  const s3 = localS3Client(s3Endpoint());
  const bucket = `x-${randomUUID().slice(0, 8)}`;
  await ensureBucket(s3, bucket);
  const storage = new S3TransferStorage(s3, bucket, {
    publicEndpoint: `${base}/local-objects`,
    partSize: 5 * 1024 * 1024,
    write: multipartWrite,
  });
  const dispatcher = new InProcessDispatcher(silentLogger);
  const t = await createTestGateway({
    transferStorage: storage,
    transferDispatcher: dispatcher,
  });
  if (overrides.transferMaxBytes !== undefined)
    Object.assign(t.gw.settings, { transferMaxBytes: overrides.transferMaxBytes });
  if (overrides.transferLeaseMs !== undefined)
    Object.assign(t.gw.settings, { transferLeaseMs: overrides.transferLeaseMs });
  dispatcher.bind((job) => runTransferJob(t.gw, job));
  const app = createApp(t.gw, [
    ...ALL_SURFACES,
    localObjectsSurface(storage, t.gw.clock, t.gw.settings.transferMaxBytes),
  ]);
  listener = getRequestListener((req, env) =>
    app.fetch(req, { rawTarget: (env as { incoming: IncomingMessage }).incoming.url }),
  );
  return {
    t,
    base,
    storage,
    dispatcher,
    http: (method, path, options = {}) =>
      fetch(`${base}${path}`, {
        method,
        headers: {
          ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
          ...(options.body === undefined ? {} : { "Content-Type": "application/json" }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      }),
    close: async () => {
      await dispatcher.idle();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** An ecosystem on the transfer gateway, with tokens for both parties. */
export async function transferFlow(
  g: TransferGateway,
  options: EcosystemOptions & { providerHandler?: Handler } = {},
) {
  const eco: Ecosystem = await createEcosystem(g.t, options);
  const consumerToken = await eco.partnerToken(eco.ids.consumer);
  const providerToken = await eco.partnerToken(eco.ids.provider);
  return { eco, consumerToken, providerToken };
}

/** The transfer once no job runs any more (the dispatcher idle), as the given party sees it. */
export async function settled(
  g: TransferGateway,
  id: string,
  token: string,
): Promise<Record<string, unknown>> {
  await g.dispatcher.idle();
  const res = await g.http("GET", `/v1/transfers/${id}`, {
    token,
    headers: { "Data-Purpose": PURPOSE },
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`GET transfer: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function startRead(
  g: TransferGateway,
  agreement: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return g.http("POST", "/v1/transfers", {
    token,
    body: { agreement },
    headers: { "Data-Purpose": PURPOSE, ...headers },
  });
}

const run = promisify(execFile);

/** `curl` with the arguments given; answers the HTTP status and the body. */
export async function curl(args: readonly string[]): Promise<{ status: number; body: Buffer }> {
  const { stdout } = await run("curl", ["-sS", "-w", "\n%{http_code}", ...args], {
    encoding: "buffer",
    maxBuffer: 256 * 1024 * 1024,
  });
  const cut = stdout.lastIndexOf(0x0a);
  return { status: Number(stdout.subarray(cut + 1).toString()), body: stdout.subarray(0, cut) };
}

/** NDJSON records like the ecosystem's (the core field is not granted, so cut away). */
export function record(i: number, calibration = `CAL-${String(i % 1_000_000).padStart(6, "0")}`) {
  return {
    vin: `VIN-${i}`,
    mileage: i,
    speed: { avg: i % 120, max: 130 },
    engine: { calibration },
    driver: { name: `Driver ${i}`, license: `L-${i}` },
  };
}

/** The keys stored under a transfer's prefix. */
export async function objectsOf(g: TransferGateway, id: string): Promise<string[]> {
  const out = await g.storage.client.send(
    new ListObjectsV2Command({ Bucket: g.storage.bucket, Prefix: transferPrefix(id) }),
  );
  return (out.Contents ?? []).map((o) => o.Key ?? "");
}

export interface FlowTotals {
  readonly agreement: string;
  readonly requests: number;
  readonly records: number;
  readonly blocked: number;
  readonly denied: number;
}

/** The flow's totals as finance reads them (`/metrics/flows`). */
export async function flowTotals(
  g: TransferGateway,
  agreement: string,
): Promise<FlowTotals | undefined> {
  const finance = await g.t.token("finance", ["metrics:read"]);
  const res = await g.t.call("GET", "/metrics/flows?granularity=total", { token: finance });
  const items = ((await res.json()) as { items: FlowTotals[] }).items;
  return items.find((r) => r.agreement === agreement);
}

export type TransferFlow = Awaited<ReturnType<typeof transferFlow>>;

/**
 * The file's transfer gateway (`g`) and one ecosystem on it (`flow`), made
 * for the first test that asks and closed after the file's last test.
 */
export const it = base
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern (none)
  .extend("g", { scope: "file" }, async ({}, { onCleanup }) => {
    const g = await startTransferGateway();
    onCleanup(() => g.close());
    return g;
  })
  .extend("flow", { scope: "file" }, async ({ g }, { onCleanup }) => {
    const flow = await transferFlow(g);
    onCleanup(() => flow.eco.close());
    return flow;
  });
