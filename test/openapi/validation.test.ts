/**
 * The request schemas in the document behave like the zod schemas that
 * validate the requests: what the document calls invalid gets 400 from the
 * app, and the document's own examples pass validation. Samples are derived
 * from the document itself (its examples, required members, enums, patterns,
 * bounds), so a schema that drifts from the code fails here.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import {
  callOperation,
  concurrently,
  type Doc,
  ensurePartner,
  fetchDocument,
  find,
  type Operation,
  operations,
  type Parameter,
  resolvePointerOf,
  validatorOf,
} from "./helpers.ts";
import type { Schema } from "./json-schema.ts";

let t: TestGateway;
let doc: Doc;

beforeAll(async () => {
  t = await createTestGateway();
  await ensurePartner(t);
  doc = await fetchDocument(t);
});

const JSON_TYPE = "application/json";
/** Requests in flight at once: enough to overlap the store's round trips, few enough for 2 cores. */
const PARALLEL = 6;
const FORM_TYPE = "application/x-www-form-urlencoded";

interface BodyOp {
  readonly o: Operation;
  readonly type: string;
  readonly schema: Schema;
  readonly example: Record<string, unknown>;
}

/** Every documented JSON or form request body with a named schema, resolved, and its example. */
function bodyOps(): BodyOp[] {
  const out: BodyOp[] = [];
  for (const o of operations(doc)) {
    for (const type of [JSON_TYPE, FORM_TYPE]) {
      const media = o.op.requestBody?.content[type];
      // Exchange bodies are the partners' own records: no schema validates them.
      if (media === undefined || typeof media.schema.$ref !== "string") continue;
      const schema = resolvePointerOf(doc, media.schema);
      if (media.example === undefined) throw new Error(`${o.op.operationId}: no example`);
      out.push({ o, type, schema, example: media.example as Record<string, unknown> });
    }
  }
  return out;
}

async function send(b: BodyOp, body: Record<string, unknown>): Promise<Response> {
  if (b.type === FORM_TYPE) {
    const form = new URLSearchParams(
      Object.entries(body).map(([k, v]): [string, string] => [
        k,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    );
    return t.app.request(b.o.path, {
      method: "POST",
      headers: { "Content-Type": FORM_TYPE },
      body: form.toString(),
    });
  }
  return callOperation(t, b.o, { body });
}

/** The app's verdict: did validation refuse the request? */
async function refused(
  res: Response,
): Promise<{ refused: boolean; fields: string[]; text: string }> {
  const text = await res.text();
  if (res.status !== 400) return { refused: false, fields: [], text };
  const body = JSON.parse(text) as {
    code?: string;
    error?: string;
    errors?: { field: string }[];
  };
  return {
    refused: body.code === "invalid_request" || body.error === "invalid_request",
    fields: (body.errors ?? []).map((e) => e.field),
    text,
  };
}

describe("request bodies", () => {
  it("every documented example is valid for the document and passes the app's validation", async () => {
    const v = validatorOf(doc);
    const all = bodyOps();
    expect(all.length).toBeGreaterThanOrEqual(20);
    for (const b of all) expect(v.errors(b.schema, b.example), b.o.op.operationId).toEqual([]);
    const verdicts = await concurrently(all, PARALLEL, async (b) =>
      refused(await send(b, b.example)),
    );
    verdicts.forEach((verdict, i) => {
      expect(verdict.refused, `${all[i]?.o.op.operationId}: ${verdict.text}`).toBe(false);
    });
  });

  it("for every member removed, mistyped or added, the document and the app agree", async () => {
    const v = validatorOf(doc);
    const jobs = bodyOps().flatMap((b) => {
      const keys = Object.keys(b.example);
      const mutations: { what: string; body: Record<string, unknown>; removed?: string }[] = [
        ...keys.map((k) => {
          const { [k]: _gone, ...rest } = b.example;
          return { what: `without ${k}`, body: rest, removed: k };
        }),
        ...(b.type === JSON_TYPE
          ? keys.map((k) => ({ what: `${k}: true`, body: { ...b.example, [k]: true } }))
          : []),
        { what: "an unknown member", body: { ...b.example, zzUnknown: "1" } },
      ];
      return mutations.map((m) => ({ b, m }));
    });
    const results = await concurrently(jobs, PARALLEL, async ({ b, m }) => ({
      b,
      m,
      docValid: v.valid(b.schema, m.body),
      verdict: await refused(await send(b, m.body)),
    }));
    let agreed = 0;
    let requiredRefused = 0;
    for (const { b, m, docValid, verdict } of results) {
      const what = `${b.o.op.operationId} ${m.what}: document ${docValid ? "valid" : "invalid"}, app ${verdict.text.slice(0, 200)}`;
      if (docValid !== verdict.refused) {
        agreed++;
        const required = (b.schema.required as string[] | undefined) ?? [];
        if (m.removed !== undefined && required.includes(m.removed)) {
          requiredRefused++;
          if (b.type === JSON_TYPE) expect(verdict.fields, what).toContain(m.removed);
        }
        continue;
      }
      // The one allowed disagreement: a rule over the whole body that JSON Schema cannot
      // state (a zod refinement), which the document then states in words.
      expect(docValid && verdict.refused, what).toBe(true);
      expect(verdict.fields, what).toEqual(["body"]);
      expect(String(b.schema.description), what).toContain("Also checked:");
    }
    expect(agreed).toBeGreaterThan(120);
    expect(requiredRefused).toBeGreaterThan(30);
  });

  it("a partner without jurisdiction, or with one outside the document's list, gets 400; a listed one passes", async () => {
    const o = find(doc, "post", "/admin/partners");
    const b = bodyOps().find((x) => x.o.op.operationId === o.op.operationId);
    if (b === undefined) throw new Error("no body for createPartner");
    const v = validatorOf(doc);
    const base = { id: "jur-check", name: "Jurisdiction check", baseUrl: "https://jur.example" };

    const missing = base;
    expect(v.valid(b.schema, missing)).toBe(false);
    const r1 = await t.admin("POST", "/admin/partners", missing);
    expect(r1.status).toBe(400);
    expect(await r1.json()).toMatchObject({
      code: "invalid_request",
      detail: expect.stringContaining("jurisdiction"),
    });

    const listed = (resolvePointerOf(doc, { $ref: "#/components/schemas/Jurisdiction" }).enum ??
      []) as string[];
    expect(listed).toContain("NO");
    expect(listed).not.toContain("XX");
    const unknown = { ...base, jurisdiction: "XX" };
    expect(v.valid(b.schema, unknown)).toBe(false);
    expect((await t.admin("POST", "/admin/partners", unknown)).status).toBe(400);

    const valid = { ...base, jurisdiction: "NO" };
    expect(v.valid(b.schema, valid)).toBe(true);
    const r3 = await t.admin("POST", "/admin/partners", valid);
    expect(r3.status).toBe(201);
  });

  it("a rule JSON Schema cannot state is named in the description, and the app enforces it", async () => {
    const o = find(doc, "patch", "/admin/partners/{id}");
    const schema = resolvePointerOf(doc, o.op.requestBody?.content[JSON_TYPE]?.schema ?? {});
    expect(String(schema.description)).toContain(
      "name, jurisdiction, baseUrl or requireDpop is required",
    );
    // Valid for the JSON Schema alone: the refinement is what refuses it.
    expect(validatorOf(doc).valid(schema, { reason: "nothing else" })).toBe(true);
    const res = await t.admin("PATCH", "/admin/partners/jur-check", { reason: "nothing else" });
    expect(res.status).toBe(400);
  });
});

/** Values meant to break the parameter's schema, derived from it (the test asks the schema first). */
function invalidSamples(p: Parameter): string[] {
  const s = p.schema;
  const out: string[] = [];
  if (Array.isArray(s.enum)) out.push("zz-not-listed");
  if (typeof s.pattern === "string") out.push("!! not matching !!");
  if (s.type === "integer") {
    out.push("1.5", "ten");
    if (typeof s.minimum === "number") out.push(String(s.minimum - 1));
    if (typeof s.maximum === "number") out.push(String(s.maximum + 1));
  }
  if (typeof s.maxLength === "number") out.push("a".repeat(s.maxLength + 1));
  return out;
}

function validSamples(p: Parameter): string[] {
  const s = p.schema;
  if (Array.isArray(s.enum)) return s.enum.map(String);
  if (s.type === "integer") {
    return [s.minimum, s.maximum].filter((x): x is number => typeof x === "number").map(String);
  }
  if (s.format === "date-time") return [new Date(Date.now() - 3_600_000).toISOString()];
  if (p.name === "groupBy") return ["", "agreement", "consumer,dataset,consumer"];
  if (p.name === "partner") return ["some-partner"];
  if (p.name === "action") return ["partner.create"];
  return [];
}

/** A query-parameter value as the document's schema sees it (integers deserialised). */
const asValue = (p: Parameter, raw: string): unknown =>
  p.schema.type === "integer" && /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;

/**
 * `name=raw`, plus a window start two hours back where the operation takes one and `name`
 * is not it: the meter's reconciliation reads every hour of its window, and the default
 * window (the month so far) would make this test slow without testing anything more.
 */
function queryFor(o: Operation, name: string, raw: string): string {
  const takesFrom = (o.op.parameters ?? []).some((p) => p.in === "query" && p.name === "from");
  const from = new Date(Date.now() - 2 * 3_600_000).toISOString();
  const narrow = takesFrom && name !== "from" ? `from=${encodeURIComponent(from)}&` : "";
  return `${narrow}${name}=${encodeURIComponent(raw)}`;
}

describe("query parameters and headers", () => {
  it("a value the document rejects is refused; the values it allows are not", async () => {
    const v = validatorOf(doc);
    const jobs: { o: Operation; p: Parameter; raw: string; docValid: boolean }[] = [];
    for (const o of operations(doc)) {
      for (const p of (o.op.parameters ?? []).filter(
        (x) => x.in === "query" && x.name !== "query",
      )) {
        for (const raw of invalidSamples(p)) {
          const docValid = v.valid(p.schema, asValue(p, raw));
          if (!docValid) jobs.push({ o, p, raw, docValid });
        }
        for (const raw of validSamples(p)) {
          expect(v.valid(p.schema, asValue(p, raw)), `${p.name}=${raw}`).toBe(true);
          jobs.push({ o, p, raw, docValid: true });
        }
      }
    }
    const results = await concurrently(jobs, PARALLEL, async (job) => ({
      ...job,
      verdict: await refused(
        await callOperation(t, job.o, { query: queryFor(job.o, job.p.name, job.raw) }),
      ),
    }));
    for (const { o, p, raw, docValid, verdict } of results) {
      const what = `${o.op.operationId} ${p.name}=${raw}: ${verdict.text.slice(0, 200)}`;
      expect(verdict.refused, what).toBe(!docValid);
    }
    expect(results.filter((r) => !r.docValid).length).toBeGreaterThan(30);
    expect(results.filter((r) => r.docValid).length).toBeGreaterThan(30);
  });

  it("exchange headers and the agreement id: what the document rejects gets 400", async () => {
    const v = validatorOf(doc);
    const o = find(doc, "get", "/v1/exchange/{agreementId}");
    const param = (name: string) => {
      const p = o.op.parameters?.find((x) => x.name === name);
      if (p === undefined) throw new Error(`no ${name}`);
      return p;
    };
    for (const [name, bad] of [
      ["Data-Purpose", "Insurance Pricing"],
      ["Idempotency-Key", "has a space"],
    ] as const) {
      expect(v.valid(param(name).schema, bad)).toBe(false);
      const res = await callOperation(t, o, { headers: { [name]: bad } });
      expect(await res.json(), name).toMatchObject({ status: 400, code: "invalid_request" });
    }
    const id = param("agreementId");
    expect(v.valid(id.schema, "Not_An_Id")).toBe(false);
    const res = await callOperation(t, o, { path: "/v1/exchange/Not_An_Id" });
    expect(await res.json()).toMatchObject({ status: 400, code: "invalid_request" });
    // Valid values get past validation (no such agreement here).
    const ok = await callOperation(t, o, {
      headers: { "Data-Purpose": "insurance-pricing", "Idempotency-Key": "retry-1" },
    });
    expect(await ok.json()).toMatchObject({ status: 404, code: "agreement_not_found" });
  });

  it("every query parameter with a default or rules is generated from the validating schema", () => {
    const audit = find(doc, "get", "/admin/audit").op.parameters ?? [];
    expect(audit.map((p) => p.name)).toEqual([
      "limit",
      "cursor",
      "from",
      "to",
      "partner",
      "action",
    ]);
    const limit = audit.find((p) => p.name === "limit");
    expect(limit?.schema).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 1000,
      default: 100,
    });
    const deliveries = find(doc, "get", "/admin/deliveries").op.parameters ?? [];
    expect(deliveries.find((p) => p.name === "state")?.schema).toMatchObject({
      enum: ["pending", "delivered", "failed"],
      default: "pending",
    });
  });
});
