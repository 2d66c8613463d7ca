/**
 * Phase-out at a date and the exit obligations: nothing changes before the
 * date; from it the partner reads offboarded, its agreements are ended, it
 * can only get the attestation scope and post attestations. Operators see
 * what it received and the attestations outstanding, and record them for a
 * revoked partner. The gateway's clock is moved forward (t.clock.offsetMs).
 */
import { describe, expect } from "vitest";
import { RECORDS } from "../support/ecosystem.ts";
import { it } from "../support/fixtures.ts";
import { accessToken, admin, adminJson, auditAll, codeOf, read, secretToken } from "./helpers.ts";

const RETENTION_DAYS = 30;
/** Every ecosystem here: its agreement names a retention period. */
const RETAINED = { agreement: { retentionDays: RETENTION_DAYS } };

interface Exit {
  partner: string;
  status: string;
  received: {
    agreement: string;
    dataset: string;
    provider: string;
    records: number;
    retentionDays: number | null;
    attestation: unknown;
  }[];
  outstanding: string[];
}

describe("phase-out", () => {
  it("changes nothing before its date; from it the partner is offboarded and may only attest", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem(RETAINED);
    const id = eco.ids.consumer;
    const secret = eco.secrets[id] ?? "";
    const oldToken = await eco.partnerToken(id);
    const providerToken = await eco.partnerToken(eco.ids.provider);
    expect((await read(t, eco, oldToken)).status).toBe(200);

    const at = new Date(t.gw.clock().getTime() + 60_000).toISOString();
    const scheduled = await admin(t, "POST", `/admin/partners/${id}/phase-out`, {
      at,
      reason: "contract not renewed",
    });
    expect(scheduled.status).toBe(200);
    expect(await scheduled.json()).toMatchObject({ status: "active", phaseOutAt: at });

    // Before the date: as before.
    expect((await read(t, eco, oldToken)).status).toBe(200);
    await accessToken(await secretToken(t, id, secret, `agreement:${eco.agreement}`));
    expect((await adminJson(t, "GET", `/admin/partners/${id}`)).status).toBe("active");
    expect((await adminJson(t, "GET", `/admin/agreements/${eco.agreement}`)).status).toBe("active");

    t.clock.offsetMs += 120_000;

    expect((await adminJson(t, "GET", `/admin/partners/${id}`)).status).toBe("offboarded");
    const listed = await adminJson<{ items: { id: string; status: string }[] }>(
      t,
      "GET",
      "/admin/partners",
    );
    expect(listed.items.find((p) => p.id === id)?.status).toBe("offboarded");
    expect((await adminJson(t, "GET", `/admin/agreements/${eco.agreement}`)).status).toBe("ended");
    const ofPartner = await adminJson<{ items: { id: string; status: string }[] }>(
      t,
      "GET",
      `/admin/agreements?partner=${id}`,
    );
    expect(ofPartner.items.map((a) => a.status)).toEqual(["ended"]);

    // The old agreement token no longer moves data, for either party.
    const refused = await read(t, eco, oldToken);
    expect(refused.status).toBe(403);
    expect(await codeOf(refused)).toBe("partner_offboarded");
    const pushed = await t.call("POST", `/v1/exchange/${eco.agreement}`, {
      token: providerToken,
      body: { items: [{ vin: "VIN-9" }] },
      headers: { "Data-Purpose": "insurance-pricing" },
    });
    expect(pushed.status).toBe(403);
    expect(await codeOf(pushed)).toBe("partner_offboarded");

    // Tokens: agreement scopes are refused, attestation is what it gets.
    const agreementScope = await secretToken(t, id, secret, `agreement:${eco.agreement}`);
    expect(agreementScope.status).toBe(400);
    expect(await codeOf(agreementScope)).toBe("invalid_scope");
    const noScope = await secretToken(t, id, secret);
    expect(((await noScope.json()) as { scope: string }).scope).toBe("attestation");
    const attestToken = await accessToken(await secretToken(t, id, secret, "attestation"));

    // Every call but the attestation is refused.
    for (const [method, path] of [
      ["GET", `/v1/exchange/${eco.agreement}`],
      ["GET", "/v1/agreements"],
      ["GET", "/v1/usage"],
      ["GET", "/admin/partners"],
      ["GET", "/metrics/flows"],
    ] as const) {
      const res = await t.call(method, path, {
        token: attestToken,
        headers: { "Data-Purpose": "insurance-pricing" },
      });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    const deletedAt = t.gw.clock().toISOString();
    const attested = await t.call("POST", "/v1/attestations", {
      token: attestToken,
      body: { agreement: eco.agreement, deletedAt, statement: "all copies deleted" },
    });
    expect(attested.status).toBe(201);
    expect(await attested.json()).toMatchObject({
      partner: id,
      agreement: eco.agreement,
      recordedBy: id,
    });

    // Operators cannot bring an offboarded partner back through suspend/resume.
    expect((await admin(t, "POST", `/admin/partners/${id}/suspend`, { reason: "x" })).status).toBe(
      409,
    );
    // Revoking an offboarded partner cuts it off entirely; reinstating brings it back to offboarded.
    const revoked = await adminJson(t, "POST", `/admin/partners/${id}/revoke`, { reason: "x" });
    expect(revoked.status).toBe("revoked");
    expect((await secretToken(t, id, secret, "attestation")).status).toBe(401);
    const back = await adminJson(t, "POST", `/admin/partners/${id}/reinstate`, { reason: "y" });
    expect(back.status).toBe("offboarded");
    expect((await secretToken(t, id, secret, "attestation")).status).toBe(200);

    const audit = await auditAll(t, { partner: id, action: "partner.phase_out" });
    expect(audit[0]).toMatchObject({ actor: "operator", reason: "contract not renewed" });
    expect(audit[0]?.details).toMatchObject({ at });
  });

  it("refuses the old agreement token of an offboarded partner on its own listings", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem(RETAINED);
    const oldToken = await eco.partnerToken(eco.ids.consumer);
    const at = new Date(t.gw.clock().getTime() + 30_000).toISOString();
    await adminJson(t, "POST", `/admin/partners/${eco.ids.consumer}/phase-out`, {
      at,
      reason: "leaving",
    });
    t.clock.offsetMs += 60_000;
    for (const path of ["/v1/agreements", "/v1/usage"]) {
      const res = await t.call("GET", path, { token: oldToken });
      expect(res.status, path).toBe(403);
    }
  });
});

describe("exit obligations", () => {
  it("lists what an offboarded partner received and clears it with the partner's attestation", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem(RETAINED);
    const id = eco.ids.consumer;
    const token = await eco.partnerToken(id);
    for (let i = 0; i < 2; i++) expect((await read(t, eco, token)).status).toBe(200);

    await adminJson(t, "POST", `/admin/partners/${id}/phase-out`, {
      at: new Date(t.gw.clock().getTime() + 10_000).toISOString(),
      reason: "leaving",
    });
    t.clock.offsetMs += 20_000;

    const exit = await adminJson<Exit>(t, "GET", `/admin/partners/${id}/exit`);
    expect(exit).toMatchObject({ partner: id, status: "offboarded" });
    expect(exit.received).toEqual([
      expect.objectContaining({
        agreement: eco.agreement,
        dataset: eco.ids.dataset,
        provider: eco.ids.provider,
        records: 2 * RECORDS.length,
        retentionDays: RETENTION_DAYS,
        attestation: null,
      }),
    ]);
    expect(exit.outstanding).toEqual([eco.agreement]);
    // The provider received nothing under it: no obligation.
    const providerExit = await adminJson<Exit>(
      t,
      "GET",
      `/admin/partners/${eco.ids.provider}/exit`,
    );
    expect(providerExit.outstanding).toEqual([]);

    const attestToken = await accessToken(
      await secretToken(t, id, eco.secrets[id] ?? "", "attestation"),
    );
    const posted = await t.call("POST", "/v1/attestations", {
      token: attestToken,
      body: {
        agreement: eco.agreement,
        deletedAt: t.gw.clock().toISOString(),
        statement: "deleted from every system",
      },
    });
    expect(posted.status).toBe(201);
    const after = await adminJson<Exit>(t, "GET", `/admin/partners/${id}/exit`);
    expect(after.outstanding).toEqual([]);
    expect(after.received[0]?.attestation).toMatchObject({ recordedBy: id });
  });

  it("lets an operator record the attestation of a revoked partner, audited on its behalf", async ({
    t,
    ecosystem,
  }) => {
    const eco = await ecosystem(RETAINED);
    const id = eco.ids.consumer;
    const token = await eco.partnerToken(id);
    expect((await read(t, eco, token)).status).toBe(200);
    await adminJson(t, "POST", `/admin/partners/${id}/revoke`, { reason: "breach" });

    const refused = await secretToken(t, id, eco.secrets[id] ?? "", "attestation");
    expect(refused.status).toBe(401);
    const exit = await adminJson<Exit>(t, "GET", `/admin/partners/${id}/exit`);
    expect(exit.status).toBe("revoked");
    expect(exit.outstanding).toEqual([eco.agreement]);
    expect(exit.received[0]?.records).toBe(RECORDS.length);

    const future = await admin(t, "POST", `/admin/partners/${id}/attestations`, {
      agreement: eco.agreement,
      deletedAt: new Date(t.gw.clock().getTime() + 3_600_000).toISOString(),
      statement: "will delete",
    });
    expect(future.status).toBe(400);
    const notTheirs = await admin(t, "POST", `/admin/partners/${id}/attestations`, {
      agreement: "agr-of-nobody",
      deletedAt: t.gw.clock().toISOString(),
      statement: "x",
    });
    expect(notTheirs.status).toBe(404);

    const recorded = await admin(t, "POST", `/admin/partners/${id}/attestations`, {
      agreement: eco.agreement,
      deletedAt: t.gw.clock().toISOString(),
      statement: "signed letter of deletion received",
    });
    expect(recorded.status).toBe(201);
    expect(await recorded.json()).toMatchObject({ partner: id, recordedBy: "operator" });
    const after = await adminJson<Exit>(t, "GET", `/admin/partners/${id}/exit`);
    expect(after.outstanding).toEqual([]);
    const audit = await auditAll(t, { partner: id, action: "partner.attestation" });
    expect(audit[0]).toMatchObject({
      actor: "operator",
      target: `agreement:${eco.agreement}`,
      details: expect.objectContaining({ onBehalfOf: id }),
    });
  });

  it("refuses to phase out a revoked partner", async ({ t, ecosystem }) => {
    const eco = await ecosystem(RETAINED);
    await adminJson(t, "POST", `/admin/partners/${eco.ids.provider}/revoke`, { reason: "x" });
    const res = await admin(t, "POST", `/admin/partners/${eco.ids.provider}/phase-out`, {
      at: t.gw.clock().toISOString(),
      reason: "x",
    });
    expect(res.status).toBe(409);
  });
});
