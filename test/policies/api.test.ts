/**
 * Policies through the operators' API: trade rules, changes taking effect on
 * the next request, amendments as versions, explanations, ODRL.
 */
import { describe, expect } from "vitest";
import { agreementInput, datasetInput } from "../support/ecosystem.ts";
import { test } from "../support/fixtures.ts";

/** The consumer's read of the file's agreement, with a token taken once. */
const it = test.extend("read", { scope: "file" }, async ({ t, eco }) => {
  const token = await eco.partnerToken(eco.ids.consumer);
  return () =>
    t.call("GET", `/v1/exchange/${eco.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing" },
    });
});

async function code(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

describe("trade compliance on every exchange", () => {
  it("an embargo on the consumer's jurisdiction applies to the very next exchange, and lifting it restores it", async ({
    t,
    eco,
    read,
  }) => {
    expect((await read()).status).toBe(200);
    const put = await t.admin("PUT", "/admin/trade-rules", {
      embargoedJurisdictions: ["DE"],
      deniedParties: [],
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ embargoedJurisdictions: ["DE"], version: 1 });
    const blocked = await read();
    expect(blocked.status).toBe(451);
    expect(await code(blocked)).toBe("jurisdiction_blocked");
    await t.admin("PUT", "/admin/trade-rules", {
      embargoedJurisdictions: [],
      deniedParties: [eco.ids.provider],
    });
    const denied = await read();
    expect(denied.status).toBe(451);
    await t.admin("PUT", "/admin/trade-rules", { embargoedJurisdictions: [], deniedParties: [] });
    expect((await read()).status).toBe(200);
    expect(await (await t.admin("GET", "/admin/trade-rules")).json()).toMatchObject({ version: 3 });
  });

  it("trade rules also refuse new agreements", async ({ t, eco }) => {
    await t.admin("PUT", "/admin/trade-rules", {
      embargoedJurisdictions: ["SE"],
      deniedParties: [],
    });
    try {
      const res = await t.admin(
        "POST",
        "/admin/agreements",
        agreementInput("agr-emb", eco.ids.provider, eco.ids.consumer, eco.ids.dataset),
      );
      expect(res.status).toBe(422);
      expect(await code(res)).toBe("jurisdiction_blocked");
    } finally {
      await t.admin("PUT", "/admin/trade-rules", { embargoedJurisdictions: [], deniedParties: [] });
    }
  });

  it("moving a partner to another jurisdiction (PATCH) and narrowing a dataset's export control (PUT) take effect at once", async ({
    t,
    eco,
    read,
  }) => {
    const moved = await t.admin("PATCH", `/admin/partners/${eco.ids.consumer}`, {
      jurisdiction: "US",
      reason: "moved",
    });
    expect(moved.status).toBe(200);
    expect(await code(await read())).toBe("jurisdiction_blocked");
    await t.admin("PATCH", `/admin/partners/${eco.ids.consumer}`, {
      jurisdiction: "DE",
      reason: "back",
    });
    expect((await read()).status).toBe(200);
    const narrowed = await t.admin(
      "PUT",
      `/admin/datasets/${eco.ids.dataset}`,
      datasetInput(eco.ids.dataset, eco.ids.provider, {
        exportControl: { allowedJurisdictions: ["SE"] },
      }),
    );
    expect(narrowed.status).toBe(200);
    expect(await narrowed.json()).toMatchObject({ version: 2 });
    expect(await code(await read())).toBe("jurisdiction_blocked");
    await t.admin(
      "PUT",
      `/admin/datasets/${eco.ids.dataset}`,
      datasetInput(eco.ids.dataset, eco.ids.provider),
    );
    expect((await read()).status).toBe(200);
  });
});

describe("amendments", () => {
  it("make a new version that the next exchange uses, and keep every version", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem();
    const consumerToken = await e.partnerToken(e.ids.consumer);
    const get = () =>
      t.call("GET", `/v1/exchange/${e.agreement}`, {
        token: consumerToken,
        headers: { "Data-Purpose": "insurance-pricing" },
      });
    const before = (await (await get()).json()) as { items: Record<string, unknown>[] };
    expect(Object.keys(before.items[0] ?? {})).toContain("mileage");
    const amended = await t.admin("PATCH", `/admin/agreements/${e.agreement}`, {
      fields: ["vin"],
      reason: "narrower",
    });
    expect(amended.status).toBe(200);
    expect(await amended.json()).toMatchObject({ version: 2, fields: ["vin"] });
    const after = (await (await get()).json()) as { items: Record<string, unknown>[] };
    expect(after.items).toEqual([{ vin: "VIN-1" }, { vin: "VIN-2" }]);
    const versions = (await (
      await t.admin("GET", `/admin/agreements/${e.agreement}/versions`)
    ).json()) as { items: { version: number; fields: string[] }[] };
    expect(versions.items.map((v) => v.version)).toEqual([2, 1]);
    expect(versions.items[1]?.fields).toContain("mileage");
    const audit = (await (
      await t.admin("GET", `/admin/audit?partner=${e.ids.provider}&action=agreement.amend`)
    ).json()) as {
      items: { details: { version: number } }[];
    };
    expect(audit.items[0]?.details.version).toBe(2);
    const bad = await t.admin("PATCH", `/admin/agreements/${e.agreement}`, {
      fields: ["engine.calibration"],
    });
    expect(bad.status).toBe(422);
    expect(await code(bad)).toBe("core_field_not_shareable");
  });
});

describe("explain: POST /admin/decisions", () => {
  it("answers why a partner is refused, with every reason, at a chosen time", async ({
    t,
    eco,
  }) => {
    const ok = await t.admin("POST", "/admin/decisions", {
      partner: eco.ids.consumer,
      agreement: eco.agreement,
      action: "read",
      purpose: "insurance-pricing",
    });
    expect(await ok.json()).toMatchObject({ decision: "permit", reasons: [] });
    const later = await t.admin("POST", "/admin/decisions", {
      partner: eco.ids.consumer,
      agreement: eco.agreement,
      action: "deliver",
      purpose: "marketing",
      at: "2099-01-01T00:00:00Z",
    });
    const body = (await later.json()) as {
      decision: string;
      reasons: { code: string; message: string }[];
    };
    expect(body.decision).toBe("deny");
    expect(body.reasons.map((r) => r.code)).toEqual([
      "not_party",
      "agreement_expired",
      "purpose_not_permitted",
    ]);
    expect(body.reasons.every((r) => r.message.length > 0)).toBe(true);
    const bad = await t.admin("POST", "/admin/decisions", {
      partner: eco.ids.consumer,
      agreement: eco.agreement,
      action: "steal",
    });
    expect(bad.status).toBe(400);
  });
});

describe("ODRL 2.2 over the API", () => {
  it("exports an agreement as JSON-LD and imports it back as the same agreement", async ({
    t,
    eco,
  }) => {
    const res = await t.admin("GET", `/admin/agreements/${eco.agreement}`);
    const json = (await res.json()) as Record<string, unknown>;
    const ld = await t.call("GET", `/admin/agreements/${eco.agreement}`, {
      token: await t.token("operator", ["admin"]),
      headers: { Accept: "application/ld+json" },
    });
    expect(ld.headers.get("Content-Type")).toMatch(/application\/ld\+json/);
    const doc = (await ld.json()) as Record<string, unknown>;
    expect(JSON.stringify(doc["@context"])).toContain("http://www.w3.org/ns/odrl.jsonld");
    const copy = JSON.parse(
      JSON.stringify(doc).replaceAll(`agreement:${eco.agreement}`, "agreement:agr-odrl-copy"),
    ) as Record<string, unknown>;
    const imported = await t.call("POST", "/admin/agreements", {
      token: await t.token("operator", ["admin"]),
      headers: { "Content-Type": "application/ld+json" },
      body: JSON.stringify(copy),
    });
    expect(imported.status).toBe(201);
    const created = (await imported.json()) as Record<string, unknown>;
    for (const key of [
      "dataset",
      "provider",
      "consumer",
      "actions",
      "fields",
      "purposes",
      "validFrom",
      "validUntil",
      "price",
      "valueShares",
    ]) {
      expect(created[key], key).toEqual(json[key]);
    }
    expect(created.id).toBe("agr-odrl-copy");
  });

  it("refuses an ODRL term outside the supported subset with 422 naming it", async ({ t, eco }) => {
    const ld = await t.call("GET", `/admin/agreements/${eco.agreement}`, {
      token: await t.token("operator", ["admin"]),
      headers: { Accept: "application/ld+json" },
    });
    const doc = (await ld.json()) as { permission: Record<string, unknown>[] };
    const first = doc.permission[0] ?? {};
    doc.permission[0] = { ...first, action: "odrl:sell" };
    const res = await t.call("POST", "/admin/agreements", {
      token: await t.token("operator", ["admin"]),
      headers: { "Content-Type": "application/ld+json" },
      body: JSON.stringify(doc),
    });
    expect(res.status).toBe(422);
    const p = (await res.json()) as { code: string; detail: string };
    expect(p.code).toBe("unsupported_odrl_term");
    expect(p.detail).toMatch(/sell/);
  });
});
