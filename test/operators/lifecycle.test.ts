/**
 * Partner and agreement lifecycles through the operators' API: every
 * transition, the refused ones (409), idempotent repeats, the audit entry of
 * each change, and the effect on the very next request (exchange and token
 * endpoint), with the same token the partner held before.
 */
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.ts";
import type { TestGateway } from "../support/gateway.ts";
import { accessToken, admin, adminJson, auditAll, codeOf, read, secretToken } from "./helpers.ts";

/** Runs a transition and returns the answer with its request id. */
async function transition(t: TestGateway, path: string, reason: string) {
  const res = await admin(t, "POST", path, { reason });
  const requestId = res.headers.get("X-Request-Id");
  const body = (await res.json()) as { status: string; code?: string };
  return { status: res.status, body, requestId };
}

async function expectAudited(
  t: TestGateway,
  action: string,
  target: string,
  reason: string,
  requestId: string | null,
) {
  const entries = await auditAll(t, { action });
  const entry = entries.find((e) => e.requestId === requestId);
  expect(entry, `${action} with request id ${requestId}`).toMatchObject({
    actor: "operator",
    action,
    target,
    reason,
  });
  return entries.filter((e) => e.target === target);
}

describe("partner lifecycle", () => {
  it("suspend, resume, revoke, reinstate: each audited and effective on the next request", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    const id = eco.ids.consumer;
    const secret = eco.secrets[id] ?? "";
    const token = await eco.partnerToken(id);
    expect((await read(t, eco, token)).status).toBe(200);

    const steps: [string, string, number | null, string | null][] = [
      // transition, status after, exchange status with the old token, its code
      ["suspend", "suspended", 403, "partner_suspended"],
      ["resume", "active", 200, null],
      ["revoke", "revoked", 403, "partner_revoked"],
      ["reinstate", "active", 200, null],
    ];
    for (const [name, after, exchangeStatus, code] of steps) {
      const reason = `test ${name} of ${id}`;
      const r = await transition(t, `/admin/partners/${id}/${name}`, reason);
      expect(r.status, name).toBe(200);
      expect(r.body.status).toBe(after);
      const shown = await adminJson<{ status: string }>(t, "GET", `/admin/partners/${id}`);
      expect(shown.status).toBe(after);

      const next = await read(t, eco, token);
      expect(next.status, `exchange after ${name}`).toBe(exchangeStatus);
      if (code !== null) expect(await codeOf(next)).toBe(code);

      const tokenRes = await secretToken(t, id, secret, `agreement:${eco.agreement}`);
      if (after === "active") expect(tokenRes.status).toBe(200);
      else {
        expect(tokenRes.status).toBe(401);
        expect(await codeOf(tokenRes)).toBe("invalid_client");
      }
      await expectAudited(t, `partner.${name}`, `partner:${id}`, reason, r.requestId);
    }
  });

  it("refuses invalid transitions with 409 and answers repeats without a second change", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    const id = eco.ids.provider;
    const p = (name: string) => `/admin/partners/${id}/${name}`;

    expect((await transition(t, p("reinstate"), "not revoked")).status).toBe(200); // active already
    expect((await transition(t, p("resume"), "not suspended")).status).toBe(200); // active already

    expect((await transition(t, p("suspend"), "first")).status).toBe(200);
    const again = await transition(t, p("suspend"), "second");
    expect(again.status).toBe(200);
    expect(again.body.status).toBe("suspended");
    const reinstateSuspended = await transition(t, p("reinstate"), "wrong way out");
    expect(reinstateSuspended.status).toBe(409);
    expect(reinstateSuspended.body.code).toBe("conflict");

    expect((await transition(t, p("revoke"), "cut off")).status).toBe(200);
    expect((await transition(t, p("revoke"), "cut off again")).status).toBe(200);
    for (const name of ["suspend", "resume"]) {
      const r = await transition(t, p(name), "not from revoked");
      expect(r.status, name).toBe(409);
      expect(r.body.code).toBe("conflict");
    }
    const shown = await adminJson<{ status: string }>(t, "GET", `/admin/partners/${id}`);
    expect(shown.status).toBe("revoked");

    const entries = (await auditAll(t, { partner: id })).filter((e) =>
      e.action.startsWith("partner."),
    );
    // Only the changes: create, one suspend, one revoke.
    expect(entries.map((e) => e.action).sort()).toEqual([
      "partner.create",
      "partner.revoke",
      "partner.suspend",
    ]);
    const revoke = entries.find((e) => e.action === "partner.revoke");
    expect(revoke?.reason).toBe("cut off");
    expect(revoke?.details).toMatchObject({ from: "suspended", to: "revoked" });
  });

  it("stops the consumer's flow when its provider is revoked, without touching the agreement", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    const token = await eco.partnerToken(eco.ids.consumer);
    expect((await transition(t, `/admin/partners/${eco.ids.provider}/revoke`, "x")).status).toBe(
      200,
    );
    const next = await read(t, eco, token);
    expect(next.status).toBe(403);
    expect(await codeOf(next)).toBe("partner_revoked");
    const agreement = await adminJson<{ status: string }>(
      t,
      "GET",
      `/admin/agreements/${eco.agreement}`,
    );
    expect(agreement.status).toBe("active");
  });

  it("settles concurrent identical transitions into one change", async ({ t, ecosystem }) => {
    const eco = await ecosystem();
    const id = eco.ids.consumer;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => transition(t, `/admin/partners/${id}/suspend`, "at once")),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const entries = (await auditAll(t, { partner: id, action: "partner.suspend" })).filter(
      (e) => e.target === `partner:${id}`,
    );
    expect(entries).toHaveLength(1);
  });

  it("answers 404 for an unknown partner and 400 without a reason", async ({ t, ecosystem }) => {
    const missing = await transition(t, "/admin/partners/nobody-here/suspend", "x");
    expect(missing.status).toBe(404);
    const eco = await ecosystem();
    const res = await admin(t, "POST", `/admin/partners/${eco.ids.consumer}/suspend`, {});
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe("invalid_request");
  });
});

describe("agreement lifecycle", () => {
  it("suspend, resume, terminate: each audited and effective on the next request; terminated is final", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    const consumer = eco.ids.consumer;
    const secret = eco.secrets[consumer] ?? "";
    const token = await eco.partnerToken(consumer);
    const a = (name: string) => `/admin/agreements/${eco.agreement}/${name}`;
    const target = `agreement:${eco.agreement}`;

    const suspended = await transition(t, a("suspend"), "audit pending");
    expect(suspended.status).toBe(200);
    expect(suspended.body.status).toBe("suspended");
    let next = await read(t, eco, token);
    expect(next.status).toBe(403);
    expect(await codeOf(next)).toBe("agreement_inactive");
    const refusedScope = await secretToken(t, consumer, secret, target);
    expect(refusedScope.status).toBe(400);
    expect(await codeOf(refusedScope)).toBe("invalid_scope");
    await expectAudited(t, "agreement.suspend", target, "audit pending", suspended.requestId);
    expect((await transition(t, a("suspend"), "again")).status).toBe(200);

    const resumed = await transition(t, a("resume"), "audit passed");
    expect(resumed.body.status).toBe("active");
    expect((await read(t, eco, token)).status).toBe(200);
    await accessToken(await secretToken(t, consumer, secret, target));
    await expectAudited(t, "agreement.resume", target, "audit passed", resumed.requestId);

    const terminated = await transition(t, a("terminate"), "contract ended");
    expect(terminated.body.status).toBe("terminated");
    next = await read(t, eco, token);
    expect(next.status).toBe(403);
    expect(await codeOf(next)).toBe("agreement_inactive");
    await expectAudited(t, "agreement.terminate", target, "contract ended", terminated.requestId);

    for (const name of ["resume", "suspend"]) {
      const r = await transition(t, a(name), "try to revive");
      expect(r.status, name).toBe(409);
      expect(r.body.code).toBe("conflict");
    }
    const repeat = await transition(t, a("terminate"), "again");
    expect(repeat.status).toBe(200);
    expect(repeat.body.status).toBe("terminated");
    const amend = await admin(t, "PATCH", `/admin/agreements/${eco.agreement}`, {
      retentionDays: 10,
    });
    expect(amend.status).toBe(409);

    const changes = (await auditAll(t, { partner: consumer })).filter(
      (e) => e.target === target && e.action !== "agreement.create",
    );
    expect(changes.map((e) => e.action).sort()).toEqual([
      "agreement.resume",
      "agreement.suspend",
      "agreement.terminate",
    ]);
  });

  it("keeps a suspended partner's agreement active and refuses the flow by the partner", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem();
    const token = await eco.partnerToken(eco.ids.consumer);
    await transition(t, `/admin/partners/${eco.ids.consumer}/suspend`, "x");
    const agreement = await adminJson<{ status: string }>(
      t,
      "GET",
      `/admin/agreements/${eco.agreement}`,
    );
    expect(agreement.status).toBe("active");
    const next = await read(t, eco, token);
    expect(await codeOf(next)).toBe("partner_suspended");
  });

  it("answers 404 for an unknown agreement", async ({ t }) => {
    const r = await transition(t, "/admin/agreements/nothing-here/suspend", "x");
    expect(r.status).toBe(404);
    expect(r.body.code).toBe("agreement_not_found");
  });
});
