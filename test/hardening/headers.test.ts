/**
 * Headers: partner-controlled values with control characters are refused
 * (400) or replaced, never a 500 and never forwarded raw; hop-by-hop,
 * credentials, ranges and proxy headers never reach a backend; a backend's
 * response headers never reach the caller (an allow-list).
 */
import type { IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Received } from "../support/backends.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import { type RunningServer, rawGet, rawRequest, serve } from "./raw-http.ts";

let t: TestGateway;
let eco: Ecosystem;
let srv: RunningServer;
let consumerToken: string;
let providerToken: string;
let read: string;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
  srv = await serve(t);
  consumerToken = await eco.partnerToken(eco.ids.consumer);
  providerToken = await eco.partnerToken(eco.ids.provider);
  read = `/v1/exchange/${eco.agreement}`;
});
afterAll(async () => {
  await srv.close();
  await eco.close();
});
beforeEach(() => {
  eco.provider.received.length = 0;
  eco.consumer.received.length = 0;
});

/** What the gateway may send to a backend; everything else is the partner's and stays out. */
const FORWARDABLE = new Set([
  "host",
  "authorization",
  "user-agent",
  "x-request-id",
  "data-purpose",
  "accept",
  "accept-encoding",
  "connection",
  "content-type",
  "content-length",
  "idempotency-key",
  // The gateway's own span of the call, in the request's trace (never the caller's header).
  "traceparent",
]);

function expectOnlyGatewayHeaders(received: readonly Received[], partnerToken: string): void {
  expect(received.length).toBeGreaterThan(0);
  for (const r of received) {
    const names = Object.keys(r.headers);
    expect(names.filter((n) => !FORWARDABLE.has(n))).toEqual([]);
    expect(r.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(r.headers.authorization).not.toContain(partnerToken);
    expect(r.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const [h] = (r.headers.authorization ?? "").slice(7).split(".");
    expect(JSON.parse(Buffer.from(h ?? "", "base64url").toString()).typ).toBe("gateway+jwt");
    expect(["keep-alive", undefined]).toContain(r.headers.connection);
  }
}

function expectNoRawValue(received: readonly Received[], needle: string): void {
  for (const r of received) {
    for (const [name, value] of Object.entries(r.headers as IncomingHttpHeaders)) {
      expect(String(value).includes(needle), `${name} carried the raw value`).toBe(false);
    }
  }
}

describe("control characters in partner-controlled values, through the app", () => {
  // fetch's Headers refuses CR, LF and NUL itself; these are what can reach the app.
  const BAD = ["a\u0001b", "a\u007fb", "a\u001bb", "a\tb", "caf\u00e9", "a\u0085b"];

  it("Data-Purpose: 400 invalid_request, the backend is not called", async () => {
    for (const value of BAD) {
      const res = await t.call("GET", read, {
        token: consumerToken,
        headers: { "Data-Purpose": value },
      });
      expect(res.status, JSON.stringify(value)).toBe(400);
      expect(res.headers.get("Content-Type")).toBe("application/problem+json");
      expect(await res.json()).toMatchObject({ code: "invalid_request" });
    }
    expect(eco.provider.received).toEqual([]);
  });

  it("Idempotency-Key: 400 invalid_request on read and deliver, no backend called", async () => {
    for (const value of [...BAD, "k".repeat(256)]) {
      const r = await t.call("GET", read, {
        token: consumerToken,
        headers: { "Data-Purpose": "insurance-pricing", "Idempotency-Key": value },
      });
      expect(r.status, JSON.stringify(value)).toBe(400);
      expect(await r.json()).toMatchObject({ code: "invalid_request" });
      const d = await t.call("POST", read, {
        token: providerToken,
        body: { items: [{ vin: "V" }] },
        headers: { "Data-Purpose": "insurance-pricing", "Idempotency-Key": value },
      });
      expect(d.status, JSON.stringify(value)).toBe(400);
    }
    expect(eco.provider.received).toEqual([]);
    expect(eco.consumer.received).toEqual([]);
  });

  it("Accept: replaced by the gateway's default, never forwarded raw", async () => {
    for (const value of BAD.map((v) => `application/json${v}`)) {
      const res = await t.call("GET", read, {
        token: consumerToken,
        headers: { "Data-Purpose": "insurance-pricing", Accept: value },
      });
      expect(res.status, JSON.stringify(value)).toBe(200);
    }
    expect(eco.provider.received.length).toBe(BAD.length);
    for (const r of eco.provider.received) {
      expect(r.headers.accept).toMatch(/^application\/json, application\/x-ndjson/);
    }
    for (const v of BAD) expectNoRawValue(eco.provider.received, v);
  });

  it("X-Request-Id: replaced by a fresh id, which is what the backend sees", async () => {
    for (const value of BAD.map((v) => `req-12345${v}`)) {
      const res = await t.call("GET", read, {
        token: consumerToken,
        headers: { "Data-Purpose": "insurance-pricing", "X-Request-Id": value },
      });
      expect(res.status).toBe(200);
      const id = res.headers.get("X-Request-Id") ?? "";
      expect(id).not.toBe(value);
      expect(id).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
      expect(eco.provider.received.at(-1)?.headers["x-request-id"]).toBe(id);
    }
    for (const v of BAD) expectNoRawValue(eco.provider.received, v);
  });
});

describe("control characters on the wire (real server)", () => {
  const line = (name: string, value: string) => `${name}: ${value}`;

  it("raw CR, LF or NUL inside a header value never reach the app: node answers 400", async () => {
    for (const name of ["Data-Purpose", "Idempotency-Key", "Accept", "X-Request-Id"]) {
      for (const value of ["a\rb", "a\u0000b", "a\u0001b", "a\u007fb"]) {
        const res = await rawGet(srv.port, read, [
          `Authorization: Bearer ${consumerToken}`,
          line(name, value),
        ]);
        expect(res.status, `${name} ${JSON.stringify(value)}`).toBe(400);
      }
    }
    expect(eco.provider.received).toEqual([]);
  });

  it("an injected CRLF only ever makes a second header, which is not forwarded", async () => {
    const res = await rawGet(srv.port, read, [
      `Authorization: Bearer ${consumerToken}`,
      "Data-Purpose: insurance-pricing",
      "X-Injected: evil",
      "Idempotency-Key: k-1",
      "Set-Cookie: session=evil",
    ]);
    expect(res.status).toBe(200);
    expect(eco.provider.received.length).toBe(1);
    expect(eco.provider.received[0]?.headers["x-injected"]).toBeUndefined();
    expect(eco.provider.received[0]?.headers["set-cookie"]).toBeUndefined();
  });

  it("obs-text (bytes over 0x7f) in values: refused or replaced, never forwarded", async () => {
    const obs = "a\u00e9\u00ffb"; // sent as the raw bytes E9 FF
    const purpose = await rawGet(srv.port, read, [
      `Authorization: Bearer ${consumerToken}`,
      line("Data-Purpose", obs),
    ]);
    expect(purpose.status).toBe(400);
    expect(JSON.parse(purpose.body)).toMatchObject({ code: "invalid_request" });
    const key = await rawGet(srv.port, read, [
      `Authorization: Bearer ${consumerToken}`,
      "Data-Purpose: insurance-pricing",
      line("Idempotency-Key", obs),
    ]);
    expect(key.status).toBe(400);
    expect(eco.provider.received).toEqual([]);
    const replaced = await rawGet(srv.port, read, [
      `Authorization: Bearer ${consumerToken}`,
      "Data-Purpose: insurance-pricing",
      line("Accept", `application/json${obs}`),
      line("X-Request-Id", `req-12345${obs}`),
    ]);
    expect(replaced.status).toBe(200);
    expectNoRawValue(eco.provider.received, "\u00e9");
  });

  it("an Authorization header over 8 KB (under node's 16 KB limit) is 401 problem+json", async () => {
    const res = await rawGet(srv.port, read, [
      `Authorization: Bearer ${consumerToken}${"A".repeat(9 * 1024)}`,
      "Data-Purpose: insurance-pricing",
    ]);
    expect(res.status).toBe(401);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(res.body)).toMatchObject({ code: "invalid_token" });
    const huge = await rawGet(srv.port, read, [`Authorization: Bearer ${"A".repeat(20 * 1024)}`]);
    expect(huge.status).toBe(431);
    expect(eco.provider.received).toEqual([]);
  });

  it("two Authorization headers are refused (401), not resolved to the first", async () => {
    const other = await eco.partnerToken(eco.ids.consumer);
    const res = await rawGet(srv.port, read, [
      `Authorization: Bearer ${consumerToken}`,
      `Authorization: Bearer ${other}`,
      "Data-Purpose: insurance-pricing",
    ]);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ code: "invalid_token" });
    expect(eco.provider.received).toEqual([]);
  });
});

const HOSTILE = [
  "Connection: close, X-Secret-Hop, Cookie",
  "X-Secret-Hop: hop-secret",
  "Keep-Alive: timeout=600, max=1000",
  "TE: trailers, deflate",
  "Trailer: X-Late",
  "Upgrade: h2c",
  "Proxy-Authorization: Basic cHJveHk6c2VjcmV0",
  "Proxy-Connection: keep-alive",
  "Proxy-Authenticate: Basic",
  "Cookie: session=partner-cookie-secret",
  "Range: bytes=0-10",
  "If-Range: abc",
  "If-None-Match: *",
  "If-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT",
  "X-Forwarded-For: 10.0.0.1",
  "X-Forwarded-Host: evil.example",
  "X-Forwarded-Proto: http",
  "X-Forwarded-Port: 1",
  "X-Forwarded-Prefix: /admin",
  "Forwarded: for=10.0.0.1;host=evil.example;proto=http",
  "X-Real-IP: 10.0.0.1",
  "X-Original-URL: /admin",
  "X-Rewrite-URL: /admin",
  "X-HTTP-Method-Override: DELETE",
  "X-Host: evil.example",
  "Via: 1.1 evil",
  "Max-Forwards: 0",
  "Origin: https://evil.example",
  "Referer: https://evil.example/",
  "Cache-Control: no-transform",
  "Pragma: no-cache",
  "X-Amz-Security-Token: stolen",
  "Content-Encoding-Override: gzip",
];

describe("what reaches a backend", () => {
  it("read: hop-by-hop, cookies, the partner's token, Range, X-Forwarded-*, Forwarded and Host overrides are dropped", async () => {
    const res = await rawRequest(
      srv.port,
      [
        `GET ${read}/VIN-1?x=1 HTTP/1.1`,
        "Host: evil.example",
        `Authorization: Bearer ${consumerToken}`,
        "Data-Purpose: insurance-pricing",
        ...HOSTILE,
      ].join("\r\n"),
    );
    expect(res.status).toBe(200);
    const received = eco.provider.received;
    expectOnlyGatewayHeaders(received, consumerToken);
    expect(received[0]?.url).toBe("/telemetry/VIN-1?x=1");
    expect(received[0]?.headers.host).toBe(new URL(eco.provider.url).host);
    for (const secret of ["hop-secret", "partner-cookie-secret", "evil", "10.0.0.1", "bytes="]) {
      expectNoRawValue(received, secret);
    }
  });

  it("deliver: the same headers from the provider never reach the consumer's backend", async () => {
    const body = JSON.stringify({ items: [{ vin: "V-9", mileage: 9 }] });
    const res = await rawRequest(
      srv.port,
      [
        `POST ${read}/inbox HTTP/1.1`,
        "Host: evil.example",
        `Authorization: Bearer ${providerToken}`,
        "Data-Purpose: insurance-pricing",
        "Content-Type: application/json",
        `Content-Length: ${Buffer.byteLength(body)}`,
        ...HOSTILE,
      ].join("\r\n"),
      Buffer.from(body),
    );
    expect(res.status).toBe(200);
    const received = eco.consumer.received;
    expectOnlyGatewayHeaders(received, providerToken);
    expect(received[0]?.url).toBe("/telemetry/inbox");
    expect(received[0]?.headers["content-type"]).toBe("application/json; charset=utf-8");
    for (const secret of ["hop-secret", "partner-cookie-secret", "evil", "10.0.0.1", "bytes="]) {
      expectNoRawValue(received, secret);
    }
  });

  it("through the app too (in-process, Lambda-like): the same set only", async () => {
    const headers: Record<string, string> = { "Data-Purpose": "insurance-pricing" };
    for (const h of HOSTILE) {
      const at = h.indexOf(":");
      headers[h.slice(0, at)] = h.slice(at + 1).trim();
    }
    headers.Host = "evil.example";
    const res = await t.call("GET", read, { token: consumerToken, headers });
    expect(res.status).toBe(200);
    expectOnlyGatewayHeaders(eco.provider.received, consumerToken);
  });
});

describe("what reaches the caller from a backend", () => {
  /** What the gateway itself sets on an exchange answer, plus what node's server adds. */
  const ANSWER_HEADERS = new Set([
    "content-type",
    "content-length",
    "x-records",
    "x-request-id",
    "cache-control",
    "date",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "www-authenticate",
    "retry-after",
    "x-content-type-options",
  ]);
  const NOISY: Record<string, string> = {
    "Set-Cookie": "backend-session=leak; Path=/",
    Location: "https://evil.example/next",
    Server: "LeakyServer/1.0",
    "X-Powered-By": "LeakyFramework",
    "X-Internal-Secret": "s3cr3t",
    "Access-Control-Allow-Origin": "*",
    "Content-Disposition": "attachment; filename=leak.json",
    Link: "<https://evil.example>; rel=preload",
    Refresh: "0; url=https://evil.example",
    "Strict-Transport-Security": "max-age=0",
    "WWW-Authenticate": "Basic realm=backend",
    "X-Records": "999",
    "Cache-Control": "public, max-age=31536000",
    "Content-Security-Policy": "default-src *",
  };

  it("on success: only the gateway's own headers, with its own values", async () => {
    const original = eco.provider.handler;
    eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json", ...NOISY });
      res.end(JSON.stringify({ items: RECORDS }));
    };
    try {
      const res = await rawGet(srv.port, read, [
        `Authorization: Bearer ${consumerToken}`,
        "Data-Purpose: insurance-pricing",
      ]);
      expect(res.status).toBe(200);
      expect(Object.keys(res.headers).filter((n) => !ANSWER_HEADERS.has(n))).toEqual([]);
      expect(res.headers["x-records"]).toBe("2");
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["www-authenticate"]).toBeUndefined();
      expect(JSON.stringify(res.headers)).not.toMatch(/leak|evil|s3cr3t|Leaky/i);
    } finally {
      eco.provider.handler = original;
    }
  });

  it("on a backend error or redirect: a problem, none of the backend's headers", async () => {
    const original = eco.provider.handler;
    try {
      for (const status of [302, 401, 500, 503]) {
        eco.provider.handler = (_req, res) => {
          res.writeHead(status, { "Content-Type": "application/json", ...NOISY });
          res.end(JSON.stringify({ error: "leak-body" }));
        };
        const res = await rawGet(srv.port, read, [
          `Authorization: Bearer ${consumerToken}`,
          "Data-Purpose: insurance-pricing",
        ]);
        expect(res.status, String(status)).toBe(502);
        expect(res.headers["content-type"]).toBe("application/problem+json");
        expect(res.headers["x-content-type-options"]).toBe("nosniff");
        expect(Object.keys(res.headers).filter((n) => !ANSWER_HEADERS.has(n))).toEqual([]);
        expect(res.headers["www-authenticate"]).toBeUndefined();
        expect(`${JSON.stringify(res.headers)}${res.body}`).not.toMatch(/leak|evil|s3cr3t|Leaky/i);
      }
    } finally {
      eco.provider.handler = original;
    }
  });
});
