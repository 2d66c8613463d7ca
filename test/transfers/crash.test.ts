/**
 * A worker that dies in the middle of a transfer (a process killed with
 * SIGKILL while the provider's answer streams) leaves nothing released: the
 * transfer stays running, no body exists, nothing is metered. Once its lease
 * is over, a read dispatches it again and the next run starts over and
 * finishes whole; a transfer whose every run dies ends failed. A run that
 * died after its metering is counted once while later runs retry, and its
 * metering is given back when the transfer ends without a release.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { describe, expect } from "vitest";
import { TransferStore } from "../../functions/store/transfers.ts";
import { bodyKey } from "../../functions/transfers/keys.ts";
import { MAX_TRANSFER_ATTEMPTS, TRANSFER_LEASE_MS } from "../../functions/transfers/limits.ts";
import { revokeTransfer } from "../../functions/transfers/revoke.ts";
import { runTransferJob } from "../../functions/transfers/worker.ts";
import { dynamoEndpoint, s3Endpoint } from "../support/gateway.ts";
import {
  curl,
  flowTotals,
  it,
  objectsOf,
  record,
  settled,
  startRead,
  type TransferFlow,
  type TransferGateway,
} from "./support.ts";

const WORKER = fileURLToPath(new URL("./crash-worker.ts", import.meta.url));
const FULL = 20_000;

/** Sends half of the answer, says so, and then holds the connection open. */
function halfThenHang(onHalf: () => void) {
  return async (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    const lines = Array.from({ length: FULL / 2 }, (_, i) => JSON.stringify(record(i))).join("\n");
    res.write(`${lines}\n`, () => onHalf());
  };
}

function fullAnswer(_req: unknown, res: ServerResponse) {
  res.writeHead(200, { "Content-Type": "application/x-ndjson" });
  res.end(`${Array.from({ length: FULL }, (_, i) => JSON.stringify(record(i))).join("\n")}\n`);
}

/** Starts a worker process for the transfer and kills it once the provider sent half its answer. */
async function runAndKill(
  g: TransferGateway,
  flow: TransferFlow,
  transferId: string,
): Promise<void> {
  let child: ChildProcess | undefined;
  const half = new Promise<void>((resolve) => {
    flow.eco.provider.handler = halfThenHang(resolve);
  });
  child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      WORKER,
      JSON.stringify({
        dynamoEndpoint: dynamoEndpoint(),
        tables: g.t.gw.db.tables,
        s3Endpoint: s3Endpoint(),
        bucket: g.storage.bucket,
        issuer: g.t.gw.settings.issuer,
        transferId,
        clockOffsetMs: g.t.clock.offsetMs,
      }),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child?.once("exit", (_code, signal) => resolve(signal)),
  );
  await half;
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  child = undefined;
}

/** A consumer token minted on the gateway's (shifted) clock. */
const tokenNow = (g: TransferGateway, flow: TransferFlow) =>
  g.t.token(flow.eco.ids.consumer, [`agreement:${flow.eco.agreement}`]);

/** A read transfer that no in-process run picks up (the test runs it in a child). */
async function startUnrun(g: TransferGateway, flow: TransferFlow): Promise<string> {
  g.dispatcher.bind(async () => undefined);
  const res = await startRead(g, flow.eco.agreement, await tokenNow(g, flow));
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

describe("a worker killed mid-stream", () => {
  it("releases nothing; after its lease a new run starts over and finishes whole", async ({
    g,
    flow,
  }) => {
    const before = (await flowTotals(g, flow.eco.agreement))?.requests ?? 0;
    const id = await startUnrun(g, flow);
    await runAndKill(g, flow, id);
    const store = new TransferStore(g.t.gw.db);
    expect(await store.get(id)).toMatchObject({ state: "running", attempt: 1 });
    expect(await objectsOf(g, id)).not.toContain(bodyKey(id, 1));
    const seen = await settled(g, id, await tokenNow(g, flow));
    expect(seen).toMatchObject({ state: "running", url: null, bytes: null });
    expect((await flowTotals(g, flow.eco.agreement))?.requests ?? 0).toBe(before);

    // The lease ends; the next read dispatches the transfer again, and this run finishes.
    g.t.clock.offsetMs += TRANSFER_LEASE_MS + 1000;
    flow.eco.provider.handler = fullAnswer;
    g.dispatcher.bind((job) => runTransferJob(g.t.gw, job));
    await settled(g, id, await tokenNow(g, flow));
    const done = await settled(g, id, await tokenNow(g, flow));
    expect(done).toMatchObject({ state: "ready", records: FULL });
    const body = (await curl([String(done.url)])).body;
    expect(createHash("sha256").update(body).digest("hex")).toBe(done.sha256);
    expect(
      body
        .toString()
        .split("\n")
        .filter((l) => l !== ""),
    ).toHaveLength(FULL);
    expect((await store.get(id))?.attempt).toBe(2);
    expect((await flowTotals(g, flow.eco.agreement))?.requests ?? 0).toBe(before + 1);
  }, 60_000);

  it("fails a transfer whose every run dies, with nothing kept", async ({ g, flow }) => {
    const id = await startUnrun(g, flow);
    for (let i = 0; i < MAX_TRANSFER_ATTEMPTS; i++) {
      await runAndKill(g, flow, id);
      g.t.clock.offsetMs += TRANSFER_LEASE_MS + 1000;
    }
    const done = await settled(g, id, await tokenNow(g, flow));
    expect(done).toMatchObject({ state: "failed", code: "transfer_interrupted", url: null });
    expect(await objectsOf(g, id)).toEqual([]);
  }, 60_000);
});

describe("a run taken over after its lease", () => {
  it("writes nothing the transfer serves and counts nothing more", async ({ g, flow }) => {
    const before = (await flowTotals(g, flow.eco.agreement))?.requests ?? 0;
    const id = await startUnrun(g, flow);
    let halfSent = (): void => undefined;
    let release = (): void => undefined;
    const sentHalf = new Promise<void>((r) => {
      halfSent = r;
    });
    const released = new Promise<void>((r) => {
      release = r;
    });
    // The first run's answer: half, then (once released) a second half the second run never sees.
    flow.eco.provider.handler = async (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      const half = Array.from({ length: FULL / 2 }, (_, i) => JSON.stringify(record(i)));
      res.write(`${half.join("\n")}\n`, () => halfSent());
      await released;
      res.end(`${JSON.stringify({ ...record(0), vin: "LATE" })}\n`);
    };
    const late = runTransferJob(g.t.gw, { transferId: id });
    await sentHalf;
    g.t.clock.offsetMs += TRANSFER_LEASE_MS + 1000;
    flow.eco.provider.handler = fullAnswer;
    expect(await runTransferJob(g.t.gw, { transferId: id })).toMatchObject({
      state: "ready",
      ran: true,
    });
    const ready = await settled(g, id, await tokenNow(g, flow));
    release();
    // The late run finishes its stream, finds the transfer held and released by another: it stops.
    expect(await late).toMatchObject({ state: "ready", ran: true });
    const after = await settled(g, id, await tokenNow(g, flow));
    expect(after).toMatchObject({ state: "ready", records: FULL, sha256: ready.sha256 });
    const body = (await curl([String(after.url)])).body;
    expect(createHash("sha256").update(body).digest("hex")).toBe(ready.sha256);
    expect(body.toString()).not.toContain("LATE");
    expect(await objectsOf(g, id)).toEqual([bodyKey(id, 2)]);
    expect((await flowTotals(g, flow.eco.agreement))?.requests ?? 0).toBe(before + 1);
  }, 60_000);
});

/** The flow's totals as finance reads them, zero before any exchange. */
const totalsOf = async (g: TransferGateway, flow: TransferFlow) =>
  (await flowTotals(g, flow.eco.agreement)) ?? { requests: 0, records: 0 };

/** Runs `jobs` while the store refuses the copy to the final key: each run meters (or finds its metering), then dies. */
async function withCopyRefused(g: TransferGateway, jobs: () => Promise<void>): Promise<void> {
  const storage = g.t.gw.transferStorage;
  const copy = storage.copy;
  storage.copy = async () => {
    throw new Error("the store refused the copy");
  };
  try {
    await jobs();
  } finally {
    storage.copy = copy;
  }
}

/** A job for `id` that dies after its metering. */
const dyingRun = (g: TransferGateway, id: string) =>
  expect(runTransferJob(g.t.gw, { transferId: id })).rejects.toThrow(/refused the copy/);

describe("a transfer metered by runs that died before it was ready", () => {
  it("counts once while runs retry, and gives it back when the transfer fails", async ({
    g,
    flow,
  }) => {
    const totals = () => totalsOf(g, flow);
    const { requests: before, records: recordsBefore } = await totals();
    const id = await startUnrun(g, flow);
    flow.eco.provider.handler = fullAnswer;
    await withCopyRefused(g, async () => {
      for (let i = 0; i < MAX_TRANSFER_ATTEMPTS; i++) {
        await dyingRun(g, id);
        expect((await totals()).requests).toBe(before + 1);
        g.t.clock.offsetMs += TRANSFER_LEASE_MS + 1000;
      }
    });
    expect((await new TransferStore(g.t.gw.db).get(id))?.metered).toMatchObject({
      records: FULL,
    });
    // Every attempt used: the next job fails it, and what was metered goes back.
    expect(await runTransferJob(g.t.gw, { transferId: id })).toMatchObject({ state: "failed" });
    const done = await settled(g, id, await tokenNow(g, flow));
    expect(done).toMatchObject({ state: "failed", code: "transfer_interrupted", url: null });
    expect(await totals()).toMatchObject({ requests: before, records: recordsBefore });
    expect(await objectsOf(g, id)).toEqual([]);
  }, 60_000);

  it("gives it back when the next run is denied: the agreement stopped meanwhile", async ({
    g,
    flow,
  }) => {
    const totals = () => totalsOf(g, flow);
    const { requests: before, records: recordsBefore } = await totals();
    const id = await startUnrun(g, flow);
    flow.eco.provider.handler = fullAnswer;
    await withCopyRefused(g, () => dyingRun(g, id));
    expect((await totals()).requests).toBe(before + 1);
    // An operator on the gateway's clock (earlier tests moved it past the fixture's token).
    const operator = (action: "suspend" | "resume") =>
      g.t.token("operator", ["admin"]).then((token) =>
        g.t.call("POST", `/admin/agreements/${flow.eco.agreement}/${action}`, {
          token,
          body: { reason: "dispute" },
        }),
      );
    expect((await operator("suspend")).status).toBe(200);
    g.t.clock.offsetMs += TRANSFER_LEASE_MS + 1000;
    expect(await runTransferJob(g.t.gw, { transferId: id })).toMatchObject({ state: "revoked" });
    expect(await totals()).toMatchObject({ requests: before, records: recordsBefore });
    expect(await objectsOf(g, id)).toEqual([]);
    // The flow is the file's: later tests need it active.
    expect((await operator("resume")).status).toBe(200);
  }, 60_000);

  it("gives back an earlier run's metering when the run that found it is revoked mid-release", async ({
    g,
    flow,
  }) => {
    const totals = () => totalsOf(g, flow);
    const { requests: before, records: recordsBefore } = await totals();
    const id = await startUnrun(g, flow);
    flow.eco.provider.handler = fullAnswer;
    await withCopyRefused(g, () => dyingRun(g, id));
    g.t.clock.offsetMs += TRANSFER_LEASE_MS + 1000;
    // The next run finds the metering as a duplicate; the transfer is revoked once it copied.
    const storage = g.t.gw.transferStorage;
    const copy = storage.copy;
    storage.copy = async (from, to) => {
      await copy.call(storage, from, to);
      await revokeTransfer(g.t.gw, new TransferStore(g.t.gw.db), id, "agreement_inactive");
    };
    try {
      expect(await runTransferJob(g.t.gw, { transferId: id })).toMatchObject({ state: "revoked" });
    } finally {
      storage.copy = copy;
    }
    expect(await totals()).toMatchObject({ requests: before, records: recordsBefore });
    expect(await objectsOf(g, id)).toEqual([]);
  }, 60_000);
});
