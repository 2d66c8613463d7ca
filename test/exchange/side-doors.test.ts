/**
 * Issue 19, the channels around the body, through the public surface: what a
 * provider's deliver carries besides its body, HEAD and other methods, a
 * provider's 206, problem details that would quote a backend, the `failed`
 * count, rotated credentials, token requests naming another client, JSON with
 * duplicate keys, and phased-out parties.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flowRowsOf, problem } from "../metering/support.ts";
import { auditAll, basic, secretToken, tokenRequest } from "../operators/helpers.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
const ecosystems: Ecosystem[] = [];

beforeAll(async () => {
  t = await createTestGateway();
});
afterAll(async () => {
  for (const e of ecosystems) await e.close();
});

async function ecosystem() {
  const e = await createEcosystem(t);
  ecosystems.push(e);
  return e;
}

const purpose = { "Data-Purpose": "insurance-pricing" };

describe("a provider's deliver: nothing besides the body reaches the consumer unchecked", () => {
  it("a core marker in the subpath or the Idempotency-Key: 422 leak_blocked, counted, audited without the value", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.provider);
    const viaPath = await t.call("POST", `/v1/exchange/${e.agreement}/CAL-123456`, {
      token,
      body: { items: [{ vin: "V" }] },
      headers: purpose,
    });
    expect(viaPath.status).toBe(422);
    expect(await problem(viaPath)).toMatchObject({ code: "leak_blocked" });
    const viaKey = await t.call("POST", `/v1/exchange/${e.agreement}`, {
      token,
      body: { items: [{ vin: "V" }] },
      headers: { ...purpose, "Idempotency-Key": "CAL-234567" },
    });
    expect(viaKey.status).toBe(422);
    expect(await problem(viaKey)).toMatchObject({ code: "leak_blocked" });
    expect(e.consumer.received).toEqual([]);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 0, blocked: 2 });
    const entries = await auditAll(t, { action: "exchange.leak_blocked" });
    const ours = entries.filter((x) => x.target === `agreement:${e.agreement}`);
    expect(ours).toHaveLength(2);
    expect(JSON.stringify(ours)).not.toMatch(/CAL-(123456|234567)/);
  });

  it("the consumer gets the gateway's X-Request-Id and a key derived by the gateway", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.provider);
    const send = () =>
      t.call("POST", `/v1/exchange/${e.agreement}`, {
        token,
        body: { items: RECORDS },
        headers: { ...purpose, "Idempotency-Key": "order-7", "X-Request-Id": "CAL-345678" },
      });
    const first = await send();
    expect(first.status).toBe(200);
    const ours = first.headers.get("X-Request-Id");
    expect(ours).not.toBe("CAL-345678");
    expect((await send()).status).toBe(200);
    const [a, b] = e.consumer.received;
    expect(a?.headers["x-request-id"]).toBe(ours);
    expect(JSON.stringify([a?.headers, b?.headers])).not.toContain("CAL-345678");
    expect(a?.headers["idempotency-key"]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a?.headers["idempotency-key"]).not.toContain("order-7");
    // Stable across the retries of one request, so the consumer can deduplicate.
    expect(b?.headers["idempotency-key"]).toBe(a?.headers["idempotency-key"]);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 1 });
  });

  it("the audit trail records the gateway's request id, never the caller's", async () => {
    const forged = "forged-correlation-id-1";
    const e = await ecosystem();
    const suspend = await t.call("POST", `/admin/partners/${e.ids.consumer}/suspend`, {
      token: await t.token("operator", ["admin"]),
      body: { reason: "audit" },
      headers: { "X-Request-Id": forged },
    });
    expect(suspend.status).toBe(200);
    const entries = await auditAll(t, { action: "partner.suspend" });
    const entry = entries.find((x) => x.target === `partner:${e.ids.consumer}`);
    expect(entry?.requestId).toBe(suspend.headers.get("X-Request-Id"));
    expect(entry?.requestId).not.toBe(forged);
  });
});

describe("methods other than GET and POST on an exchange", () => {
  it("HEAD: 405 with Allow, the provider not called, nothing metered", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    for (const method of ["HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"]) {
      const res = await t.call(method, `/v1/exchange/${e.agreement}`, { token, headers: purpose });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("Allow"), method).toBe("GET, POST");
    }
    expect(e.provider.received).toEqual([]);
    expect(await flowRowsOf(t, e.agreement)).toEqual([]);
  });
});

describe("a provider's answer the gateway cannot use", () => {
  it("206 Partial Content: 502 upstream_error, nothing released, counted as failed", async () => {
    const e = await ecosystem();
    e.provider.handler = (_req, res) => {
      res.writeHead(206, { "Content-Type": "application/json", "Content-Range": "bytes 0-9/99" });
      res.end(JSON.stringify({ items: RECORDS }));
    };
    const res = await t.call("GET", `/v1/exchange/${e.agreement}`, {
      token: await e.partnerToken(e.ids.consumer),
      headers: purpose,
    });
    expect(res.status).toBe(502);
    expect(await problem(res)).toMatchObject({ code: "upstream_error" });
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 0, failed: 1 });
  });

  it("problem details never quote the provider's content type, status or body", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const answers: [number, string, string][] = [
      [200, "text/plain; calibration=CAL-123456; margin=secret-margin", "CAL-999999"],
      [200, "application/json", '{"items": [ CAL-777777'],
      [418, "application/json", '{"CAL-888888": 1}'],
    ];
    for (const [status, type, body] of answers) {
      e.provider.handler = (_req, res) => {
        res.writeHead(status, "Teapot CAL-555555", { "Content-Type": type });
        res.end(body);
      };
      const res = await t.call("GET", `/v1/exchange/${e.agreement}`, { token, headers: purpose });
      expect(res.status).toBe(502);
      const text = await res.text();
      expect(text).not.toMatch(/CAL-|calibration|margin|Teapot|418/);
    }
    const [row] = await flowRowsOf(t, e.agreement);
    expect(row).toMatchObject({ requests: 0, failed: 3 });
    const csv = await t.call("GET", "/metrics/flows?granularity=total&groupBy=agreement", {
      token: await t.token("finance", ["metrics:read"]),
      headers: { Accept: "text/csv" },
    });
    const lines = (await csv.text()).split("\r\n");
    expect(lines[0]).toContain("blocked,failed,records");
    expect(lines.find((l) => l.startsWith(`${e.agreement},`))).toMatch(/,0,0,0,3,0,0,/);
    const usage = await t.call("GET", "/v1/usage?granularity=total", { token });
    const items = ((await usage.json()) as { items: { agreement: string; failed: number }[] })
      .items;
    expect(items.find((i) => i.agreement === e.agreement)?.failed).toBe(3);
  });
});

describe("CSV cells a spreadsheet would run (the guard's defusing, through the exchange)", () => {
  const csv =
    'vin,mileage\r\n"=HYPERLINK(""http://evil.example/"",""x"")",1000\r\n@SUM(A1:A2),-3\r\n';
  const defused =
    'vin,mileage\r\n"\'=HYPERLINK(""http://evil.example/"",""x"")",1000\r\n\'@SUM(A1:A2),-3\r\n';

  it("a provider's answer: released prefixed with ', numbers left alone", async () => {
    const e = await ecosystem();
    e.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/csv" });
      res.end(csv);
    };
    const res = await t.call("GET", `/v1/exchange/${e.agreement}`, {
      token: await e.partnerToken(e.ids.consumer),
      headers: { ...purpose, Accept: "text/csv" },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(defused);
  });

  it("a provider's deliver: the consumer receives it prefixed with '", async () => {
    const e = await ecosystem();
    const res = await t.call("POST", `/v1/exchange/${e.agreement}`, {
      token: await e.partnerToken(e.ids.provider),
      body: csv,
      headers: { ...purpose, "Content-Type": "text/csv" },
    });
    expect(res.status).toBe(200);
    expect(e.consumer.received.at(-1)?.body).toBe(defused);
  });
});

describe("credentials rotated", () => {
  it("end the partner's tokens issued before: 401 invalid_token, a new token works", async () => {
    const e = await ecosystem();
    const old = await e.partnerToken(e.ids.consumer);
    const rotated = await t.admin("POST", `/admin/partners/${e.ids.consumer}/credentials`);
    expect(rotated.status).toBe(200);
    const { clientSecret } = (await rotated.json()) as { clientSecret: string };
    const refused = await t.call("GET", `/v1/exchange/${e.agreement}`, {
      token: old,
      headers: purpose,
    });
    expect(refused.status).toBe(401);
    expect(await problem(refused)).toMatchObject({ code: "invalid_token" });
    expect((await t.call("GET", "/v1/agreements", { token: old })).status).toBe(401);
    expect(e.provider.received).toEqual([]);
    const fresh = await secretToken(t, e.ids.consumer, clientSecret, `agreement:${e.agreement}`);
    const token = ((await fresh.json()) as { access_token: string }).access_token;
    const ok = await t.call("GET", `/v1/exchange/${e.agreement}`, { token, headers: purpose });
    expect(ok.status).toBe(200);
  });

  it("a rotation racing status changes of the same partner: every call succeeds", async () => {
    const e = await ecosystem();
    const id = e.ids.consumer;
    for (const step of ["suspend", "resume", "revoke", "reinstate"]) {
      const [rotated, changed] = await Promise.all([
        t.admin("POST", `/admin/partners/${id}/credentials`),
        t.admin("POST", `/admin/partners/${id}/${step}`, { reason: "race" }),
      ]);
      expect(rotated.status, step).toBe(200);
      expect(changed.status, step).toBe(200);
    }
    const partner = (await (await t.admin("GET", `/admin/partners/${id}`)).json()) as {
      status: string;
      credentialGeneration: number;
    };
    expect(partner).toMatchObject({ status: "active", credentialGeneration: 4 });
  });

  it("end an operator's tokens issued before the rotation of its client", async () => {
    const created = await t.admin("POST", "/admin/clients", { id: "ops-rotating", role: "admin" });
    const { clientSecret } = (await created.json()) as { clientSecret: string };
    const issued = await secretToken(t, "ops-rotating", clientSecret, "admin");
    const old = ((await issued.json()) as { access_token: string }).access_token;
    expect((await t.call("GET", "/admin/partners", { token: old })).status).toBe(200);
    expect((await t.admin("POST", "/admin/clients/ops-rotating/credentials")).status).toBe(200);
    const refused = await t.call("GET", "/admin/partners", { token: old });
    expect(refused.status).toBe(401);
    expect(await problem(refused)).toMatchObject({ code: "invalid_token" });
  });
});

describe("request bodies", () => {
  it("a token request naming another client_id than the authenticated one: 400 invalid_request", async () => {
    const e = await ecosystem();
    const res = await tokenRequest(
      t,
      { grant_type: "client_credentials", client_id: e.ids.provider },
      { Authorization: basic(e.ids.consumer, e.secrets[e.ids.consumer] ?? "") },
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_request" });
    const same = await tokenRequest(
      t,
      { grant_type: "client_credentials", client_id: e.ids.consumer },
      { Authorization: basic(e.ids.consumer, e.secrets[e.ids.consumer] ?? "") },
    );
    expect(same.status).toBe(200);
  });

  it("JSON with a duplicate key: 400 invalid_request naming it (operators' routes)", async () => {
    const e = await ecosystem();
    const dup = '{"reason":"ok","reason":"other"}';
    const res = await t.call("POST", `/admin/partners/${e.ids.consumer}/suspend`, {
      token: await t.token("operator", ["admin"]),
      body: dup,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe("invalid_request");
    expect(body.detail).toContain("reason");
    const partner = (await (await t.admin("GET", `/admin/partners/${e.ids.consumer}`)).json()) as {
      status: string;
    };
    expect(partner.status).toBe("active");
    const nested = await t.call("POST", "/admin/decisions", {
      token: await t.token("operator", ["admin"]),
      body: `{"partner":"${e.ids.consumer}","agreement":"${e.agreement}","action":"read","action":"deliver"}`,
    });
    expect(nested.status).toBe(400);
    expect(await nested.json()).toMatchObject({ code: "invalid_request" });
  });
});

describe("a phased-out party", () => {
  it("answers 403 partner_offboarded on exchanges and on the partner's own views", async () => {
    const e = await ecosystem();
    const consumerToken = await e.partnerToken(e.ids.consumer);
    const providerToken = await e.partnerToken(e.ids.provider);
    const at = new Date(t.gw.clock().getTime() + 1000).toISOString();
    const phased = await t.admin("POST", `/admin/partners/${e.ids.provider}/phase-out`, {
      at,
      reason: "leaving",
    });
    expect(phased.status).toBe(200);
    t.clock.offsetMs += 5000;
    try {
      const read = await t.call("GET", `/v1/exchange/${e.agreement}`, {
        token: consumerToken,
        headers: purpose,
      });
      expect(read.status).toBe(403);
      expect(await problem(read)).toMatchObject({ code: "partner_offboarded" });
      const own = await t.call("GET", "/v1/agreements", { token: providerToken });
      expect(own.status).toBe(403);
      expect(await problem(own)).toMatchObject({ code: "partner_offboarded" });
      expect(e.provider.received).toEqual([]);
    } finally {
      t.clock.offsetMs -= 5000;
    }
  });
});
