/** Bad input never gets a 500: 400 naming the field, 404 for unknown routes, 413 for oversized bodies. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  agreementInput,
  createEcosystem,
  datasetInput,
  type Ecosystem,
} from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
let eco: Ecosystem;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
});
afterAll(() => eco.close());

async function problem(res: Response) {
  expect(res.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
  expect(res.headers.get("X-Request-Id")).toBeTruthy();
  return (await res.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    code: string;
  };
}

const partner = { id: "acme-1", name: "Acme", jurisdiction: "SE", baseUrl: "http://127.0.0.1:9" };

describe("malformed requests: 400 invalid_request naming the field", () => {
  it.each([
    ["not JSON", "{nope", "body"],
    ["a JSON array", "[]", "body"],
    ["a wrong type", JSON.stringify({ ...partner, name: 42 }), "name"],
    ["an invalid id", JSON.stringify({ ...partner, id: "Acme!" }), "id"],
    ["an id too short", JSON.stringify({ ...partner, id: "a" }), "id"],
    [
      "a jurisdiction that is not ISO 3166-1",
      JSON.stringify({ ...partner, jurisdiction: "XX" }),
      "jurisdiction",
    ],
    [
      "a lower-case jurisdiction",
      JSON.stringify({ ...partner, jurisdiction: "se" }),
      "jurisdiction",
    ],
    ["an unknown field", JSON.stringify({ ...partner, isAdmin: true }), "body"],
    ["a missing field", JSON.stringify({ id: "acme-2", name: "Acme" }), "jurisdiction"],
    ["a baseUrl that is not a URL", JSON.stringify({ ...partner, baseUrl: "ftp:/x" }), "baseUrl"],
  ])("POST /admin/partners with %s", async (_what, body, field) => {
    const res = await t.admin("POST", "/admin/partners", body);
    expect(res.status).toBe(400);
    const p = await problem(res);
    expect(p).toMatchObject({ status: 400, code: "invalid_request", title: "Bad Request" });
    expect(p.detail).toContain(field);
  });

  it("a core marker that does not compile is 400, one that could backtrack catastrophically 422", async () => {
    const bad = await t.admin(
      "POST",
      "/admin/datasets",
      datasetInput("ds-bad-1", eco.ids.provider, { coreMarkers: ["CAL-[0-9"] }),
    );
    expect(bad.status).toBe(400);
    expect((await problem(bad)).detail).toContain("coreMarkers.0");
    const unsafe = await t.admin(
      "POST",
      "/admin/datasets",
      datasetInput("ds-bad-2", eco.ids.provider, { coreMarkers: ["(a+)+$"] }),
    );
    expect(unsafe.status).toBe(422);
    expect((await problem(unsafe)).code).toBe("unsafe_pattern");
  });

  it("bad query parameters, cursors and timestamps are 400 too", async () => {
    for (const path of [
      "/admin/partners?limit=0",
      "/admin/partners?limit=1001",
      "/admin/partners?cursor=%%%",
      "/admin/audit?from=yesterday",
    ]) {
      const res = await t.admin("GET", path);
      expect(res.status, path).toBe(400);
      expect((await problem(res)).code).toBe("invalid_request");
    }
    const finance = await t.token("finance", ["metrics:read"]);
    for (const path of [
      "/metrics/flows?granularity=week",
      "/metrics/flows?groupBy=colour",
      "/metrics/flows?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    ]) {
      const res = await t.call("GET", path, { token: finance });
      expect(res.status, path).toBe(400);
    }
  });
});

describe("agreement rules: 422 with the rule's code", () => {
  const base = () => agreementInput("agr-x", eco.ids.provider, eco.ids.consumer, eco.ids.dataset);
  it.each([
    ["a core field", { fields: ["vin", "engine.calibration"] }, "core_field_not_shareable"],
    ["an unclassified field", { fields: ["vin", "secret.sauce"] }, "core_field_not_shareable"],
    ["a personal field without purpose", { purposes: [] }, "personal_field_needs_purpose"],
    [
      "shares not summing to 10000",
      { valueShares: [{ partner: "x-1", bps: 5000 }] },
      "invalid_shares",
    ],
    [
      "a window ending before it starts",
      { validFrom: "2026-06-01T00:00:00Z", validUntil: "2026-01-01T00:00:00Z" },
      "invalid_validity",
    ],
    [
      "a window already over",
      { validFrom: "2020-01-01T00:00:00Z", validUntil: "2021-01-01T00:00:00Z" },
      "invalid_validity",
    ],
    ["pseudonymizing a shared field", { pseudonymize: ["vin"] }, "pseudonymize_not_granted"],
  ])("%s", async (_what, change, code) => {
    const res = await t.admin("POST", "/admin/agreements", { ...base(), ...change });
    expect(res.status).toBe(422);
    const p = (await problem(res)) as { code: string; violations?: { code: string }[] };
    expect(p.code).toBe(code);
  });

  it("the provider must own the dataset, both parties be active and the consumer allowed to receive it", async () => {
    const notOwner = await t.admin(
      "POST",
      "/admin/agreements",
      agreementInput("agr-y", eco.ids.consumer, eco.ids.provider, eco.ids.dataset),
    );
    expect(((await problem(notOwner)) as { code: string }).code).toBe("provider_not_owner");
    const far = await t.admin("POST", "/admin/partners", {
      id: `far-${Date.now()}`,
      name: "Far",
      jurisdiction: "US",
      baseUrl: "http://127.0.0.1:9",
    });
    const farId = ((await far.json()) as { partner: { id: string } }).partner.id;
    const blocked = await t.admin(
      "POST",
      "/admin/agreements",
      agreementInput("agr-z", eco.ids.provider, farId, eco.ids.dataset),
    );
    expect(blocked.status).toBe(422);
    expect(((await problem(blocked)) as { code: string }).code).toBe("jurisdiction_blocked");
    await t.admin("POST", `/admin/partners/${farId}/suspend`, { reason: "test" });
    const inactive = await t.admin(
      "POST",
      "/admin/agreements",
      agreementInput("agr-w", eco.ids.provider, farId, eco.ids.dataset),
    );
    const codes = (
      (await problem(inactive)) as unknown as { violations: { code: string }[] }
    ).violations.map((v) => v.code);
    expect(codes).toEqual(expect.arrayContaining(["partner_not_active", "jurisdiction_blocked"]));
  });

  it("a taken id is 409 conflict", async () => {
    const res = await t.admin("POST", "/admin/partners", { ...partner, id: eco.ids.provider });
    expect(res.status).toBe(409);
    expect((await problem(res)).code).toBe("conflict");
  });
});

describe("routes and sizes", () => {
  it("an unknown route is 404 problem+json", async () => {
    const res = await t.call("GET", "/nowhere/at/all");
    expect(res.status).toBe(404);
    expect((await problem(res)).code).toBe("not_found");
    expect((await t.admin("GET", "/admin/partners/nobody-here")).status).toBe(404);
  });

  it("an oversized body is 413 before it is read", async () => {
    const huge = JSON.stringify({ ...partner, name: "x".repeat(300_000) });
    const res = await t.admin("POST", "/admin/partners", huge);
    expect(res.status).toBe(413);
    expect((await problem(res)).code).toBe("payload_too_large");
  });

  it("admin routes need an admin token: none is 401, another role 403", async () => {
    const none = await t.call("GET", "/admin/partners");
    expect(none.status).toBe(401);
    expect((await problem(none)).code).toBe("invalid_token");
    const finance = await t.token("finance", ["metrics:read"]);
    const other = await t.call("GET", "/admin/partners", { token: finance });
    expect(other.status).toBe(403);
    expect((await problem(other)).code).toBe("scope_missing");
  });
});
