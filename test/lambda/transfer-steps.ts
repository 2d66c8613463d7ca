/**
 * The large transfers' part of the scenario, as deployed: the routes, on the
 * transfers bundle (the template's API routes send them there), start jobs by
 * invoking the worker's alias asynchronously (a loopback Lambda endpoint
 * queues them and runs the worker bundle with the event `{ "transferId" }`),
 * URLs are presigned by the transfers function's role
 * and fetched from the bucket. A read transfer released and asked again with
 * its Idempotency-Key, one blocked by a marker in its last record after a
 * multipart upload started (aborted, everything deleted), an upload
 * delivered and one blocked, a transfer whose every run crashed after
 * writing (failed, all its objects deleted), and a read revoked on read
 * while its agreement is suspended (its body deleted). The ready upload is
 * left for the events function: the agreement's suspension revokes it there.
 */
import { LambdaClient } from "@aws-sdk/client-lambda";
import { expect } from "vitest";
import { LambdaTransferDispatcher } from "../../functions/lambda/transfer-dispatch.ts";
import { type TransferRecord, TransferStore } from "../../functions/store/transfers.ts";
import { bodyKey, stagingKey, transferPrefix, uploadKey } from "../../functions/transfers/keys.ts";
import { MAX_TRANSFER_ATTEMPTS } from "../../functions/transfers/limits.ts";
import { TransferView, UploadView } from "../../functions/transfers/schemas.ts";
import type { TestBackend } from "../support/backends.ts";
import type { LocalDeployment } from "./deployment.ts";
import type { HttpAnswer } from "./host.ts";

type ExpectStatus = (
  status: number,
  method: string,
  target: string,
  options?: { token?: string; body?: unknown; headers?: Record<string, string> },
) => Promise<HttpAnswer>;

export interface TransferParties {
  readonly agreement: string;
  readonly purpose: string;
  readonly consumerToken: string;
  readonly providerToken: string;
  readonly adminToken: string;
}

/** One NDJSON line of a bulk body (the dataset's fields; `driver.name` is pseudonymised). */
const line = (i: number, vin = `VIN-B${i}`) =>
  `${JSON.stringify({ vin, mileage: i, speed: { avg: 50, max: 90 }, driver: { name: "Anna", license: "L-1" } })}\n`;
const lines = (n: number, last = "") =>
  Array.from({ length: n }, (_, i) => line(i)).join("") + last;

/** Over one 8 MiB multipart part, so that a refusal at the end aborts a started upload. */
const BLOCKED_LINES = 110_000;

export async function runTransferSteps(
  d: LocalDeployment,
  expectStatus: ExpectStatus,
  provider: TestBackend,
  p: TransferParties,
): Promise<void> {
  const purpose = { "data-purpose": p.purpose };
  // The API sends every transfer route to the transfers function, none to the exchange.
  for (const [method, path] of [
    ["POST", "/v1/transfers"],
    ["GET", "/v1/transfers"],
    ["GET", "/v1/transfers/trf-1"],
    ["POST", "/v1/transfers/trf-1/complete"],
    ["POST", "/v1/uploads"],
  ] as const)
    expect(d.routeOf(method, path).name, `${method} ${path}`).toBe("transfers");
  const settle = async (id: string) => {
    const runs = await d.lambda.settled();
    expect(runs.map((r) => [r.functionName, r.event, r.error])).toEqual([
      ["transferWorker", { transferId: id }, undefined],
    ]);
  };
  const show = async (id: string, token = p.consumerToken) =>
    TransferView.parse((await expectStatus(200, "GET", `/v1/transfers/${id}`, { token })).json);
  const startRead = async (headers: Record<string, string> = {}) => {
    const res = await expectStatus(202, "POST", "/v1/transfers", {
      token: p.consumerToken,
      headers: { ...purpose, ...headers },
      body: { agreement: p.agreement, subpath: "/bulk" },
    });
    return TransferView.parse(res.json).id;
  };
  const upload = async (body: string) => {
    const opened = await expectStatus(201, "POST", "/v1/uploads", {
      token: p.providerToken,
      headers: purpose,
      body: { agreement: p.agreement, contentType: "application/x-ndjson" },
    });
    const { id, uploadUrl, headers } = UploadView.parse(opened.json);
    const put = await fetch(uploadUrl, { method: "PUT", headers, body });
    expect(put.status).toBe(200);
    await expectStatus(202, "POST", `/v1/transfers/${id}/complete`, { token: p.providerToken });
    await settle(id);
    return id;
  };
  const keysOf = async (id: string) =>
    (await d.objects.list(transferPrefix(id), "scenario")).map((o) => o.key);

  const previous = provider.handler;
  let blockAtEnd = false;
  provider.handler = (req, res) => {
    if (!req.url.startsWith("/telemetry/bulk")) return previous(req, res);
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const count = blockAtEnd ? BLOCKED_LINES : 50;
    for (let i = 0; i < count; i++) res.write(line(i));
    res.end(blockAtEnd ? line(BLOCKED_LINES, "CAL-999999") : undefined);
  };
  try {
    // A read transfer, released; its URL serves exactly what the transfer says.
    const read = await startRead({ "idempotency-key": "lp-transfer-1" });
    await settle(read);
    const ready = await show(read);
    expect(ready).toMatchObject({ state: "ready", records: 50 });
    const got = Buffer.from(await (await fetch(ready.url ?? "")).arrayBuffer());
    expect(got.length).toBe(ready.bytes);
    expect(got.toString("utf8")).toContain("VIN-B49");
    expect(got.toString("utf8")).not.toContain("Anna");
    expect(await keysOf(read)).toEqual([bodyKey(read, 1)]);
    // The same Idempotency-Key: the same transfer, no second job.
    const again = await expectStatus(200, "POST", "/v1/transfers", {
      token: p.consumerToken,
      headers: { ...purpose, "idempotency-key": "lp-transfer-1" },
      body: { agreement: p.agreement, subpath: "/bulk" },
    });
    expect(TransferView.parse(again.json).id).toBe(read);
    expect(await d.lambda.settled()).toEqual([]);

    // A marker in the last record, after a multipart upload started: blocked, nothing kept.
    blockAtEnd = true;
    const blocked = await startRead();
    await settle(blocked);
    expect(await show(blocked)).toMatchObject({ state: "blocked", code: "leak_blocked" });
    expect(await keysOf(blocked)).toEqual([]);

    // An upload, delivered; one with a marker, blocked and its upload deleted.
    const delivered = await upload(lines(20));
    expect(await show(delivered)).toMatchObject({ state: "ready", records: 20 });
    const leaky = await upload(lines(20, line(20, "CAL-999999")));
    expect(await show(leaky, p.providerToken)).toMatchObject({ state: "blocked" });
    expect(await keysOf(leaky)).toEqual([]);
    await expectStatus(200, "GET", `/v1/transfers?agreement=${p.agreement}`, {
      token: p.providerToken,
    });

    // Every run crashed after writing (its lease over): failed, and all of it deleted.
    const crashed = await seedCrashed(d, read);
    const dispatcher = new LambdaTransferDispatcher(
      new LambdaClient({
        endpoint: d.lambda.endpoint,
        region: "eu-north-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
      d.aliasArn("transferWorker"),
    );
    await dispatcher.dispatch({ transferId: crashed });
    await settle(crashed);
    expect(await keysOf(crashed)).toEqual([]);
    expect(await new TransferStore(d.store.db).get(crashed)).toMatchObject({
      state: "failed",
      code: "transfer_interrupted",
    });

    // The agreement suspended: asking for the ready read revokes it and deletes its body.
    await expectStatus(200, "POST", `/admin/agreements/${p.agreement}/suspend`, {
      token: p.adminToken,
      body: { reason: "lp transfer revocation" },
    });
    await expectStatus(403, "GET", `/v1/transfers/${read}`, { token: p.consumerToken });
    expect(await keysOf(read)).toEqual([]);
    await expectStatus(200, "POST", `/admin/agreements/${p.agreement}/resume`, {
      token: p.adminToken,
      body: { reason: "lp transfer revocation over" },
    });
    // The delivered one keeps its body (its upload is gone) for the events function.
    expect(await keysOf(delivered)).toEqual([bodyKey(delivered, 1)]);
  } finally {
    provider.handler = previous;
  }
}

/**
 * A transfer like `like` whose runs all started and crashed after writing
 * (a staging object, a body copied, an upload): on its last attempt, its
 * lease over.
 */
async function seedCrashed(d: LocalDeployment, like: string): Promise<string> {
  const store = new TransferStore(d.store.db);
  const base = await store.get(like);
  if (base === undefined) throw new Error(`no transfer ${like}`);
  const at = new Date().toISOString();
  const crashed: TransferRecord = {
    ...base,
    id: `${like}-crashed`,
    state: "running",
    createdAt: at,
    updatedAt: at,
    records: null,
    bytes: null,
    sha256: null,
    readyAt: null,
    bodyExpiresAt: null,
    attempt: MAX_TRANSFER_ATTEMPTS,
    leaseUntil: Date.now() - 1000,
  };
  await store.create(crashed);
  for (const key of [
    stagingKey(crashed.id, MAX_TRANSFER_ATTEMPTS),
    bodyKey(crashed.id, MAX_TRANSFER_ATTEMPTS),
    uploadKey(crashed.id),
  ])
    await d.objects.put(key, Buffer.from(lines(5)), "scenario");
  return crashed.id;
}
