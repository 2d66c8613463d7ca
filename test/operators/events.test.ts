/**
 * Counterparty events: an agreement suspended or terminated, a party revoked
 * reaches the other party's backend (real HTTP servers on loopback) as a JWS
 * signed with the gateway's keys, verified here with the published JWKS.
 * Deliveries are retried with backoff, their state visible to operators, and
 * neither lost nor duplicated: one delivery per recipient per event, a crash
 * between fan-out and delivery leaves them pending, workers racing send once.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createLocalJWKSet, type JWTPayload, jwtVerify } from "jose";
import { beforeAll, describe, expect } from "vitest";
import {
  EVENT_JWT_TYPE,
  fanOutNewEvents,
  MAX_ATTEMPTS,
  processOutbox,
} from "../../functions/events/deliver.ts";
import { localDynamoClient } from "../../functions/local/server.ts";
import { Db } from "../../functions/store/db.ts";
import { type Delivery, type GatewayEvent, Outbox } from "../../functions/store/outbox.ts";
import type { Received } from "../support/backends.ts";
import { it } from "../support/fixtures.ts";
import { createTestGateway, dynamoEndpoint, ISSUER, type TestGateway } from "../support/gateway.ts";
import { adminJson } from "./helpers.ts";

const eventsAt = (backend: { received: Received[] }) =>
  backend.received.filter((r) => r.method === "POST" && r.url === "/gateway-events");

interface EventClaims extends JWTPayload {
  event: GatewayEvent;
}

async function verifyEvent(t: TestGateway, r: Received, recipient: string): Promise<EventClaims> {
  expect(r.headers["content-type"]).toBe("application/jose");
  const jwks = (await (await t.app.request("/.well-known/jwks.json")).json()) as {
    keys: never[];
  };
  const { payload, protectedHeader } = await jwtVerify<EventClaims>(
    r.body,
    createLocalJWKSet(jwks),
    {
      issuer: ISSUER,
      audience: recipient,
      typ: EVENT_JWT_TYPE,
      algorithms: ["ES256"],
      currentDate: t.gw.clock(),
    },
  );
  expect(protectedHeader).toMatchObject({ alg: "ES256", typ: "gateway-event+jwt" });
  expect(typeof protectedHeader.kid).toBe("string");
  return payload;
}

async function deliveries(t: TestGateway, state: string) {
  return (await adminJson<{ items: Delivery[] }>(t, "GET", `/admin/deliveries?state=${state}`))
    .items;
}

describe("events to counterparties", () => {
  it("tells both parties of a suspended and of a terminated agreement, once each", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    for (const [name, type] of [
      ["suspend", "agreement.suspended"],
      ["terminate", "agreement.terminated"],
    ] as const) {
      const reason = `reason for ${name}`;
      await adminJson(t, "POST", `/admin/agreements/${eco.agreement}/${name}`, { reason });
      await processOutbox(t.gw);
      for (const [backend, id] of [
        [eco.provider, eco.ids.provider],
        [eco.consumer, eco.ids.consumer],
      ] as const) {
        const got = eventsAt(backend).at(-1);
        if (got === undefined) throw new Error(`${id} got no event`);
        const claims = await verifyEvent(t, got, id);
        expect(claims.event).toMatchObject({
          type,
          subject: { kind: "agreement", id: eco.agreement },
          reason,
        });
        expect(claims.jti).toBe(`${claims.event.id}:${id}`);
        expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeLessThanOrEqual(300);
      }
    }
    expect(eventsAt(eco.provider)).toHaveLength(2);
    expect(eventsAt(eco.consumer)).toHaveLength(2);
    await processOutbox(t.gw);
    expect(eventsAt(eco.provider)).toHaveLength(2);
    const delivered = (await deliveries(t, "delivered")).filter(
      (d) => d.event.subject.id === eco.agreement,
    );
    expect(delivered).toHaveLength(4);
    expect(delivered.every((d) => d.attempts === 1 && d.deliveredAt !== null)).toBe(true);
  });

  it("tells the counterparty of a revoked partner, not the revoked partner", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    await adminJson(t, "POST", `/admin/partners/${eco.ids.consumer}/revoke`, {
      reason: "breach of terms",
    });
    await processOutbox(t.gw);
    expect(eventsAt(eco.consumer)).toHaveLength(0);
    const [got] = eventsAt(eco.provider);
    if (got === undefined) throw new Error("the provider got no event");
    const claims = await verifyEvent(t, got, eco.ids.provider);
    expect(claims.event).toMatchObject({
      type: "partner.revoked",
      subject: { kind: "partner", id: eco.ids.consumer },
      reason: "breach of terms",
    });
    // A JWS for one partner does not verify for another.
    await expect(verifyEvent(t, got, eco.ids.consumer)).rejects.toThrow();
  });

  it("leaves deliveries pending when the worker stops after the fan-out, and sends each once", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    await adminJson(t, "POST", `/admin/agreements/${eco.agreement}/suspend`, { reason: "x" });
    await fanOutNewEvents(t.gw);
    const pending = (await deliveries(t, "pending")).filter(
      (d) => d.event.subject.id === eco.agreement,
    );
    expect(pending.map((d) => d.recipient).sort()).toEqual(
      [eco.ids.provider, eco.ids.consumer].sort(),
    );
    expect(eventsAt(eco.provider)).toHaveLength(0);
    // Several workers at once (the local worker, a stream retry): one send per recipient.
    await adminJson(t, "POST", `/admin/agreements/${eco.agreement}/resume`, { reason: "y" });
    await Promise.all([processOutbox(t.gw), processOutbox(t.gw), processOutbox(t.gw)]);
    await processOutbox(t.gw);
    for (const backend of [eco.provider, eco.consumer]) {
      const got = eventsAt(backend);
      const types = await Promise.all(
        got.map(
          async (r) =>
            JSON.parse(Buffer.from(r.body.split(".")[1] ?? "", "base64url").toString()).event.type,
        ),
      );
      expect(types.sort()).toEqual(["agreement.resumed", "agreement.suspended"]);
    }
  });

  it("retries a failing backend with growing backoff, visible to operators, until it accepts", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    let fail = true;
    eco.consumer.handler = (req, res) => {
      if (req.url === "/gateway-events" && fail) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(204).end();
    };
    await adminJson(t, "POST", `/admin/agreements/${eco.agreement}/suspend`, { reason: "x" });
    await processOutbox(t.gw);
    const mine = async (state: string) =>
      (await deliveries(t, state)).find(
        (d) => d.recipient === eco.ids.consumer && d.event.subject.id === eco.agreement,
      );
    const first = await mine("pending");
    expect(first).toMatchObject({ attempts: 1, state: "pending" });
    expect(first?.lastError).toContain("503");
    const gap1 = Date.parse(first?.nextAttemptAt ?? "") - t.gw.clock().getTime();
    expect(gap1).toBeGreaterThan(0);
    expect(await mine("delivered")).toBeUndefined();

    // Not due yet: no attempt.
    await processOutbox(t.gw);
    expect(eventsAt(eco.consumer)).toHaveLength(1);

    t.clock.offsetMs += gap1 + 100;
    await processOutbox(t.gw);
    const second = await mine("pending");
    expect(second?.attempts).toBe(2);
    const gap2 = Date.parse(second?.nextAttemptAt ?? "") - t.gw.clock().getTime();
    expect(gap2).toBeGreaterThan(gap1);

    fail = false;
    t.clock.offsetMs += gap2 + 100;
    await processOutbox(t.gw);
    const done = await mine("delivered");
    expect(done).toMatchObject({ state: "delivered", attempts: 3, lastError: null });
    expect(await mine("pending")).toBeUndefined();
    const sent = eventsAt(eco.consumer);
    expect(sent).toHaveLength(3);
    const jtis = await Promise.all(
      sent.map(async (r) => (await verifyEvent(t, r, eco.ids.consumer)).jti),
    );
    expect(new Set(jtis).size).toBe(1);
    // The provider's backend accepted at once.
    expect(eventsAt(eco.provider)).toHaveLength(1);
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts and lists the delivery as failed`, async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    eco.provider.handler = (_req, res) => {
      res.writeHead(500).end();
    };
    await adminJson(t, "POST", `/admin/partners/${eco.ids.consumer}/suspend`, { reason: "x" });
    for (let i = 0; i < MAX_ATTEMPTS + 2; i++) {
      await processOutbox(t.gw);
      t.clock.offsetMs += 3_600_000;
    }
    expect(eventsAt(eco.provider)).toHaveLength(MAX_ATTEMPTS);
    const failed = (await deliveries(t, "failed")).find(
      (d) => d.recipient === eco.ids.provider && d.event.subject.id === eco.ids.consumer,
    );
    expect(failed).toMatchObject({ state: "failed", attempts: MAX_ATTEMPTS, nextAttemptAt: null });
    expect(failed?.lastError).toContain("500");
  });
});

describe("fan-out beyond one transaction", () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await createTestGateway();
  });

  function crashingClient(failAt: number): DynamoDBClient {
    const client = localDynamoClient(dynamoEndpoint());
    let n = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "TransactWriteItemsCommand" && ++n === failAt)
          throw new Error("the worker died here");
        return next(args);
      },
      { step: "initialize" },
    );
    return client;
  }

  it("creates every delivery exactly once when a fan-out of 150 recipients is interrupted and run again", async () => {
    const recipients = Array.from({ length: 150 }, (_, i) => `r-${String(i).padStart(3, "0")}`);
    const event = g.gw.outbox.newEvent(
      "partner.revoked",
      { kind: "partner", id: "big-partner" },
      "x",
      {},
      g.gw.clock(),
    );
    expect((await g.gw.db.transact([g.gw.outbox.eventOps(event)], "event")).ok).toBe(true);

    const crashing = new Outbox(new Db(crashingClient(2), g.gw.db.tables));
    await expect(crashing.fanOut(event, recipients, g.gw.clock())).rejects.toThrow();
    expect((await g.gw.outbox.getDeliveries(event.id)).length).toBe(99);
    expect((await g.gw.outbox.newEvents()).map((e) => e.id)).toContain(event.id);

    // The next pass, and a late duplicate pass, add only what is missing.
    const created = await g.gw.outbox.fanOut(event, recipients, g.gw.clock());
    expect(created).toBe(51);
    expect(await g.gw.outbox.fanOut(event, recipients, g.gw.clock())).toBe(0);
    const all = await g.gw.outbox.getDeliveries(event.id);
    expect(all.map((d) => d.recipient).sort()).toEqual(recipients);
    expect((await g.gw.outbox.newEvents()).map((e) => e.id)).not.toContain(event.id);
  });

  it("creates each delivery once when two workers fan out the same event together", async () => {
    const event = g.gw.outbox.newEvent(
      "agreement.suspended",
      { kind: "agreement", id: "agr-x" },
      "x",
      {},
      g.gw.clock(),
    );
    await g.gw.db.transact([g.gw.outbox.eventOps(event)], "event");
    const other = new Outbox(new Db(localDynamoClient(dynamoEndpoint()), g.gw.db.tables));
    const counts = await Promise.all([
      g.gw.outbox.fanOut(event, ["a-1", "b-2"], g.gw.clock()),
      other.fanOut(event, ["a-1", "b-2"], g.gw.clock()),
    ]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
    expect((await g.gw.outbox.getDeliveries(event.id)).map((d) => d.recipient).sort()).toEqual([
      "a-1",
      "b-2",
    ]);
  });
});
