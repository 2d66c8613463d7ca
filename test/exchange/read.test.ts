/**
 * The read path end to end through the app: a real provider backend on
 * loopback, DynamoDB Local, tokens from the real token endpoint.
 */
import { describe, expect } from "vitest";
import type { Ecosystem } from "../support/ecosystem.ts";
import { it } from "../support/fixtures.ts";
import type { TestGateway } from "../support/gateway.ts";

const read = (
  t: TestGateway,
  eco: Ecosystem,
  token: string,
  path = "",
  headers: Record<string, string> = {},
) =>
  t.call("GET", `/v1/exchange/${eco.agreement}${path}`, {
    token,
    headers: { "Data-Purpose": "insurance-pricing", ...headers },
  });

describe("read", () => {
  it("releases only granted fields, never core ones, and pseudonymizes nothing it was not told to", async ({
    t,
    eco,
  }) => {
    const token = await eco.partnerToken(eco.ids.consumer);
    const res = await read(t, eco, token);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Records")).toBe("2");
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
    const body = (await res.json()) as { items: Record<string, unknown>[] };
    expect(body.items).toEqual([
      { vin: "VIN-1", mileage: 1000, speed: { avg: 50 }, driver: { name: "Anna" } },
      { vin: "VIN-2", mileage: 2000, speed: { avg: 60 }, driver: { name: "Ben" } },
    ]);
    const text = JSON.stringify(body);
    expect(text).not.toContain("CAL-");
    expect(text).not.toContain("license");
    expect(text).not.toContain("max");
  });

  it("calls the provider with the gateway's own token, never the partner's", async ({ t, eco }) => {
    const token = await eco.partnerToken(eco.ids.consumer);
    eco.provider.received.length = 0;
    await read(t, eco, token, "/VIN-1?fields=all");
    const call = eco.provider.received.at(-1);
    expect(call?.url).toBe("/telemetry/VIN-1?fields=all");
    const auth = call?.headers.authorization ?? "";
    expect(auth.startsWith("Bearer ")).toBe(true);
    expect(auth).not.toContain(token);
    const [header, claims] = auth
      .slice(7)
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
    expect(header.typ).toBe("gateway+jwt");
    expect(claims).toMatchObject({
      aud: eco.ids.provider,
      agreement: eco.agreement,
      party: eco.ids.consumer,
      purpose: "insurance-pricing",
    });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(300);
  });

  it("refuses a missing purpose, and a provider reading its own agreement", async ({ t, eco }) => {
    const token = await eco.partnerToken(eco.ids.consumer);
    const noPurpose = await t.call("GET", `/v1/exchange/${eco.agreement}`, { token });
    expect(noPurpose.status).toBe(403);
    expect(await noPurpose.json()).toMatchObject({ code: "purpose_not_permitted" });
    const providerToken = await eco.partnerToken(eco.ids.provider);
    const wrongRole = await read(t, eco, providerToken);
    expect(wrongRole.status).toBe(403);
    expect(await wrongRole.json()).toMatchObject({ code: "not_party" });
  });

  it("refuses the consumer's very next exchange after a revoke, and counts the release once", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const first = await t.call("GET", `/v1/exchange/${e.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing" },
    });
    expect(first.status).toBe(200);
    const revoke = await t.admin("POST", `/admin/partners/${e.ids.consumer}/revoke`, {
      reason: "test",
    });
    expect(revoke.status).toBe(200);
    const next = await t.call("GET", `/v1/exchange/${e.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing" },
    });
    expect(next.status).toBe(403);
    expect(await next.json()).toMatchObject({ code: "partner_revoked" });
    const finance = await t.token("finance", ["metrics:read"]);
    const flows = await t.call("GET", "/metrics/flows?granularity=total", { token: finance });
    expect(flows.status).toBe(200);
    const rows = (
      (await flows.json()) as {
        items: {
          agreement: string;
          requests: number;
          denied: number;
          records: number;
          value: { amount: number };
        }[];
      }
    ).items;
    const row = rows.find((r) => r.agreement === e.agreement);
    expect(row).toMatchObject({
      requests: 1,
      denied: 1,
      records: 2,
      value: { currency: "EUR", amount: 100 + 2 * 2000 },
    });
  });
});
