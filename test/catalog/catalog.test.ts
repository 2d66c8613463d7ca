/**
 * GET /v1/catalog: filtered per caller (export control, embargoes, denied
 * parties, inactive owners, its own datasets, withdrawn offers, offers a
 * reclassification broke), paged, and free of core field names in JSON and
 * JSON-LD alike. The JSON-LD is checked with a real processor (`jsonld`)
 * whose document loader knows the ODRL 2.2 context and refuses the network.
 * The `catalog` scope opens these routes and nothing else.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import jsonld from "jsonld";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ODRL_CONTEXT } from "../../policies/odrl/index.ts";
import { datasetInput } from "../support/ecosystem.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";
import {
  createMember,
  createWorld,
  expectStatus,
  type Member,
  OFFER,
  type OfferView,
  publish,
  tokenFor,
  unique,
  type World,
} from "./helpers.ts";

interface Entry {
  dataset: string;
  owner: string;
  title: string;
  description: string | null;
  offers: { id: string; fields: string[] }[];
}

let t: TestGateway;
let w: World;
let northern: Member;
let open: string;
let offer: OfferView;
let withdrawn: OfferView;
let onlyWithdrawn: string;

beforeAll(async () => {
  t = await createTestGateway();
  w = await createWorld(t);
  offer = await publish(w);
  withdrawn = await publish(w, { fields: ["vin"], pseudonymize: [] });
  await expectStatus(
    await w.provider.call("DELETE", `/v1/datasets/${w.dataset}/offers/${withdrawn.id}`),
    200,
  );
  // A dataset with only a withdrawn offer, one with none: neither is listed.
  onlyWithdrawn = unique("ds");
  await expectStatus(
    await t.admin("POST", "/admin/datasets", datasetInput(onlyWithdrawn, w.provider.id)),
    201,
  );
  const gone = (await expectStatus(
    await w.provider.call("POST", `/v1/datasets/${onlyWithdrawn}/offers`, OFFER),
    201,
  )) as OfferView;
  await expectStatus(
    await w.provider.call("DELETE", `/v1/datasets/${onlyWithdrawn}/offers/${gone.id}`),
    200,
  );
  await expectStatus(
    await t.admin("POST", "/admin/datasets", datasetInput(unique("ds"), w.provider.id)),
    201,
  );
  // A Norwegian provider's dataset without export control.
  northern = await createMember(t, unique("nord"), "NO");
  open = unique("ds");
  await expectStatus(
    await t.admin("POST", "/admin/datasets", {
      id: open,
      owner: northern.id,
      path: "/weather",
      fields: { temperature: "shared", "station.secret": "core" },
    }),
    201,
  );
  await expectStatus(
    await northern.call("POST", `/v1/datasets/${open}/offers`, {
      actions: ["read"],
      fields: ["temperature"],
    }),
    201,
  );
});
afterAll(async () => {
  await w.close();
  await northern.backend.close();
});

async function catalogOf(m: Member, query = ""): Promise<{ items: Entry[]; next: string | null }> {
  return (await expectStatus(await m.call("GET", `/v1/catalog${query}`), 200)) as {
    items: Entry[];
    next: string | null;
  };
}

const datasetsOf = async (m: Member) => (await catalogOf(m)).items.map((e) => e.dataset).sort();

async function withTradeRules(rules: Record<string, unknown>, fn: () => Promise<void>) {
  await expectStatus(await t.admin("PUT", "/admin/trade-rules", rules), 200);
  try {
    await fn();
  } finally {
    await expectStatus(await t.admin("PUT", "/admin/trade-rules", {}), 200);
  }
}

describe("filtering", () => {
  it("lists the datasets the caller may ask for, with their active offers only", async () => {
    const page = await catalogOf(w.consumer);
    expect(page.items.map((e) => e.dataset).sort()).toEqual([open, w.dataset].sort());
    const mine = page.items.find((e) => e.dataset === w.dataset);
    expect(mine).toMatchObject({
      owner: w.provider.id,
      title: "Vehicle telemetry",
      description: "Mileage and average speed of a delivery fleet, per vehicle.",
    });
    expect(mine?.offers.map((o) => o.id)).toEqual([offer.id]);
    expect(mine?.offers[0]).toMatchObject({
      dataset: w.dataset,
      fields: OFFER.fields,
      durationDays: 90,
      retentionDays: 30,
      quota: { requestsPerDay: 100 },
      valueShares: [{ partner: w.provider.id, bps: 10_000 }],
    });
    const other = page.items.find((e) => e.dataset === open);
    expect(other).toMatchObject({ title: open, description: null });
    expect(page.items.map((e) => e.dataset)).not.toContain(onlyWithdrawn);
  });

  it("leaves out what export control keeps from the caller's jurisdiction, and the caller's own datasets", async () => {
    expect(await datasetsOf(w.outsider)).toEqual([open]);
    expect(await datasetsOf(w.provider)).toEqual([open]);
    expect(await datasetsOf(northern)).toEqual([w.dataset]);
  });

  it("leaves out datasets under an embargo on either side, or of a denied party", async () => {
    await withTradeRules({ embargoedJurisdictions: ["NO"] }, async () => {
      expect(await datasetsOf(w.consumer)).toEqual([w.dataset]);
    });
    await withTradeRules({ embargoedJurisdictions: ["DE"] }, async () => {
      expect(await datasetsOf(w.consumer)).toEqual([]);
    });
    await withTradeRules({ deniedParties: [w.provider.id] }, async () => {
      expect(await datasetsOf(w.consumer)).toEqual([open]);
    });
    expect(await datasetsOf(w.consumer)).toEqual([open, w.dataset].sort());
  });

  it("leaves out datasets whose owner is not active", async () => {
    await expectStatus(
      await t.admin("POST", `/admin/partners/${northern.id}/suspend`, { reason: "audit" }),
      200,
    );
    try {
      expect(await datasetsOf(w.consumer)).toEqual([w.dataset]);
    } finally {
      await expectStatus(
        await t.admin("POST", `/admin/partners/${northern.id}/resume`, { reason: "done" }),
        200,
      );
    }
  });

  it("drops an offer naming a field reclassified core since, and hides texts that name one", async () => {
    const ds = unique("ds");
    await expectStatus(
      await t.admin(
        "POST",
        "/admin/datasets",
        datasetInput(ds, w.provider.id, { title: "Fleet speed" }),
      ),
      201,
    );
    const speedy = (await expectStatus(
      await w.provider.call("POST", `/v1/datasets/${ds}/offers`, {
        actions: ["read"],
        fields: ["vin", "speed.avg"],
      }),
      201,
    )) as OfferView;
    const plain = (await expectStatus(
      await w.provider.call("POST", `/v1/datasets/${ds}/offers`, {
        actions: ["read"],
        fields: ["vin"],
      }),
      201,
    )) as OfferView;
    const listed = async () =>
      (await catalogOf(w.consumer)).items.find((e) => e.dataset === ds)?.offers.map((o) => o.id);
    expect((await listed())?.sort()).toEqual([speedy.id, plain.id].sort());
    // A dataset stored before titles were checked, or reclassified since: read it back as stored.
    const current = (await expectStatus(await t.admin("GET", `/admin/datasets/${ds}`), 200)) as {
      fields: Record<string, string>;
    };
    await expectStatus(
      await t.admin("PUT", `/admin/datasets/${ds}`, {
        ...datasetInput(ds, w.provider.id),
        fields: { ...current.fields, "speed.avg": "core" },
        title: "Fleet speed",
      }),
      200,
    );
    expect(await listed()).toEqual([plain.id]);
    const res = await w.consumer.call("POST", "/v1/agreement-requests", { offer: speedy.id });
    expect(((await expectStatus(res, 422)) as { code: string }).code).toBe(
      "core_field_not_shareable",
    );
    // A title naming a core field cannot be written any more; one stored before that rule is not shown.
    const refused = await t.admin("PUT", `/admin/datasets/${ds}`, {
      ...datasetInput(ds, w.provider.id),
      fields: { ...current.fields, "speed.avg": "core" },
      title: "Speed.Avg per vehicle",
    });
    expect(((await expectStatus(refused, 422)) as { code: string }).code).toBe(
      "core_field_not_shareable",
    );
    const stored = await t.gw.registry.getDataset(ds);
    if (stored === undefined) throw new Error("the dataset is gone");
    const legacy = {
      ...stored.value,
      title: "Speed.Avg per vehicle",
      description: "has speed.avg",
    };
    const written = await t.gw.db.transact(t.gw.registry.datasetOps(legacy, stored.rev), "legacy");
    expect(written.ok).toBe(true);
    const entry = (await catalogOf(w.consumer)).items.find((e) => e.dataset === ds);
    expect(entry).toMatchObject({ title: ds, description: null });
  });
});

describe("paging", () => {
  it("walks every visible dataset once, newest first, limit at a time", async () => {
    const reader = await createMember(t, unique("pager"), "FR");
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ds = unique("pg");
      // Invisible ones in between: FR is outside this one's export control.
      await expectStatus(
        await t.admin(
          "POST",
          "/admin/datasets",
          datasetInput(unique("hidden"), w.provider.id, {
            exportControl: { allowedJurisdictions: ["SE"] },
          }),
        ),
        201,
      );
      await expectStatus(
        await t.admin("POST", "/admin/datasets", datasetInput(ds, w.provider.id)),
        201,
      );
      await expectStatus(
        await w.provider.call("POST", `/v1/datasets/${ds}/offers`, {
          actions: ["read"],
          fields: ["vin"],
        }),
        201,
      );
      made.push(ds);
    }
    const whole = (await catalogOf(reader, "?limit=1000")).items.map((e) => e.dataset);
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const page = await catalogOf(reader, `?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`);
      sizes.push(page.items.length);
      seen.push(...page.items.map((e) => e.dataset));
      cursor = page.next;
    } while (cursor !== null && sizes.length < 20);
    expect(seen).toEqual(whole);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((d) => made.includes(d))).toEqual([...made].reverse());
    // Full pages until the end; the last may be short (or empty, when the list ended just after a full one).
    expect(sizes.slice(0, -1).every((n) => n === 2)).toBe(true);
    expect(sizes.length).toBeLessThanOrEqual(Math.ceil(whole.length / 2) + 1);
    expect(
      (
        (await expectStatus(await reader.call("GET", "/v1/catalog?cursor=bogus"), 400)) as {
          code: string;
        }
      ).code,
    ).toBe("invalid_request");
    await reader.backend.close();
  });
});

const CORE_FORMS = [
  "engine.calibration",
  "calibration",
  "engine",
  "station.secret",
  "secret",
  "cal-",
];

/** The core names (and marker prefix) a reader finds in the text: any case, percent-decoded too. */
function leaks(text: string): string[] {
  const lower = text.toLowerCase();
  const decoded = decodeURIComponent(lower.replace(/%(?![0-9a-f]{2})/g, "%25"));
  return CORE_FORMS.filter((f) => lower.includes(f) || decoded.includes(f));
}

describe("no core field name, in any form", () => {
  it("appears in the JSON or the JSON-LD catalog, compact or expanded", async () => {
    const json = await (await w.consumer.call("GET", "/v1/catalog")).text();
    expect(json).toContain(w.dataset);
    expect(leaks(json)).toEqual([]);
    const res = await w.consumer.call("GET", "/v1/catalog", undefined, {
      Accept: "application/ld+json",
    });
    expect(res.headers.get("Content-Type")).toBe("application/ld+json");
    const ld = await res.text();
    expect(ld).toContain(w.dataset);
    expect(leaks(ld)).toEqual([]);
    const expanded = await jsonld.expand(JSON.parse(ld), { documentLoader: staticLoader([]) });
    expect(leaks(JSON.stringify(expanded))).toEqual([]);
  });
});

const ODRL_CONTEXT_DOC = JSON.parse(
  readFileSync(
    createRequire(import.meta.url).resolve("@digitalbazaar/odrl-context/contexts/odrl.jsonld"),
    "utf8",
  ),
) as Record<string, unknown>;

type Loader = NonNullable<NonNullable<Parameters<typeof jsonld.expand>[1]>["documentLoader"]>;

/** A document loader that knows the ODRL 2.2 context by its URLs and nothing else: no network. */
function staticLoader(asked: string[]): Loader {
  const load = async (url: string) => {
    asked.push(url);
    if (url !== ODRL_CONTEXT && url !== ODRL_CONTEXT.replace("http:", "https:")) {
      throw new Error(`the catalog made the processor load ${url}`);
    }
    return { contextUrl: undefined, documentUrl: url, document: ODRL_CONTEXT_DOC };
  };
  return load as unknown as Loader;
}

type Node = Record<string, unknown[]>;
const DCAT = "http://www.w3.org/ns/dcat#";
const DCT = "http://purl.org/dc/terms/";
const ODRL = "http://www.w3.org/ns/odrl/2/";
const ids = (v: unknown) => (v as { "@id": string }[] | undefined)?.map((x) => x["@id"]);
const values = (v: unknown) => (v as { "@value": unknown }[] | undefined)?.map((x) => x["@value"]);

describe("the JSON-LD catalog", () => {
  it("expands, with a static document loader, to a dcat:Catalog of dcat:Datasets with odrl:Offer policies", async () => {
    const res = await w.consumer.call("GET", "/v1/catalog", undefined, {
      Accept: "application/ld+json",
    });
    const doc = (await res.json()) as Record<string, unknown>;
    const asked: string[] = [];
    const [catalog, ...more] = (await jsonld.expand(doc, {
      documentLoader: staticLoader(asked),
    })) as unknown as Node[];
    expect(more).toEqual([]);
    expect(asked.every((u) => u.endsWith("/ns/odrl.jsonld"))).toBe(true);
    expect((catalog as unknown as { "@id": string })["@id"]).toBe(`${ISSUER}/v1/catalog`);
    expect(catalog?.["@type"]).toEqual([`${DCAT}Catalog`]);
    const datasets = (catalog?.[`${DCAT}dataset`] ?? []) as Node[];
    const listed = (await catalogOf(w.consumer)).items.map((e) => `urn:dsg:dataset:${e.dataset}`);
    expect(datasets.map((d) => (d as unknown as { "@id": string })["@id"])).toEqual(listed);
    expect(listed).toEqual(
      expect.arrayContaining([`urn:dsg:dataset:${w.dataset}`, `urn:dsg:dataset:${open}`]),
    );
    const mine = datasets.find(
      (d) => (d as unknown as { "@id": string })["@id"] === `urn:dsg:dataset:${w.dataset}`,
    );
    expect(mine?.["@type"]).toEqual([`${DCAT}Dataset`]);
    expect(values(mine?.[`${DCT}title`])).toEqual(["Vehicle telemetry"]);
    expect(ids(mine?.[`${DCT}publisher`])).toEqual([`urn:dsg:partner:${w.provider.id}`]);
    const [policy, ...others] = (mine?.[`${ODRL}hasPolicy`] ?? []) as Node[];
    expect(others).toEqual([]);
    expect((policy as unknown as { "@id": string })["@id"]).toBe(`urn:dsg:offer:${offer.id}`);
    expect(policy?.["@type"]).toEqual([`${ODRL}Offer`]);
    const [permission] = (policy?.[`${ODRL}permission`] ?? []) as Node[];
    expect(ids(permission?.[`${ODRL}action`])).toEqual([`${ODRL}read`]);
    expect(ids(permission?.[`${ODRL}assigner`])).toEqual([`urn:dsg:partner:${w.provider.id}`]);
    expect(permission?.[`${ODRL}assignee`]).toBeUndefined();
    const [target] = (permission?.[`${ODRL}target`] ?? []) as Node[];
    expect(target?.["@type"]).toEqual([`${ODRL}AssetCollection`]);
    expect(ids(target?.[`${ODRL}source`])).toEqual([`urn:dsg:dataset:${w.dataset}`]);
    const constraints = (permission?.[`${ODRL}constraint`] ?? []) as Node[];
    const left = constraints.map((c) => ids(c[`${ODRL}leftOperand`])?.[0]);
    expect(left).toEqual(
      expect.arrayContaining([`${ODRL}purpose`, `${ODRL}elapsedTime`, `${ODRL}count`]),
    );
    const duration = constraints.find(
      (c) => ids(c[`${ODRL}leftOperand`])?.[0] === `${ODRL}elapsedTime`,
    );
    expect(duration?.[`${ODRL}rightOperand`]).toEqual([
      { "@value": "P90D", "@type": "http://www.w3.org/2001/XMLSchema#duration" },
    ]);
    const duties = (permission?.[`${ODRL}duty`] ?? []) as Node[];
    expect(duties.length).toBe(3);
    // And as RDF: the offer is a policy of the dataset, typed odrl:Offer.
    const quads = (await jsonld.toRDF(doc, {
      format: "application/n-quads",
      documentLoader: staticLoader([]),
    })) as unknown as string;
    expect(quads).toContain(
      `<urn:dsg:dataset:${w.dataset}> <${ODRL}hasPolicy> <urn:dsg:offer:${offer.id}> .`,
    );
    expect(quads).toContain(
      `<urn:dsg:offer:${offer.id}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <${ODRL}Offer> .`,
    );
    expect(quads).toContain(`<${ISSUER}/v1/catalog> <${DCAT}dataset> <urn:dsg:dataset:${open}> .`);
  });

  it("pages like the JSON, naming the next cursor", async () => {
    const res = await w.consumer.call("GET", "/v1/catalog?limit=1", undefined, {
      Accept: "application/ld+json",
    });
    const doc = (await res.json()) as Record<string, unknown>;
    expect((doc["dcat:dataset"] as unknown[]).length).toBe(1);
    expect(typeof doc["dsg:next"]).toBe("string");
    const json = await catalogOf(w.consumer, "?limit=1");
    expect(doc["dsg:next"]).toBe(json.next);
  });
});

describe("the catalog scope", () => {
  it("any active partner gets it; operator and finance clients do not", async () => {
    const res = await tokenFor(t, w.outsider.id, w.outsider.secret, "catalog");
    expect(((await expectStatus(res, 200)) as { scope: string }).scope).toBe("catalog");
    const finance = await t.app.request("/oauth/token", {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`finance:${t.financeSecret}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials&scope=catalog",
    });
    expect(((await expectStatus(finance, 400)) as { error: string }).error).toBe("invalid_scope");
  });

  it("grants nothing else: no exchange, no agreements, no usage, no admin, no metrics", async () => {
    const token = await w.consumer.token("catalog");
    for (const [method, path] of [
      ["GET", "/v1/exchange/agr-x"],
      ["GET", "/v1/agreements"],
      ["GET", "/v1/usage"],
      ["GET", "/admin/partners"],
      ["GET", "/metrics/flows"],
      ["POST", "/v1/attestations"],
    ] as const) {
      const r = await t.call(method, path, { token });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(((await r.json()) as { code: string }).code).toBe("scope_missing");
    }
  });

  it("a partner suspended after its token was issued sees nothing more", async () => {
    const late = await createMember(t, unique("late"), "DE");
    const token = await late.token();
    await expectStatus(
      await t.admin("POST", `/admin/partners/${late.id}/suspend`, { reason: "check" }),
      200,
    );
    const res = await t.call("GET", "/v1/catalog", { token });
    expect(((await expectStatus(res, 403)) as { code: string }).code).toBe("partner_suspended");
    expect((await tokenFor(t, late.id, late.secret, "catalog")).status).toBe(401);
    await late.backend.close();
  });
});
