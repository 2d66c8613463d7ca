/**
 * Agreement requests: requested → agreed | rejected | cancelled and nothing
 * else; who may take each step; approval makes the agreement in the same
 * transaction (so a failed approval leaves neither); of a concurrent approve
 * and cancel exactly one wins, on two gateway processes sharing the tables;
 * no token carries the agreement before approval; signed events to both
 * parties; every step audited with its actor.
 */
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_JWT_TYPE, processOutbox } from "../../functions/events/deliver.ts";
import { agreementIdFor } from "../../policies/offers.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";
import {
  createMember,
  createWorld,
  expectStatus,
  type Member,
  type OfferView,
  publish,
  RECORDS,
  type RequestView,
  tokenFor,
  unique,
  type World,
} from "./helpers.ts";

let t: TestGateway;
let w: World;
let offer: OfferView;

beforeAll(async () => {
  t = await createTestGateway();
  w = await createWorld(t);
  offer = await publish(w);
});
afterAll(() => w.close());

const code = async (res: Response, status: number) =>
  ((await expectStatus(res, status)) as { code: string }).code;

async function request(body: Record<string, unknown> = {}, by: Member = w.consumer) {
  return (await expectStatus(
    await by.call("POST", "/v1/agreement-requests", { offer: offer.id, ...body }),
    201,
  )) as RequestView;
}

const step = (by: Member, id: string, name: string, body?: unknown) =>
  by.call("POST", `/v1/agreement-requests/${id}/${name}`, body);

describe("asking for an offer", () => {
  it("answers 201 requested with the offer's terms, or the subset asked for", async () => {
    const all = await request();
    expect(all).toMatchObject({
      offer: offer.id,
      dataset: w.dataset,
      provider: w.provider.id,
      consumer: w.consumer.id,
      fields: offer.fields,
      purposes: offer.purposes,
      state: "requested",
      agreement: null,
    });
    expect(all.id).toMatch(/^req-[0-9a-f]{20}$/);
    expect(Date.parse(all.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    const some = await request({ fields: ["vin", "mileage"], purposes: ["fleet-analytics"] });
    expect(some).toMatchObject({
      fields: ["vin", "mileage"],
      purposes: ["fleet-analytics"],
      pseudonymize: [],
    });
  });

  it("refuses what the offer does not hold: 422 not_in_offer, naming each", async () => {
    for (const body of [
      { fields: ["vin", "engine.calibration"] },
      { fields: ["speed"] },
      { purposes: ["marketing"] },
      { actions: ["deliver"] },
    ]) {
      const res = await w.consumer.call("POST", "/v1/agreement-requests", {
        offer: offer.id,
        ...body,
      });
      const problem = (await expectStatus(res, 422)) as {
        code: string;
        violations: { code: string; field: string }[];
      };
      expect(problem.code).toBe("not_in_offer");
      expect(problem.violations.length).toBe(1);
    }
  });

  it("applies the agreement rules to the asker: personal data without purpose, export control", async () => {
    const noPurpose = await w.consumer.call("POST", "/v1/agreement-requests", {
      offer: offer.id,
      purposes: [],
    });
    expect(await code(noPurpose, 422)).toBe("personal_field_needs_purpose");
    const far = await w.outsider.call("POST", "/v1/agreement-requests", { offer: offer.id });
    expect(await code(far, 422)).toBe("jurisdiction_blocked");
  });

  it("refuses unknown and withdrawn offers (404), one's own offer (400), malformed bodies (400)", async () => {
    expect(
      await code(
        await w.consumer.call("POST", "/v1/agreement-requests", { offer: "no-such-offer" }),
        404,
      ),
    ).toBe("offer_not_found");
    const gone = await publish(w);
    await expectStatus(
      await w.provider.call("DELETE", `/v1/datasets/${w.dataset}/offers/${gone.id}`),
      200,
    );
    expect(
      await code(await w.consumer.call("POST", "/v1/agreement-requests", { offer: gone.id }), 404),
    ).toBe("offer_not_found");
    expect(
      await code(await w.provider.call("POST", "/v1/agreement-requests", { offer: offer.id }), 400),
    ).toBe("invalid_request");
    expect(
      await code(
        await w.consumer.call("POST", "/v1/agreement-requests", { offer: offer.id, extra: 1 }),
        400,
      ),
    ).toBe("invalid_request");
  });

  it("a provider that is no longer active: 422 partner_not_active", async () => {
    const provider = await createMember(t, unique("prov"), "SE");
    const ds = unique("ds");
    await expectStatus(
      await t.admin("POST", "/admin/datasets", {
        id: ds,
        owner: provider.id,
        path: "/p",
        fields: { a: "shared" },
      }),
      201,
    );
    const own = (await expectStatus(
      await provider.call("POST", `/v1/datasets/${ds}/offers`, {
        actions: ["read"],
        fields: ["a"],
      }),
      201,
    )) as OfferView;
    await expectStatus(
      await t.admin("POST", `/admin/partners/${provider.id}/suspend`, { reason: "test" }),
      200,
    );
    const res = await w.consumer.call("POST", "/v1/agreement-requests", { offer: own.id });
    expect(await code(res, 422)).toBe("partner_not_active");
    await provider.backend.close();
  });
});

describe("the steps", () => {
  it("approve: the provider only; the agreement exists, active, version 1, valid from now for durationDays", async () => {
    const r = await request({ fields: ["vin", "mileage", "driver.name"] });
    expect(await code(await step(w.consumer, r.id, "approve"), 403)).toBe("not_party");
    expect(await code(await step(w.outsider, r.id, "approve"), 404)).toBe(
      "agreement_request_not_found",
    );
    const before = Date.now();
    const agreed = (await expectStatus(
      await step(w.provider, r.id, "approve", { reason: "welcome" }),
      200,
    )) as RequestView;
    expect(agreed).toMatchObject({
      state: "agreed",
      agreement: agreementIdFor(r.id),
      decidedBy: w.provider.id,
      reason: "welcome",
    });
    const agreement = (await expectStatus(
      await t.admin("GET", `/admin/agreements/${agreed.agreement}`),
      200,
    )) as Record<string, unknown> & { validFrom: string; validUntil: string };
    expect(agreement).toMatchObject({
      status: "active",
      version: 1,
      dataset: w.dataset,
      provider: w.provider.id,
      consumer: w.consumer.id,
      actions: ["read"],
      fields: ["vin", "mileage", "driver.name"],
      pseudonymize: ["driver.name"],
      purposes: offer.purposes,
      quota: { requestsPerDay: 100 },
      retentionDays: 30,
      price: { currency: "EUR", perRequest: 100, perRecord: 2000 },
    });
    const from = Date.parse(agreement.validFrom);
    expect(from).toBeGreaterThanOrEqual(before - 1000);
    expect(from).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(agreement.validUntil) - from).toBe(90 * 86_400_000);
    // Any further step: 409 invalid_transition.
    for (const [by, name] of [
      [w.provider, "approve"],
      [w.provider, "reject"],
      [w.consumer, "cancel"],
    ] as const) {
      expect(await code(await step(by, r.id, name, { reason: "again" }), 409)).toBe(
        "invalid_transition",
      );
    }
  });

  it("reject: the provider, with a reason; then nothing more", async () => {
    const r = await request();
    expect(await code(await step(w.provider, r.id, "reject", {}), 400)).toBe("invalid_request");
    expect(await code(await step(w.consumer, r.id, "reject", { reason: "x" }), 403)).toBe(
      "not_party",
    );
    const rejected = (await expectStatus(
      await step(w.provider, r.id, "reject", { reason: "no capacity" }),
      200,
    )) as RequestView;
    expect(rejected).toMatchObject({ state: "rejected", agreement: null, reason: "no capacity" });
    expect(await code(await step(w.provider, r.id, "approve"), 409)).toBe("invalid_transition");
    expect(await code(await step(w.consumer, r.id, "cancel"), 409)).toBe("invalid_transition");
  });

  it("cancel: the consumer only, while requested", async () => {
    const r = await request();
    expect(await code(await step(w.provider, r.id, "cancel"), 403)).toBe("not_party");
    expect(await code(await step(w.outsider, r.id, "cancel"), 404)).toBe(
      "agreement_request_not_found",
    );
    const cancelled = (await expectStatus(
      await step(w.consumer, r.id, "cancel"),
      200,
    )) as RequestView;
    expect(cancelled.state).toBe("cancelled");
    expect(await code(await step(w.provider, r.id, "approve"), 409)).toBe("invalid_transition");
    expect(await code(await step(w.provider, r.id, "reject", { reason: "x" }), 409)).toBe(
      "invalid_transition",
    );
    expect(await code(await step(w.consumer, r.id, "cancel"), 409)).toBe("invalid_transition");
  });

  it("operators approve and reject, see every request, and cannot cancel", async () => {
    const a = await request();
    const b = await request();
    const pending = (await expectStatus(
      await t.admin("GET", `/admin/agreement-requests?state=requested&partner=${w.consumer.id}`),
      200,
    )) as { items: RequestView[] };
    expect(pending.items.map((r) => r.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    for (const r of pending.items) expect(r.state).toBe("requested");
    const approved = (await expectStatus(
      await t.admin("POST", `/admin/agreement-requests/${a.id}/approve`),
      200,
    )) as RequestView;
    expect(approved).toMatchObject({ state: "agreed", decidedBy: "operator" });
    const rejected = (await expectStatus(
      await t.admin("POST", `/admin/agreement-requests/${b.id}/reject`, { reason: "fraud check" }),
      200,
    )) as RequestView;
    expect(rejected.state).toBe("rejected");
    expect((await t.admin("POST", `/admin/agreement-requests/${b.id}/cancel`)).status).toBe(404);
    const one = (await expectStatus(
      await t.admin("GET", `/admin/agreement-requests/${a.id}`),
      200,
    )) as RequestView;
    expect(one.agreement).toBe(agreementIdFor(a.id));
    const now = (await expectStatus(
      await t.admin("GET", `/admin/agreement-requests?state=requested&partner=${w.consumer.id}`),
      200,
    )) as { items: RequestView[] };
    expect(now.items.map((r) => r.id)).not.toContain(a.id);
    expect(now.items.map((r) => r.id)).not.toContain(b.id);
  });

  it("each party lists its own requests, newest first, by role and state; others see none of them", async () => {
    const r = await request();
    const mine = (await expectStatus(
      await w.consumer.call("GET", "/v1/agreement-requests?role=consumer&limit=2"),
      200,
    )) as { items: RequestView[]; next: string | null };
    expect(mine.items[0]?.id).toBe(r.id);
    expect(mine.items.length).toBe(2);
    expect(mine.next).not.toBeNull();
    const rest = (await expectStatus(
      await w.consumer.call(
        "GET",
        `/v1/agreement-requests?role=consumer&limit=1000&cursor=${mine.next ?? ""}`,
      ),
      200,
    )) as { items: RequestView[] };
    const ids = [...mine.items, ...rest.items].map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    const sorted = [...mine.items, ...rest.items].map((x) => x.createdAt);
    expect(sorted).toEqual([...sorted].sort().reverse());
    const asProvider = (await expectStatus(
      await w.provider.call("GET", "/v1/agreement-requests?state=requested&role=provider"),
      200,
    )) as { items: RequestView[] };
    expect(asProvider.items.map((x) => x.id)).toContain(r.id);
    for (const x of asProvider.items)
      expect(x).toMatchObject({ state: "requested", provider: w.provider.id });
    const none = (await expectStatus(
      await w.outsider.call("GET", "/v1/agreement-requests"),
      200,
    )) as {
      items: unknown[];
    };
    expect(none.items).toEqual([]);
    expect(await code(await w.outsider.call("GET", `/v1/agreement-requests/${r.id}`), 404)).toBe(
      "agreement_request_not_found",
    );
    expect(
      (
        (await expectStatus(
          await w.provider.call("GET", `/v1/agreement-requests/${r.id}`),
          200,
        )) as RequestView
      ).id,
    ).toBe(r.id);
  });
});

describe("the agreement's scope", () => {
  it("no token carries it before approval; after it the consumer reads with it", async () => {
    const r = await request({ fields: ["vin", "mileage"], purposes: ["fleet-analytics"] });
    const id = agreementIdFor(r.id);
    const before = await tokenFor(t, w.consumer.id, w.consumer.secret, `agreement:${id}`);
    expect(before.status).toBe(400);
    expect(((await before.json()) as { error: string }).error).toBe("invalid_scope");
    await expectStatus(await step(w.provider, r.id, "approve"), 200);
    const granted = (await expectStatus(
      await tokenFor(t, w.consumer.id, w.consumer.secret, `agreement:${id} catalog`),
      200,
    )) as { access_token: string; scope: string };
    expect(granted.scope).toBe(`catalog agreement:${id}`);
    const token = granted.access_token;
    const read = await t.call("GET", `/v1/exchange/${id}`, {
      token,
      headers: { "Data-Purpose": "fleet-analytics" },
    });
    const body = (await expectStatus(read, 200)) as { items: Record<string, unknown>[] };
    expect(body.items).toEqual(RECORDS.map((x) => ({ vin: x.vin, mileage: x.mileage })));
  });

  it("a rejected or cancelled request never makes the agreement", async () => {
    const rejected = await request();
    await expectStatus(await step(w.provider, rejected.id, "reject", { reason: "no" }), 200);
    const cancelled = await request();
    await expectStatus(await step(w.consumer, cancelled.id, "cancel"), 200);
    for (const r of [rejected, cancelled]) {
      const id = agreementIdFor(r.id);
      expect((await t.admin("GET", `/admin/agreements/${id}`)).status).toBe(404);
      expect((await tokenFor(t, w.consumer.id, w.consumer.secret, `agreement:${id}`)).status).toBe(
        400,
      );
    }
  });
});

describe("atomicity", () => {
  it("an approval whose agreement cannot be written leaves the request requested, unaudited, unannounced", async () => {
    const r = await request();
    // Take the agreement's id first (an operator's agreement on the same dataset).
    const now = Date.now();
    await expectStatus(
      await t.admin("POST", "/admin/agreements", {
        id: agreementIdFor(r.id),
        dataset: w.dataset,
        provider: w.provider.id,
        consumer: w.consumer.id,
        actions: ["read"],
        fields: ["vin"],
        validFrom: new Date(now).toISOString(),
        validUntil: new Date(now + 86_400_000).toISOString(),
      }),
      201,
    );
    const auditBefore = await auditOf(r.id);
    expect(await code(await step(w.provider, r.id, "approve"), 409)).toBe("conflict");
    const after = (await expectStatus(
      await w.consumer.call("GET", `/v1/agreement-requests/${r.id}`),
      200,
    )) as RequestView;
    expect(after).toMatchObject({ state: "requested", agreement: null });
    expect(await auditOf(r.id)).toEqual(auditBefore);
    const events = (await t.gw.outbox.newEvents(1000)).filter((e) => e.subject.id === r.id);
    expect(events.map((e) => e.type)).toEqual(["agreement_request.created"]);
    const agreement = (await expectStatus(
      await t.admin("GET", `/admin/agreements/${agreementIdFor(r.id)}`),
      200,
    )) as { fields: string[] };
    expect(agreement.fields).toEqual(["vin"]);
    // The request can still be settled another way.
    await expectStatus(await step(w.consumer, r.id, "cancel"), 200);
  });

  it("approving a request whose offer was withdrawn is refused, nothing written", async () => {
    const own = await publish(w);
    const r = (await expectStatus(
      await w.consumer.call("POST", "/v1/agreement-requests", { offer: own.id }),
      201,
    )) as RequestView;
    await expectStatus(
      await w.provider.call("DELETE", `/v1/datasets/${w.dataset}/offers/${own.id}`),
      200,
    );
    expect(await code(await step(w.provider, r.id, "approve"), 409)).toBe("invalid_transition");
    expect((await t.admin("GET", `/admin/agreements/${agreementIdFor(r.id)}`)).status).toBe(404);
    await expectStatus(await step(w.provider, r.id, "reject", { reason: "offer withdrawn" }), 200);
  });

  it("of an approve and a cancel at once, on two gateway processes, exactly one wins", async () => {
    // A second gateway on the same tables: its own audit chain cursor, so the two
    // transactions really race in the store.
    const t2 = await createTestGateway({
      client: t.client,
      tables: t.gw.db.tables,
      keys: t.gw.keys,
    });
    const providerToken = await w.provider.token();
    const consumerToken = await w.consumer.token();
    const outcomes = { agreed: 0, cancelled: 0 };
    for (let round = 0; round < 6; round++) {
      const r = await request();
      const [approve, cancel] = await Promise.all([
        t.call("POST", `/v1/agreement-requests/${r.id}/approve`, { token: providerToken }),
        t2.call("POST", `/v1/agreement-requests/${r.id}/cancel`, { token: consumerToken }),
      ]);
      const statuses = [approve.status, cancel.status].sort();
      expect(statuses, `round ${round}`).toEqual([200, 409]);
      const loser = (await (approve.status === 409 ? approve : cancel).json()) as { code: string };
      expect(loser.code).toBe("invalid_transition");
      const final = (await expectStatus(
        await t.admin("GET", `/admin/agreement-requests/${r.id}`),
        200,
      )) as RequestView;
      const agreement = await t.admin("GET", `/admin/agreements/${agreementIdFor(r.id)}`);
      if (approve.status === 200) {
        outcomes.agreed++;
        expect(final.state).toBe("agreed");
        expect(agreement.status).toBe(200);
      } else {
        outcomes.cancelled++;
        expect(final.state).toBe("cancelled");
        expect(agreement.status).toBe(404);
      }
      const steps = (await auditOf(r.id)).filter((e) => e.action !== "agreement_request.create");
      expect(steps.length).toBe(1);
    }
    expect(outcomes.agreed + outcomes.cancelled).toBe(6);
    const chain = (await expectStatus(await t.admin("GET", "/admin/audit/verify"), 200)) as {
      valid: boolean;
    };
    expect(chain.valid).toBe(true);
  });
});

async function auditOf(requestId: string) {
  const page = (await expectStatus(await t.admin("GET", "/admin/audit?limit=1000"), 200)) as {
    items: { actor: string; action: string; target: string; reason: string | null }[];
  };
  return page.items.filter((e) => e.target === `agreement_request:${requestId}`);
}

describe("events and the audit trail", () => {
  it("both parties get signed agreement_request events; every step names its actor", async () => {
    const approved = await request();
    await expectStatus(await step(w.provider, approved.id, "approve"), 200);
    const rejected = await request();
    await expectStatus(
      await t.admin("POST", `/admin/agreement-requests/${rejected.id}/reject`, { reason: "r" }),
      200,
    );
    const cancelled = await request();
    await expectStatus(await step(w.consumer, cancelled.id, "cancel"), 200);
    for (let i = 0; i < 5; i++) await processOutbox(t.gw);

    const jwks = createLocalJWKSet({ keys: [...t.gw.keys.publicJwks] });
    const seen = async (m: Member) => {
      const out: { type: string; request: string }[] = [];
      for (const r of m.backend.received.filter((x) => x.url === "/gateway-events")) {
        const { payload } = await jwtVerify(r.body, jwks, {
          issuer: ISSUER,
          audience: m.id,
          typ: EVENT_JWT_TYPE,
          algorithms: ["ES256"],
        });
        const event = payload.event as { type: string; subject: { kind: string; id: string } };
        expect(event.subject.kind).toBe("agreement_request");
        out.push({ type: event.type, request: event.subject.id });
      }
      return out;
    };
    for (const m of [w.provider, w.consumer]) {
      const events = await seen(m);
      expect(events).toEqual(
        expect.arrayContaining([
          { type: "agreement_request.created", request: approved.id },
          { type: "agreement_request.approved", request: approved.id },
          { type: "agreement_request.created", request: rejected.id },
          { type: "agreement_request.rejected", request: rejected.id },
          { type: "agreement_request.cancelled", request: cancelled.id },
        ]),
      );
    }
    expect(await seen(w.outsider)).toEqual([]);

    const actions = async (id: string) =>
      (await auditOf(id)).map((e) => `${e.action} by ${e.actor}`).reverse();
    expect(await actions(approved.id)).toEqual([
      `agreement_request.create by ${w.consumer.id}`,
      `agreement_request.approve by ${w.provider.id}`,
    ]);
    expect(await actions(rejected.id)).toEqual([
      `agreement_request.create by ${w.consumer.id}`,
      "agreement_request.reject by operator",
    ]);
    expect(await actions(cancelled.id)).toEqual([
      `agreement_request.create by ${w.consumer.id}`,
      `agreement_request.cancel by ${w.consumer.id}`,
    ]);
  });
});
