/**
 * Uploads (the deliver direction) end to end over real HTTP: the provider
 * asks for an upload, PUTs the body with plain curl to the presigned URL,
 * completes it; the job reads the object back through the guard, meters it
 * and the consumer pulls the cut body and hears `transfer.ready`. Also the
 * SDK's transfer methods against the same gateway, and the size cap.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { GatewayClient } from "@data-sharing-gateway/sdk";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { processOutbox } from "../../functions/events/deliver.ts";
import { bodyKey } from "../../functions/transfers/keys.ts";
import { json } from "../support/backends.ts";
import {
  curl,
  it,
  objectsOf,
  PURPOSE,
  record,
  settled,
  startRead,
  type TransferFlow,
  type TransferGateway,
} from "./support.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dsg-upload-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Upload {
  id: string;
  state: string;
  direction: string;
  uploadUrl: string;
  expiresAt: string;
  headers: Record<string, string>;
}

async function openUpload(
  g: TransferGateway,
  flow: TransferFlow,
  body: Record<string, unknown>,
): Promise<Upload> {
  const res = await g.http("POST", "/v1/uploads", {
    token: flow.providerToken,
    body: { agreement: flow.eco.agreement, ...body },
    headers: { "Data-Purpose": PURPOSE },
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Upload;
}

const complete = (g: TransferGateway, flow: TransferFlow, id: string) =>
  g.http("POST", `/v1/transfers/${id}/complete`, {
    token: flow.providerToken,
    headers: { "Data-Purpose": PURPOSE },
  });

async function put(upload: Upload, file: string, extra: string[] = []) {
  const headers = Object.entries(upload.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
  return curl(["-X", "PUT", "-T", file, ...headers, ...extra, upload.uploadUrl]);
}

describe("uploads", () => {
  it("takes a body PUT with curl, cuts and meters it, and tells the consumer", async ({
    g,
    flow,
  }) => {
    const upload = await openUpload(g, flow, { contentType: "application/x-ndjson" });
    expect(upload).toMatchObject({ direction: "deliver", state: "awaiting_upload" });
    expect(Date.parse(upload.expiresAt)).toBeGreaterThan(Date.now());
    const early = await complete(g, flow, upload.id);
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ code: "invalid_transition" });

    const file = join(dir, "body.ndjson");
    const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify(record(i))).join("\n");
    await writeFile(file, `${lines}\n`);
    const wrongType = await put(upload, file, ["-H", "Content-Type: text/csv"]);
    expect(wrongType.status).toBe(403);
    const sent = await put(upload, file);
    expect(sent.status).toBe(200);
    const done = await complete(g, flow, upload.id);
    expect(done.status).toBe(202);
    expect(await done.json()).toMatchObject({ id: upload.id, state: "running" });

    const ready = await settled(g, upload.id, flow.consumerToken);
    expect(ready).toMatchObject({ state: "ready", records: 1000, direction: "deliver" });
    // What is kept is the cut body only: the upload as sent is gone.
    expect(await objectsOf(g, upload.id)).toEqual([bodyKey(upload.id, 1)]);
    const body = (await curl([String(ready.url)])).body.toString();
    expect(body.split("\n").filter((l) => l !== "")).toHaveLength(1000);
    expect(body).not.toContain("CAL-");

    flow.eco.consumer.handler = json({});
    await processOutbox(g.t.gw);
    const events = flow.eco.consumer.received
      .filter((r) => r.url === "/gateway-events")
      .map((r) => decodeJwt(r.body) as { event: { type: string; subject: { id: string } } });
    expect(events.map((e) => [e.event.type, e.event.subject.id])).toContainEqual([
      "transfer.ready",
      upload.id,
    ]);
  });

  it("reads a gzip upload, and blocks a leaking one", async ({ g, flow }) => {
    const upload = await openUpload(g, flow, {
      contentType: "application/json",
      contentEncoding: "gzip",
    });
    const file = join(dir, "body.json.gz");
    await writeFile(file, gzipSync(JSON.stringify({ items: [record(1), record(2)] })));
    expect((await put(upload, file)).status).toBe(200);
    expect((await complete(g, flow, upload.id)).status).toBe(202);
    expect(await settled(g, upload.id, flow.consumerToken)).toMatchObject({
      state: "ready",
      records: 2,
    });

    const leaking = await openUpload(g, flow, { contentType: "text/csv" });
    const csv = join(dir, "leak.csv");
    await writeFile(csv, "vin,mileage\r\nV1,1\r\nCAL-123456,2\r\n");
    expect((await put(leaking, csv)).status).toBe(200);
    expect((await complete(g, flow, leaking.id)).status).toBe(202);
    expect(await settled(g, leaking.id, flow.consumerToken)).toMatchObject({
      state: "blocked",
      code: "leak_blocked",
    });
  });

  it("ends a body over TRANSFER_MAX_BYTES as failed payload_too_large", async ({ g, flow }) => {
    flow.eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      res.end(`${JSON.stringify(record(1))}\n`.repeat(100));
    };
    const cap = g.t.gw.settings.transferMaxBytes;
    Object.assign(g.t.gw.settings, { transferMaxBytes: 1000 });
    try {
      const res = await startRead(g, flow.eco.agreement, flow.consumerToken);
      const { id } = (await res.json()) as { id: string };
      expect(await settled(g, id, flow.consumerToken)).toMatchObject({
        state: "failed",
        code: "payload_too_large",
      });
    } finally {
      Object.assign(g.t.gw.settings, { transferMaxBytes: cap });
    }
  });

  it("works with the SDK's transfer methods", async ({ g, flow }) => {
    const consumer = new GatewayClient({
      baseUrl: g.base,
      clientId: flow.eco.ids.consumer,
      clientSecret: flow.eco.secrets[flow.eco.ids.consumer] ?? "",
    });
    const provider = new GatewayClient({
      baseUrl: g.base,
      clientId: flow.eco.ids.provider,
      clientSecret: flow.eco.secrets[flow.eco.ids.provider] ?? "",
    });
    flow.eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      res.end(`${JSON.stringify(record(7))}\n`);
    };
    const started = await consumer.startTransfer(flow.eco.agreement, {
      purpose: PURPOSE,
      idempotencyKey: "sdk-1",
    });
    expect(started.state).toBe("running");
    await g.dispatcher.idle();
    const ready = await consumer.waitForTransfer(flow.eco.agreement, started.id, {
      intervalMs: 50,
    });
    expect(ready.state).toBe("ready");
    const text = await (await consumer.download(ready)).text();
    expect(JSON.parse(text)).toMatchObject({ vin: "VIN-7" });
    const listed = await consumer.transfers(flow.eco.agreement);
    expect(listed.items.map((t) => t.id)).toContain(started.id);

    const uploaded = await provider.upload(flow.eco.agreement, `${JSON.stringify(record(8))}\n`, {
      contentType: "application/x-ndjson",
      purpose: PURPOSE,
    });
    expect(uploaded.state).toBe("running");
    await g.dispatcher.idle();
    const delivered = await consumer.waitForTransfer(flow.eco.agreement, uploaded.id, {
      intervalMs: 50,
    });
    expect(delivered).toMatchObject({ state: "ready", records: 1 });
  });
});
