/**
 * A run's lease while the body streams, on a gateway whose lease lasts two
 * seconds (renewed every quarter of it) so that what takes minutes in a
 * deployment happens here in seconds: renewal keeps a run longer than its
 * lease holding the transfer, and a run that finds another holding it stops
 * its stream and writes nothing more (no object, no metering, no change).
 */
import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TransferRecord, TransferStore } from "../../functions/store/transfers.ts";
import { runTransferJob } from "../../functions/transfers/worker.ts";
import {
  flowTotals,
  objectsOf,
  record,
  startRead,
  startTransferGateway,
  type TransferFlow,
  type TransferGateway,
  transferFlow,
} from "./support.ts";

const LEASE_MS = 2000;
const GAP_MS = 100;
const LINES_PER_CHUNK = 20;

let g: TransferGateway;
let flow: TransferFlow;

beforeAll(async () => {
  g = await startTransferGateway({ transferLeaseMs: LEASE_MS });
  flow = await transferFlow(g);
});

afterAll(async () => {
  await flow.eco.close();
  await g.close();
});

/**
 * The provider answers `chunks` chunks of records, one every GAP_MS; `sent`
 * counts them, and `cut` tells whether the gateway hung up before the end.
 */
function slowProvider(chunks: number) {
  const seen = { sent: 0, cut: false, ended: false };
  const waiters: { at: number; resolve: () => void }[] = [];
  flow.eco.provider.handler = async (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    res.once("close", () => {
      seen.cut = !seen.ended;
    });
    for (let c = 0; c < chunks && !res.destroyed; c++) {
      const lines = Array.from({ length: LINES_PER_CHUNK }, (_, i) =>
        JSON.stringify(record(c * LINES_PER_CHUNK + i)),
      );
      res.write(`${lines.join("\n")}\n`);
      seen.sent++;
      for (const w of waiters.filter((x) => x.at <= seen.sent)) w.resolve();
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    if (!res.destroyed) {
      seen.ended = true;
      res.end();
    }
  };
  const after = (n: number) =>
    new Promise<void>((resolve) => {
      waiters.push({ at: n, resolve });
    });
  return { seen, after };
}

/** A read transfer no in-process run picks up (the test runs it itself). */
async function startUnrun(): Promise<string> {
  g.dispatcher.bind(async () => undefined);
  const token = await g.t.token(flow.eco.ids.consumer, [`agreement:${flow.eco.agreement}`]);
  const res = await startRead(g, flow.eco.agreement, token);
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const requests = async () => (await flowTotals(g, flow.eco.agreement))?.requests ?? 0;

describe("a transfer run's lease", () => {
  it("is renewed while a run streams longer than it, so no other run takes the transfer", async () => {
    const before = await requests();
    const id = await startUnrun();
    const chunks = Math.ceil((4 * LEASE_MS) / GAP_MS);
    const provider = slowProvider(chunks);
    const run = runTransferJob(g.t.gw, { transferId: id });
    // Three leases into the stream: only renewals can still hold the transfer.
    await provider.after(Math.ceil((3 * LEASE_MS) / GAP_MS));
    expect(await runTransferJob(g.t.gw, { transferId: id })).toEqual({
      transferId: id,
      state: "running",
      ran: false,
    });
    expect(await run).toEqual({ transferId: id, state: "ready", ran: true });
    expect(provider.seen).toMatchObject({ sent: chunks, cut: false });
    expect(await new TransferStore(g.t.gw.db).get(id)).toMatchObject({
      state: "ready",
      attempt: 1,
      records: chunks * LINES_PER_CHUNK,
    });
    expect(await requests()).toBe(before + 1);
  }, 30_000);

  it("stops a run that another run took over: its stream ends, it writes nothing more", async () => {
    const before = await requests();
    const id = await startUnrun();
    const chunks = Math.ceil((10 * LEASE_MS) / GAP_MS);
    const provider = slowProvider(chunks);
    const run = runTransferJob(g.t.gw, { transferId: id });
    await provider.after(5);
    // Another run takes the transfer, as `take` does (its attempt, its lease).
    const store = new TransferStore(g.t.gw.db);
    const taken = await store.update(id, (t) => ({
      ...t,
      attempt: t.attempt + 1,
      leaseUntil: g.t.gw.clock().getTime() + 60 * LEASE_MS,
      updatedAt: g.t.gw.clock().toISOString(),
    }));
    expect(taken).toMatchObject({ changed: true, transfer: { attempt: 2 } });
    const held = taken?.transfer as TransferRecord;

    expect(await run).toEqual({ transferId: id, state: "running", ran: true });
    // It stopped reading long before the provider's end (at its next renewal).
    expect(provider.seen.cut).toBe(true);
    expect(provider.seen.sent).toBeLessThan(chunks);
    // Nothing more from it: the transfer is as the other run left it, no object, no metering.
    expect(await store.get(id)).toEqual(held);
    expect(await objectsOf(g, id)).toEqual([]);
    expect(await requests()).toBe(before);
  }, 30_000);
});
