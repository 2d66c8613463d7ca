/**
 * The local server's timeouts and the streaming route. An upload PUT or a
 * body's GET through `/local-objects` may take longer than the request
 * timeout as long as bytes keep moving; a client that stalls there loses its
 * socket after the idle timeout; every other route still has the request
 * timeout. Served by the local server's own listen() with short timeouts.
 */
import { randomUUID } from "node:crypto";
import { type IncomingMessage, request, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppEnv } from "../../functions/http/env.ts";
import { listen } from "../../functions/local/server.ts";
import { ensureBucket, localS3Client } from "../../functions/store/objects.ts";
import { localObjectsApp } from "../../functions/transfers/local-urls.ts";
import { S3TransferStorage } from "../../functions/transfers/s3-storage.ts";
import { multipartWrite } from "../../functions/transfers/s3-upload.ts";
import { s3Endpoint } from "../support/gateway.ts";

const TIMEOUTS = { requestMs: 500, idleMs: 500 };
/** A chunk every GAP_MS for longer than either timeout: slow, but never idle for long. */
const CHUNKS = 20;
const GAP_MS = 100;
const CHUNK = Buffer.from(`${JSON.stringify({ vin: "VIN-1", mileage: 1 })}\n`.repeat(50));

let server: Server;
let base: string;
let storage: S3TransferStorage;

beforeAll(async () => {
  let app: Hono<AppEnv> | undefined;
  // The URLs name the server's port, known once it listens: the app is made then.
  const late = {
    fetch: (req: Request, env: unknown) => app?.fetch(req, env as AppEnv["Bindings"]),
  };
  server = await listen(late as unknown as Hono<AppEnv>, "127.0.0.1", 0, undefined, TIMEOUTS);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s3 = localS3Client(s3Endpoint());
  const bucket = `t-${randomUUID().slice(0, 8)}`;
  await ensureBucket(s3, bucket);
  storage = new S3TransferStorage(s3, bucket, {
    publicEndpoint: `${base}/local-objects`,
    write: multipartWrite,
  });
  app = new Hono<AppEnv>();
  app.route(
    "/",
    localObjectsApp(storage, () => new Date(), 64 * 1024 * 1024),
  );
  // What the aborted requests leave (their body stream's error) is answered, not logged.
  app.onError((err, c) => c.text(err.message, 500));
  app.post("/echo", async (c) => c.text(String((await c.req.arrayBuffer()).byteLength)));
});

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);

type Outcome = { status: number; body: string } | { error: string };

/**
 * Sends `chunks` chunks, one every GAP_MS; `end` false leaves the request
 * open after them (a stalled client). Answers the response or the socket's fate.
 */
function slowRequest(
  method: string,
  url: string,
  headers: Record<string, string>,
  chunks: number,
  end = true,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(url, { method, headers });
    req.on("response", (res: IncomingMessage) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", (e) => resolve({ error: e.message }));
    });
    req.on("error", (e) => resolve({ error: e.message }));
    req.on("close", () => resolve({ error: "closed" }));
    let sent = 0;
    const next = () => {
      if (req.destroyed) return;
      if (sent === chunks) {
        if (end) req.end();
        return;
      }
      sent++;
      req.write(CHUNK, () => setTimeout(next, GAP_MS));
    };
    next();
  });
}

async function uploadUrl(key: string) {
  return storage.presignPut(key, "application/x-ndjson", 300, new Date());
}

describe("the local server's timeouts", () => {
  it("lets a slow but progressing upload through /local-objects take longer than the request timeout", async () => {
    const put = await uploadUrl("transfers/slow/upload");
    const outcome = await slowRequest("PUT", put.url, put.headers, CHUNKS);
    expect(outcome).toEqual({ status: 200, body: "" });
    const stored = await storage.open("transfers/slow/upload");
    expect(stored?.size).toBe(CHUNKS * CHUNK.length);
    stored?.body.destroy();
  });

  it("keeps the request timeout on every other route", async () => {
    const outcome = await slowRequest("POST", `${base}/echo`, {}, CHUNKS);
    expect(outcome).not.toEqual({ status: 200, body: String(CHUNKS * CHUNK.length) });
    if ("status" in outcome) expect(outcome.status).toBe(400);
  });

  it("closes the socket of an upload that stalls, and stores nothing", async () => {
    const put = await uploadUrl("transfers/stalled/upload");
    const outcome = await slowRequest("PUT", put.url, put.headers, 2, false);
    expect(outcome).toHaveProperty("error");
    expect(await storage.has("transfers/stalled/upload")).toBe(false);
  });

  it("closes the socket of a download whose client stops reading", async () => {
    // More than the loopback socket buffers hold, so the server's writes stall
    // (stored directly: only the download goes through the route).
    const big = Buffer.alloc(32 * 1024 * 1024, 0x61);
    await storage.client.send(
      new PutObjectCommand({ Bucket: storage.bucket, Key: "transfers/big/body", Body: big }),
    );
    const url = new URL(await storage.presignGet("transfers/big/body", 300, new Date()));
    const client = connect(Number(url.port), url.hostname);
    client.pause(); // never reads a byte
    const served = await new Promise<Socket>((resolve) =>
      server.once("connection", (s: Socket) => resolve(s)),
    );
    client.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    await new Promise<void>((resolve) => served.once("close", () => resolve()));
    expect(served.bytesWritten).toBeLessThan(big.length);
    client.destroy();
  });
});
