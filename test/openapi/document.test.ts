/**
 * GET /openapi.json: a well-formed OpenAPI 3.1 document that names exactly
 * the routes the app serves, with usable security, the contract's codes, and
 * response schemas the real answers satisfy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openapiDocument } from "../../functions/openapi/document.ts";
import { EXCHANGE_DENIAL_CODES } from "../../policies/codes.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
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
  response,
  responseSchema,
  samplePath,
  validatorOf,
  walk,
} from "./helpers.ts";
import { resolvePointer } from "./json-schema.ts";

let t: TestGateway;
let doc: Doc;

beforeAll(async () => {
  t = await createTestGateway();
  await ensurePartner(t);
  doc = await fetchDocument(t);
});

const honoForm = (path: string) => path.replace(/\{([^}]+)\}/g, ":$1");

/** Problem codes an operation documents for a status (problem+json and OAuth errors). */
function codesOf(op: Operation, status: number): string[] {
  const r = doc.paths[op.path]?.[op.method]?.responses[String(status)];
  if (r === undefined) return [];
  const res = response(doc, op, status);
  const out: string[] = [];
  for (const media of Object.values(
    (res.content ?? {}) as Record<string, { schema: { allOf?: unknown[] } }>,
  )) {
    for (const part of media.schema.allOf ?? []) {
      const props = (part as { properties?: Record<string, { enum?: string[] }> }).properties ?? {};
      out.push(...(props.code?.enum ?? []), ...(props.error?.enum ?? []));
    }
  }
  return out;
}

describe("the document's structure", () => {
  it("is OpenAPI 3.1 with info, paths and components", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(typeof doc.info.title).toBe("string");
    expect(typeof doc.info.version).toBe("string");
    expect(Object.keys(doc.paths).length).toBeGreaterThan(40);
    expect(Object.keys(doc.components.schemas).length).toBeGreaterThan(20);
    for (const path of Object.keys(doc.paths)) expect(path.startsWith("/")).toBe(true);
  });

  it("resolves every $ref", () => {
    const refs: string[] = [];
    walk(doc, (value, pointer) => {
      if (pointer.endsWith("/$ref")) refs.push(String(value));
    });
    expect(refs.length).toBeGreaterThan(100);
    const broken = refs.filter((r) => resolvePointer(doc, r) === undefined);
    expect(broken).toEqual([]);
  });

  it("gives every operation a unique id, a tag it declares, responses with descriptions", () => {
    const ids = operations(doc).map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set((doc.tags as { name: string }[]).map((t) => t.name));
    for (const o of operations(doc)) {
      for (const tag of o.op.tags as string[])
        expect(tags.has(tag), `${o.op.operationId}: ${tag}`).toBe(true);
      expect(Object.keys(o.op.responses).length).toBeGreaterThan(0);
      for (const status of Object.keys(o.op.responses)) {
        expect(status).toMatch(/^[1-5]\d\d$/);
        expect(typeof response(doc, o, status).description).toBe("string");
      }
    }
  });

  it("gives parameters, bodies and media types the fields OpenAPI requires", () => {
    for (const o of operations(doc)) {
      const what = `${o.method} ${o.path}`;
      for (const p of o.op.parameters ?? []) {
        expect(typeof p.name, what).toBe("string");
        expect(["query", "header", "path", "cookie"], what).toContain(p.in);
        expect(typeof p.schema, `${what} ${p.name}`).toBe("object");
        // OpenAPI ignores these as header parameters: content negotiation is in the media types.
        if (p.in === "header")
          expect(["accept", "content-type", "authorization"], what).not.toContain(
            p.name.toLowerCase(),
          );
      }
      const bodies = o.op.requestBody === undefined ? [] : [o.op.requestBody.content];
      const answers = Object.keys(o.op.responses).map(
        (s) => (response(doc, o, s).content ?? {}) as Record<string, unknown>,
      );
      for (const content of [...bodies, ...answers]) {
        for (const [type, media] of Object.entries(content)) {
          expect(type, what).toMatch(/^[a-z]+\/[a-z0-9.+-]+$/);
          expect(typeof (media as { schema?: unknown }).schema, `${what} ${type}`).toBe("object");
        }
      }
    }
  });

  it("declares each path template parameter once, required, and no other path parameter", () => {
    for (const o of operations(doc)) {
      const inPath = [...o.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = (o.op.parameters ?? []).filter((p) => p.in === "path");
      expect(declared.map((p) => p.name).sort(), `${o.method} ${o.path}`).toEqual(
        [...inPath].sort(),
      );
      for (const p of declared) expect(p.required).toBe(true);
      const names = (o.op.parameters ?? []).map((p) => `${p.in}:${p.name}`);
      expect(new Set(names).size).toBe(names.length);
    }
  });

  it("uses only defined security schemes and scopes, the token URL the gateway serves", () => {
    const schemes = doc.components.securitySchemes as Record<string, Record<string, unknown>>;
    const flows = (schemes.oauth2?.flows ?? {}) as Record<
      string,
      { tokenUrl: string; scopes: Record<string, string> }
    >;
    const flow = flows.clientCredentials;
    expect(flow?.tokenUrl).toBe("/oauth/token");
    expect(Object.keys(flow?.scopes ?? {}).sort()).toEqual(
      ["admin", "agreement:{id}", "attestation", "catalog", "metrics:read", "metrics:close"].sort(),
    );
    expect(schemes.clientBasic).toMatchObject({ type: "http", scheme: "basic" });
    for (const o of operations(doc)) {
      expect(Array.isArray(o.op.security), o.op.operationId).toBe(true);
      for (const requirement of o.op.security ?? []) {
        for (const [scheme, scopes] of Object.entries(requirement)) {
          expect(schemes[scheme], scheme).toBeDefined();
          for (const s of scopes) expect(flow?.scopes[s], s).toBeDefined();
        }
      }
    }
    expect(find(doc, "post", "/oauth/token").op.security).toContainEqual({ clientBasic: [] });
  });

  it("lists, in every error response's description, each of its codes with what it means", () => {
    let checked = 0;
    for (const o of operations(doc)) {
      for (const status of Object.keys(o.op.responses).filter((s) => Number(s) >= 400)) {
        const description = String(response(doc, o, status).description);
        const codes = codesOf(o, Number(status));
        expect(codes.length, `${o.op.operationId} ${status}`).toBeGreaterThan(0);
        for (const code of codes) {
          expect(description, `${o.op.operationId} ${status}`).toMatch(
            new RegExp(`\`${code}\`: \\S`),
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
  });

  it("names the server the caller reached, and is otherwise the same document", async () => {
    const a = await fetchDocument(t, "http://gateway.example:8787");
    const b = await fetchDocument(t, "https://api.example.org");
    expect(a.servers).toEqual([{ url: "http://gateway.example:8787" }]);
    expect(b.servers).toEqual([{ url: "https://api.example.org" }]);
    expect({ ...a, servers: null }).toEqual({ ...b, servers: null });
  });

  it("is built once and kept", () => {
    expect(openapiDocument()).toBe(openapiDocument());
    expect(Object.isFrozen(openapiDocument())).toBe(true);
  });
});

describe("the document and the app's routes", () => {
  it("documents every route the app registers, with its method", () => {
    const routes = new Set(
      t.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
    );
    expect(routes.size).toBeGreaterThan(40);
    const documented = operations(doc).map((o) => ({
      method: o.method.toUpperCase(),
      path: honoForm(o.path),
    }));
    const missing = [...routes].filter((route) => {
      const [method, path = ""] = route.split(" ");
      if (path.endsWith("/*")) {
        const prefix = path.slice(0, -1);
        return !documented.some((d) => d.method === method && d.path.startsWith(prefix));
      }
      return !documented.some((d) => d.method === method && d.path === path);
    });
    expect(missing).toEqual([]);
  });

  it("documents no operation the app does not register", () => {
    const routes = t.app.routes.filter((r) => r.method !== "ALL");
    const extra = operations(doc).filter((o) => {
      const method = o.method.toUpperCase();
      const path = honoForm(o.path);
      return !routes.some(
        (r) =>
          r.method === method &&
          (r.path === path || (r.path.endsWith("/*") && path.startsWith(r.path.slice(0, -1)))),
      );
    });
    expect(extra.map((o) => `${o.method} ${o.path}`)).toEqual([]);
  });

  it("routes a request for every documented operation to a handler, with the documented scope sufficing", async () => {
    const unknown = await t.admin("GET", "/admin/no-such-thing");
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { code: string }).code).toBe("not_found");

    const from = new Date(Date.now() - 3_600_000).toISOString();
    const answers = await concurrently(operations(doc), 6, async (o) => {
      // A short window where there is one: the reconciliation reads every hour of it.
      const takesFrom = (o.op.parameters ?? []).some((p) => p.name === "from");
      const res = await callOperation(t, o, takesFrom ? { query: `from=${from}` } : {});
      return {
        o,
        status: res.status,
        type: res.headers.get("Content-Type"),
        body: await res.text(),
      };
    });
    for (const { o, status, type, body } of answers) {
      const what = `${o.method} ${samplePath(o.path)} → ${status} ${body.slice(0, 200)}`;
      const code = type?.includes("json")
        ? (JSON.parse(body) as { code?: string }).code
        : undefined;
      expect(status === 404 && code === "not_found", what).toBe(false);
      expect(status === 401 && code === "invalid_token", what).toBe(false);
      expect(code === "scope_missing", what).toBe(false);
      expect(status, what).not.toBe(500);
      // Whatever it answered is documented for it: the status, and the code among its codes.
      expect(Object.keys(o.op.responses), what).toContain(String(status));
      if (status >= 400 && type?.includes("json")) {
        const parsed = JSON.parse(body) as { code?: string; error?: string };
        expect(codesOf(o, status), what).toContain(parsed.code ?? parsed.error);
      }
    }
  });

  it("answers 401 without a token wherever the document asks for one", async () => {
    const answers = await concurrently(operations(doc), 6, async (o) => {
      const res = await callOperation(t, o, { token: null });
      await res.body?.cancel();
      return { o, status: res.status, challenge: res.headers.get("WWW-Authenticate") };
    });
    for (const { o, status, challenge } of answers) {
      const requirements = o.op.security ?? [];
      const what = `${o.method} ${o.path} → ${status}`;
      if (requirements.length > 0 && requirements.every((r) => "oauth2" in r)) {
        expect(status, what).toBe(401);
        expect(challenge, what).toContain("Bearer");
      } else {
        expect(status, what).not.toBe(401);
      }
    }
  });
});

/** The exchange table of the contract: status, code, and which action can answer it. */
const CONTRACT_EXCHANGE: readonly [number, string, "read" | "deliver" | "both"][] = [
  [401, "invalid_token", "both"],
  [403, "scope_missing", "both"],
  [404, "agreement_not_found", "both"],
  [403, "not_party", "both"],
  [403, "partner_revoked", "both"],
  [403, "partner_suspended", "both"],
  [403, "agreement_inactive", "both"],
  [403, "agreement_not_yet_valid", "both"],
  [403, "agreement_expired", "both"],
  [403, "action_not_permitted", "both"],
  [403, "purpose_not_permitted", "both"],
  [451, "jurisdiction_blocked", "both"],
  [429, "quota_exceeded", "both"],
  [400, "invalid_path", "both"],
  [413, "payload_too_large", "both"],
  [415, "unsupported_media_type", "deliver"],
  [422, "leak_blocked", "deliver"],
  [502, "leak_blocked", "read"],
  [502, "uninspectable_content", "both"],
  [502, "upstream_error", "both"],
  [504, "upstream_timeout", "both"],
  [503, "metering_unavailable", "both"],
];

describe("the exchange operations", () => {
  const exchangeOps = () =>
    ["/v1/exchange/{agreementId}", "/v1/exchange/{agreementId}/{subpath}"].flatMap((path) => [
      { action: "read" as const, o: find(doc, "get", path) },
      { action: "deliver" as const, o: find(doc, "post", path) },
    ]);

  it("document every problem code of the contract's exchange table, at its status", () => {
    for (const { action, o } of exchangeOps()) {
      for (const [status, code, when] of CONTRACT_EXCHANGE) {
        if (when !== "both" && when !== action) continue;
        expect(codesOf(o, status), `${o.method} ${o.path} ${status}`).toContain(code);
      }
      for (const code of EXCHANGE_DENIAL_CODES) {
        expect(Object.keys(o.op.responses).some((s) => codesOf(o, Number(s)).includes(code))).toBe(
          true,
        );
      }
    }
  });

  it("take Data-Purpose and Idempotency-Key, answer X-Records, and Retry-After with 429", () => {
    for (const { o } of exchangeOps()) {
      const headers = (o.op.parameters ?? []).filter((p) => p.in === "header").map((p) => p.name);
      expect(headers).toEqual(expect.arrayContaining(["Data-Purpose", "Idempotency-Key"]));
      expect(Object.keys((response(doc, o, 200).headers ?? {}) as object)).toContain("X-Records");
      expect(Object.keys((response(doc, o, 429).headers ?? {}) as object)).toContain("Retry-After");
      expect(o.op.security).toEqual([{ oauth2: ["agreement:{id}"] }]);
    }
  });
});

describe("answers match the documented response schemas", () => {
  let eco: Ecosystem;
  beforeAll(async () => {
    eco = await createEcosystem(t);
    const token = await eco.partnerToken(eco.ids.consumer);
    const read = await t.call("GET", `/v1/exchange/${eco.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing" },
    });
    expect(read.status).toBe(200);
  });
  afterAll(() => eco.close());

  async function expectDocumented(
    o: Operation,
    res: Response,
    status: number,
    type = "application/json",
  ): Promise<unknown> {
    const text = await res.text();
    expect(res.status, `${o.method} ${o.path}: ${text.slice(0, 300)}`).toBe(status);
    expect(res.headers.get("Content-Type") ?? "").toContain(type);
    const body: unknown = JSON.parse(text);
    const errors = validatorOf(doc).errors(responseSchema(doc, o, status, type), body);
    expect(errors, `${o.method} ${o.path} ${status}`).toEqual([]);
    return body;
  }

  it("for the operators' calls", async () => {
    const p = eco.ids.provider;
    const cases: [Operation["method"], string, string, number, unknown?][] = [
      ["get", "/admin/partners", "/admin/partners", 200],
      ["get", "/admin/partners/{id}", `/admin/partners/${p}`, 200],
      ["get", "/admin/partners/{id}/exit", `/admin/partners/${eco.ids.consumer}/exit`, 200],
      ["get", "/admin/datasets", "/admin/datasets", 200],
      ["get", "/admin/datasets/{id}", `/admin/datasets/${eco.ids.dataset}`, 200],
      ["get", "/admin/agreements", `/admin/agreements?partner=${p}`, 200],
      ["get", "/admin/agreements/{id}", `/admin/agreements/${eco.agreement}`, 200],
      [
        "get",
        "/admin/agreements/{id}/versions",
        `/admin/agreements/${eco.agreement}/versions`,
        200,
      ],
      ["get", "/admin/audit", "/admin/audit?limit=5", 200],
      ["get", "/admin/audit/verify", "/admin/audit/verify", 200],
      ["get", "/admin/trade-rules", "/admin/trade-rules", 200],
      ["get", "/admin/flows", "/admin/flows", 200],
      ["get", "/admin/deliveries", "/admin/deliveries", 200],
      [
        "post",
        "/admin/decisions",
        "/admin/decisions",
        200,
        { partner: eco.ids.consumer, agreement: eco.agreement, action: "read" },
      ],
      [
        "post",
        "/admin/clients",
        "/admin/clients",
        201,
        { id: "finance-two", role: "metrics:read" },
      ],
      ["get", "/admin/partners/{id}", "/admin/partners/nobody-here", 404],
      ["post", "/admin/partners", "/admin/partners", 400, { id: "x" }],
      [
        "post",
        "/admin/partners",
        "/admin/partners",
        409,
        { id: p, name: "Again", jurisdiction: "SE", baseUrl: "http://127.0.0.1:1" },
      ],
      [
        "post",
        "/admin/agreements/{id}/resume",
        `/admin/agreements/${eco.agreement}/resume`,
        200,
        { reason: "already active: answered as it is" },
      ],
    ];
    for (const [method, path, url, status, body] of cases) {
      const o = find(doc, method, path);
      const res = await t.admin(method.toUpperCase(), url, body);
      const type = status >= 400 ? "application/problem+json" : "application/json";
      await expectDocumented(o, res, status, type);
    }
    const flows = await t.admin("GET", "/admin/flows?format=mermaid");
    expect(flows.headers.get("Content-Type")).toContain("text/plain");
    expect(
      Object.keys(response(doc, find(doc, "get", "/admin/flows"), 200).content as object),
    ).toContain("text/plain");
  });

  it("for finance, partners, the token endpoint and the public documents", async () => {
    const finance = await t.token("finance", ["metrics:read"]);
    for (const [path, query] of [
      ["/metrics/flows", "?granularity=total&groupBy=agreement"],
      ["/metrics/flows", ""],
      ["/metrics/attribution", ""],
    ] as const) {
      const res = await t.call("GET", `${path}${query}`, { token: finance });
      const body = (await expectDocumented(find(doc, "get", path), res, 200)) as {
        items: unknown[];
      };
      expect(body.items.length).toBeGreaterThan(0);
    }
    const csv = await t.call("GET", "/metrics/flows", {
      token: finance,
      headers: { Accept: "text/csv" },
    });
    expect(csv.headers.get("Content-Type")).toContain("text/csv");
    expect(
      Object.keys(response(doc, find(doc, "get", "/metrics/flows"), 200).content as object),
    ).toContain("text/csv");

    const partner = await eco.partnerToken(eco.ids.consumer);
    await expectDocumented(
      find(doc, "get", "/v1/agreements"),
      await t.call("GET", "/v1/agreements", { token: partner }),
      200,
    );
    await expectDocumented(
      find(doc, "get", "/v1/usage"),
      await t.call("GET", "/v1/usage", { token: partner }),
      200,
    );
    await expectDocumented(
      find(doc, "get", "/v1/exchange/{agreementId}"),
      await t.call("GET", `/v1/exchange/${eco.agreement}`, { token: partner }),
      403,
      "application/problem+json",
    );

    const basic = (id: string, secret: string) =>
      `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
    const tokenOp = find(doc, "post", "/oauth/token");
    const form = (auth: string, body: string) =>
      t.app.request("/oauth/token", {
        method: "POST",
        headers: { Authorization: auth, "Content-Type": "application/x-www-form-urlencoded" },
        body,
      });
    await expectDocumented(
      tokenOp,
      await form(basic("operator", t.operatorSecret), "grant_type=client_credentials"),
      200,
    );
    await expectDocumented(
      tokenOp,
      await form(basic("operator", "wrong"), "grant_type=client_credentials"),
      401,
    );
    await expectDocumented(
      tokenOp,
      await form(basic("operator", t.operatorSecret), "grant_type=password"),
      400,
    );

    for (const path of [
      "/health",
      "/.well-known/jwks.json",
      "/.well-known/oauth-authorization-server",
    ]) {
      await expectDocumented(find(doc, "get", path), await t.app.request(path), 200);
    }
  });

  it("for the meter's reconciliation", async () => {
    const finance = await t.token("finance", ["metrics:read"]);
    const from = new Date(Date.now() - 2 * 3_600_000).toISOString();
    const res = await t.call("GET", `/metrics/reconcile?from=${from}`, { token: finance });
    const body = (await expectDocumented(find(doc, "get", "/metrics/reconcile"), res, 200)) as {
      consistent: boolean;
      events: number;
    };
    expect(body.consistent).toBe(true);
    expect(body.events).toBeGreaterThan(0);
  });
});
