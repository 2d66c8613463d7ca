/**
 * Offers: published by the dataset's owner (scope catalog) or an operator,
 * checked by the agreement rules with their 422 codes (a core field is never
 * offered), listed for their managers, withdrawn with DELETE, audited.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import {
  createMember,
  createWorld,
  expectStatus,
  OFFER,
  type OfferView,
  publish,
  unique,
  type World,
} from "./helpers.ts";

let t: TestGateway;
let w: World;

beforeAll(async () => {
  t = await createTestGateway();
  w = await createWorld(t);
});
afterAll(() => w.close());

const problem = async (res: Response, status: number) =>
  (await expectStatus(res, status)) as { code: string; violations?: { code: string }[] };

describe("publishing an offer", () => {
  it("the owner publishes with scope catalog: the offer is active, its defaults explicit", async () => {
    const offer = await publish(w, { id: unique("off") });
    expect(offer).toMatchObject({
      dataset: w.dataset,
      provider: w.provider.id,
      status: "active",
      fields: OFFER.fields,
      pseudonymize: ["driver.name"],
      durationDays: 90,
      publishedBy: w.provider.id,
      valueShares: [{ partner: w.provider.id, bps: 10_000 }],
    });
    const bare = (await expectStatus(
      await w.provider.call("POST", `/v1/datasets/${w.dataset}/offers`, {
        actions: ["read"],
        fields: ["vin"],
      }),
      201,
    )) as OfferView & { price: unknown; quota: unknown; retentionDays: unknown };
    expect(bare.id).toMatch(/^off-[0-9a-f]{16}$/);
    expect(bare).toMatchObject({
      durationDays: 365,
      purposes: [],
      pseudonymize: [],
      quota: null,
      retentionDays: null,
      price: { currency: "EUR", perRequest: 0, perRecord: 0 },
    });
  });

  it("an operator publishes for the owner: the provider is the owner, the operator is named", async () => {
    const offer = (await expectStatus(
      await t.admin("POST", `/admin/datasets/${w.dataset}/offers`, {
        actions: ["read"],
        fields: ["vin"],
      }),
      201,
    )) as OfferView;
    expect(offer.provider).toBe(w.provider.id);
    expect(offer.publishedBy).toBe("operator");
  });

  it("refuses a core field, a field never classified, personal data without purpose: the agreement rules' codes", async () => {
    const path = `/v1/datasets/${w.dataset}/offers`;
    const core = await problem(
      await w.provider.call("POST", path, { ...OFFER, fields: ["vin", "engine.calibration"] }),
      422,
    );
    expect(core.code).toBe("core_field_not_shareable");
    const unlisted = await problem(
      await w.provider.call("POST", path, { ...OFFER, fields: ["engine"] }),
      422,
    );
    expect(unlisted.code).toBe("core_field_not_shareable");
    const personal = await problem(
      await w.provider.call("POST", path, { ...OFFER, purposes: [] }),
      422,
    );
    expect(personal.code).toBe("personal_field_needs_purpose");
    const pseudo = await problem(
      await w.provider.call("POST", path, { ...OFFER, pseudonymize: ["vin"] }),
      422,
    );
    expect(pseudo.code).toBe("pseudonymize_not_granted");
    const shares = await problem(
      await w.provider.call("POST", path, {
        ...OFFER,
        valueShares: [{ partner: w.provider.id, bps: 5000 }],
      }),
      422,
    );
    expect(shares.code).toBe("invalid_shares");
    // The same through the operators' route.
    const viaAdmin = await problem(
      await t.admin("POST", `/admin/datasets/${w.dataset}/offers`, {
        ...OFFER,
        fields: ["engine.calibration"],
      }),
      422,
    );
    expect(viaAdmin.code).toBe("core_field_not_shareable");
    const list = (await expectStatus(
      await w.provider.call("GET", `/v1/datasets/${w.dataset}/offers`),
      200,
    )) as { items: OfferView[] };
    for (const o of list.items) expect(o.fields).not.toContain("engine.calibration");
  });

  it("refuses malformed offers with 400 naming the field, unknown datasets with 404, a taken id with 409", async () => {
    const path = `/v1/datasets/${w.dataset}/offers`;
    const bad = (await expectStatus(
      await w.provider.call("POST", path, { ...OFFER, durationDays: 0 }),
      400,
    )) as { code: string; errors: { field: string }[] };
    expect(bad.code).toBe("invalid_request");
    expect(bad.errors[0]?.field).toBe("durationDays");
    await expectStatus(await w.provider.call("POST", path, { ...OFFER, dataset: "x" }), 400);
    await expectStatus(await w.provider.call("POST", "/v1/datasets/Bad_Id/offers", OFFER), 400);
    const missing = await problem(
      await w.provider.call("POST", "/v1/datasets/no-such-dataset/offers", OFFER),
      404,
    );
    expect(missing.code).toBe("dataset_not_found");
    const id = unique("off");
    await publish(w, { id });
    expect((await problem(await w.provider.call("POST", path, { ...OFFER, id }), 409)).code).toBe(
      "conflict",
    );
  });

  it("another partner may not publish, list or withdraw offers on the dataset: 403 not_party", async () => {
    const offer = await publish(w);
    const base = `/v1/datasets/${w.dataset}/offers`;
    expect((await problem(await w.consumer.call("POST", base, OFFER), 403)).code).toBe("not_party");
    expect((await problem(await w.consumer.call("GET", base), 403)).code).toBe("not_party");
    expect((await problem(await w.consumer.call("DELETE", `${base}/${offer.id}`), 403)).code).toBe(
      "not_party",
    );
  });

  it("needs the catalog scope, and an agreement scope does not stand in for it", async () => {
    const res = await t.call("POST", `/v1/datasets/${w.dataset}/offers`, {
      token: await t.token(w.provider.id, [`agreement:agr-x`]),
      body: OFFER,
    });
    expect((await problem(res, 403)).code).toBe("scope_missing");
  });

  it("a provider under embargo cannot publish (jurisdiction_blocked)", async () => {
    const embargoed = await createMember(t, unique("emb"), "SE");
    const ds = unique("ds");
    await expectStatus(
      await t.admin("POST", "/admin/datasets", {
        id: ds,
        owner: embargoed.id,
        path: "/x",
        fields: { a: "shared" },
      }),
      201,
    );
    await expectStatus(
      await t.admin("PUT", "/admin/trade-rules", { embargoedJurisdictions: ["SE"] }),
      200,
    );
    try {
      const res = await embargoed.call("POST", `/v1/datasets/${ds}/offers`, {
        actions: ["read"],
        fields: ["a"],
      });
      expect((await problem(res, 422)).code).toBe("jurisdiction_blocked");
    } finally {
      await expectStatus(await t.admin("PUT", "/admin/trade-rules", {}), 200);
      await embargoed.backend.close();
    }
  });
});

describe("listing and withdrawing", () => {
  it("lists a dataset's offers newest first, filters by status, withdraws once", async () => {
    const ds = unique("ds");
    await expectStatus(
      await t.admin("POST", "/admin/datasets", {
        id: ds,
        owner: w.provider.id,
        path: "/y",
        fields: { a: "shared", b: "shared" },
      }),
      201,
    );
    const path = `/v1/datasets/${ds}/offers`;
    const first = (await expectStatus(
      await w.provider.call("POST", path, { actions: ["read"], fields: ["a"] }),
      201,
    )) as OfferView;
    const second = (await expectStatus(
      await w.provider.call("POST", path, { actions: ["read"], fields: ["b"] }),
      201,
    )) as OfferView;
    const all = (await expectStatus(await w.provider.call("GET", path), 200)) as {
      items: OfferView[];
      next: null;
    };
    expect(all.items.map((o) => o.id)).toEqual([second.id, first.id]);

    const withdrawn = (await expectStatus(
      await w.provider.call("DELETE", `${path}/${first.id}`, { reason: "terms changed" }),
      200,
    )) as OfferView & { withdrawnBy: string; withdrawReason: string };
    expect(withdrawn).toMatchObject({
      status: "withdrawn",
      withdrawnBy: w.provider.id,
      withdrawReason: "terms changed",
    });
    const again = (await expectStatus(
      await w.provider.call("DELETE", `${path}/${first.id}`),
      200,
    )) as OfferView & { withdrawnAt: string; withdrawnBy: string };
    expect(again.withdrawnBy).toBe(w.provider.id);

    const active = (await expectStatus(
      await w.provider.call("GET", `${path}?status=active`),
      200,
    )) as {
      items: OfferView[];
    };
    expect(active.items.map((o) => o.id)).toEqual([second.id]);
    const gone = (await expectStatus(
      await t.admin("GET", `/admin/datasets/${ds}/offers?status=withdrawn`),
      200,
    )) as { items: OfferView[] };
    expect(gone.items.map((o) => o.id)).toEqual([first.id]);

    // An operator withdraws too; an offer of another dataset is not found under this one.
    await expectStatus(await t.admin("DELETE", `/admin/datasets/${ds}/offers/${second.id}`), 200);
    const other = await publish(w);
    expect(
      (
        (await expectStatus(await w.provider.call("DELETE", `${path}/${other.id}`), 404)) as {
          code: string;
        }
      ).code,
    ).toBe("offer_not_found");

    // Each change is audited once, with who made it.
    const audit = (await expectStatus(
      await t.admin("GET", `/admin/audit?partner=${w.provider.id}&action=offer.withdraw`),
      200,
    )) as { items: { actor: string; target: string; reason: string | null }[] };
    expect(audit.items.filter((e) => e.target === `offer:${first.id}`)).toEqual([
      expect.objectContaining({ actor: w.provider.id, reason: "terms changed" }),
    ]);
    expect(audit.items.find((e) => e.target === `offer:${second.id}`)?.actor).toBe("operator");
  });
});

describe("a dataset's title and description", () => {
  it("are kept, and may not name a core field in any letter case", async () => {
    const ds = unique("ds");
    const base = {
      id: ds,
      owner: w.provider.id,
      path: "/z",
      fields: { vin: "shared", "engine.calibration": "core" },
    };
    const res = await t.admin("POST", "/admin/datasets", {
      ...base,
      description: "Includes Engine.Calibration values",
    });
    const body = (await expectStatus(res, 422)) as {
      code: string;
      violations: { field: string }[];
    };
    expect(body.code).toBe("core_field_not_shareable");
    expect(body.violations[0]?.field).toBe("description");
    const ok = (await expectStatus(
      await t.admin("POST", "/admin/datasets", {
        ...base,
        title: "Engines",
        description: "Recalibrations are not part of it",
      }),
      201,
    )) as { title: string; description: string };
    expect(ok).toMatchObject({
      title: "Engines",
      description: "Recalibrations are not part of it",
    });
  });
});
