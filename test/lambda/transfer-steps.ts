/**
 * The large transfers' part of the scenario, through the bundled worker as
 * Lambda runs it: jobs arrive as asynchronous invocations of its alias
 * (the AWS dispatcher against the loopback Lambda endpoint), each the event
 * `{ "transferId" }`. A read transfer released (staged, metered, copied to
 * its body key), one blocked by a marker in its last record after more than
 * a multipart part was written (the upload aborted, everything deleted), an
 * uploaded body delivered and one blocked (the upload deleted), and a
 * transfer whose runs all crashed after writing (failed, every object of it
 * deleted: staging, body and upload).
 */
import { randomUUID } from "node:crypto";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { expect } from "vitest";
import { LambdaTransferDispatcher } from "../../functions/lambda/transfer-dispatch.ts";
import type { TransferRecord } from "../../functions/store/transfers.ts";
import { TransferStore } from "../../functions/store/transfers.ts";
import { bodyKey, stagingKey, transferPrefix, uploadKey } from "../../functions/transfers/keys.ts";
import { MAX_TRANSFER_ATTEMPTS } from "../../functions/transfers/worker.ts";
import type { TestBackend } from "../support/backends.ts";
import type { LocalDeployment } from "./deployment.ts";

export interface TransferParties {
  readonly agreement: string;
  readonly dataset: string;
  readonly provider: string;
  readonly consumer: string;
  readonly purpose: string;
}

/** One NDJSON line of the bulk answer (the dataset's fields; `driver.name` is pseudonymised). */
const line = (i: number, vin = `VIN-B${i}`) =>
  `${JSON.stringify({ vin, mileage: i, speed: { avg: 50, max: 90 }, driver: { name: "Anna", license: "L-1" } })}\n`;

/** Over one 8 MiB multipart part, so that a refusal at the end aborts a started upload. */
const BLOCKED_LINES = 110_000;

export async function runTransferSteps(
  d: LocalDeployment,
  provider: TestBackend,
  parties: TransferParties,
): Promise<void> {
  const store = new TransferStore(d.store.db);
  const worker = d.functions.transferWorker;
  if (worker === undefined) throw new Error("no transferWorker function");
  const dispatcher = new LambdaTransferDispatcher(
    new LambdaClient({
      endpoint: d.lambda.endpoint,
      region: "eu-north-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
    d.aliasArn("transferWorker"),
  );
  const run = async (t: TransferRecord) => {
    await store.create(t);
    await dispatcher.dispatch({ transferId: t.id });
    const runs = await d.lambda.settled();
    expect(runs.map((r) => [r.functionName, r.event, r.error])).toEqual([
      ["transferWorker", { transferId: t.id }, undefined],
    ]);
    return store.get(t.id);
  };
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
    // A read transfer, released: the cut body under its key, its staging gone.
    const read = await run(transferRecord(parties, "read", { subpath: "/bulk" }));
    expect(read).toMatchObject({ state: "ready", records: 50 });
    const body = Buffer.from((await d.objects.get(bodyKey(read?.id ?? ""), "scenario")) ?? []);
    expect(body.length).toBe(read?.bytes);
    expect(body.toString("utf8")).toContain("VIN-B49");
    expect(body.toString("utf8")).not.toContain("Anna");
    expect(
      (await d.objects.list(transferPrefix(read?.id ?? ""), "scenario")).map((o) => o.key),
    ).toEqual([bodyKey(read?.id ?? "")]);

    // A marker in the last record, after a multipart upload started: blocked, nothing kept.
    blockAtEnd = true;
    const blocked = await run(transferRecord(parties, "read", { subpath: "/bulk" }));
    expect(blocked).toMatchObject({ state: "blocked", code: "leak_blocked" });
    expect(await d.objects.list(transferPrefix(blocked?.id ?? ""), "scenario")).toEqual([]);

    // An uploaded body, delivered; one with a marker, blocked and its upload deleted.
    const lines = (n: number, last = "") =>
      Buffer.from(Array.from({ length: n }, (_, i) => line(i)).join("") + last);
    const deliver = transferRecord(parties, "deliver", { contentType: "application/x-ndjson" });
    await d.objects.put(uploadKey(deliver.id), lines(20), "scenario");
    expect(await run(deliver)).toMatchObject({ state: "ready", records: 20 });
    const leaky = transferRecord(parties, "deliver", { contentType: "application/x-ndjson" });
    await d.objects.put(uploadKey(leaky.id), lines(20, line(20, "CAL-999999")), "scenario");
    expect(await run(leaky)).toMatchObject({ state: "blocked", code: "leak_blocked" });
    expect(await d.objects.list(transferPrefix(leaky.id), "scenario")).toEqual([]);

    // Every run crashed after writing (its lease over): failed, and all of it deleted.
    const crashed = transferRecord(parties, "deliver", {
      contentType: "application/x-ndjson",
      attempt: MAX_TRANSFER_ATTEMPTS,
    });
    for (const key of [
      uploadKey(crashed.id),
      stagingKey(crashed.id, MAX_TRANSFER_ATTEMPTS),
      bodyKey(crashed.id),
    ])
      await d.objects.put(key, lines(5), "scenario");
    expect(await run(crashed)).toMatchObject({ state: "failed", code: "transfer_interrupted" });
    expect(await d.objects.list(transferPrefix(crashed.id), "scenario")).toEqual([]);
  } finally {
    provider.handler = previous;
  }
}

/** A transfer as the routes create it: running, no attempt yet. */
function transferRecord(
  p: TransferParties,
  direction: "read" | "deliver",
  extra: Partial<TransferRecord>,
): TransferRecord {
  const at = new Date().toISOString();
  return {
    id: `xfer-${randomUUID()}`,
    agreement: p.agreement,
    direction,
    state: "running",
    createdAt: at,
    updatedAt: at,
    provider: p.provider,
    consumer: p.consumer,
    dataset: p.dataset,
    purpose: p.purpose,
    subpath: null,
    query: null,
    contentType: null,
    contentEncoding: null,
    records: null,
    bytes: null,
    sha256: null,
    code: null,
    readyAt: null,
    bodyExpiresAt: null,
    attempt: 0,
    leaseUntil: null,
    requestId: randomUUID(),
    ...extra,
  };
}
