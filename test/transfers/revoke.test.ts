/**
 * Revocation: a party or an agreement that stops being active takes its
 * transfers' bodies with it, from the status-change path (the outbox pass
 * that fans the event out) whether or not anyone asks, and a read of such a
 * transfer answers the exchange's 403 code and shows it revoked.
 */
import { describe, expect } from "vitest";
import { processOutbox } from "../../functions/events/deliver.ts";
import { TransferStore } from "../../functions/store/transfers.ts";
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
  transferFlow,
} from "./support.ts";

async function readyTransfer(g: TransferGateway, flow: TransferFlow) {
  flow.eco.provider.handler = (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    res.end(`${JSON.stringify(record(1))}\n${JSON.stringify(record(2))}\n`);
  };
  const res = await startRead(g, flow.eco.agreement, flow.consumerToken);
  const { id } = (await res.json()) as { id: string };
  const done = await settled(g, id, flow.consumerToken);
  expect(done.state).toBe("ready");
  expect(await objectsOf(g, id)).toHaveLength(1);
  return { id, url: String(done.url) };
}

describe("revocation", () => {
  it("deletes the bodies of a suspended partner's transfers from the outbox pass, then answers 403", async ({
    g,
  }) => {
    const flow = await transferFlow(g);
    try {
      const { id, url } = await readyTransfer(g, flow);
      const suspended = await g.t.admin(
        "POST",
        `/admin/partners/${flow.eco.ids.provider}/suspend`,
        {
          reason: "audit",
        },
      );
      expect(suspended.status).toBe(200);
      // The status-change path: the pass that fans the event out (no read of the transfer).
      flow.eco.consumer.handler = json({});
      await processOutbox(g.t.gw);
      expect(await objectsOf(g, id)).toEqual([]);
      expect((await new TransferStore(g.t.gw.db).get(id))?.state).toBe("revoked");
      expect((await curl([url])).status).toBe(404);
      const read = await g.http("GET", `/v1/transfers/${id}`, {
        token: flow.consumerToken,
        headers: { "Data-Purpose": PURPOSE },
      });
      expect(read.status).toBe(403);
      expect(await read.json()).toMatchObject({ code: "partner_suspended" });
    } finally {
      await flow.eco.close();
    }
  });

  it("revokes on read when the agreement stopped, before any pass ran", async ({ g }) => {
    const flow = await transferFlow(g);
    try {
      const { id } = await readyTransfer(g, flow);
      const stopped = await g.t.admin("POST", `/admin/agreements/${flow.eco.agreement}/suspend`, {
        reason: "dispute",
      });
      expect(stopped.status).toBe(200);
      const read = await g.http("GET", `/v1/transfers/${id}`, {
        token: flow.consumerToken,
        headers: { "Data-Purpose": PURPOSE },
      });
      expect(read.status).toBe(403);
      expect(await read.json()).toMatchObject({ code: "agreement_inactive" });
      expect((await new TransferStore(g.t.gw.db).get(id))?.state).toBe("revoked");
      expect(await objectsOf(g, id)).toEqual([]);
    } finally {
      await flow.eco.close();
    }
  });

  it("expires a body 24 hours after ready", async ({ g }) => {
    const flow = await transferFlow(g);
    try {
      const { id } = await readyTransfer(g, flow);
      g.t.clock.offsetMs = 24 * 3600_000 + 1000;
      const token = await g.t.token(flow.eco.ids.consumer, [`agreement:${flow.eco.agreement}`]);
      const late = await settled(g, id, token);
      expect(late).toMatchObject({ state: "expired", url: null });
      expect(await objectsOf(g, id)).toEqual([]);
    } finally {
      g.t.clock.offsetMs = 0;
      await flow.eco.close();
    }
  });
});
