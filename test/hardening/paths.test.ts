/**
 * Path tricks against a real local server (listen() on loopback), sent as raw
 * request targets: each is 400 invalid_path as problem+json, never a 500, and
 * the provider's backend receives nothing. Legitimate encoded segments reach
 * the backend correctly encoded under the dataset's path.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GatewayError } from "../../functions/errors.ts";
import {
  checkQuery,
  MAX_SEGMENT_CHARS,
  MAX_SUBPATH_SEGMENTS,
  subpathSegments,
  upstreamUrl,
} from "../../functions/exchange/path.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import { type RawResponse, type RunningServer, rawGet, serve } from "./raw-http.ts";

let t: TestGateway;
let eco: Ecosystem;
let srv: RunningServer;
let token: string;
let providerToken: string;
let base: string;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
  srv = await serve(t);
  token = await eco.partnerToken(eco.ids.consumer);
  providerToken = await eco.partnerToken(eco.ids.provider);
  base = `/v1/exchange/${eco.agreement}`;
});
afterAll(async () => {
  await srv.close();
  await eco.close();
});
beforeEach(() => {
  eco.provider.received.length = 0;
  eco.consumer.received.length = 0;
});

const partnerHeaders = () => [`Authorization: Bearer ${token}`, "Data-Purpose: insurance-pricing"];

const get = (target: string | Buffer, extra: string[] = []) =>
  rawGet(srv.port, target, [...partnerHeaders(), ...extra]);

function expectInvalidPath(res: RawResponse, target: string): void {
  expect(res.status, target).toBe(400);
  expect(res.headers["content-type"], target).toBe("application/problem+json");
  expect(res.headers["x-request-id"], target).toBeTruthy();
  expect(JSON.parse(res.body), target).toMatchObject({ status: 400, code: "invalid_path" });
}

async function expectRefusedPaths(targets: readonly string[]): Promise<void> {
  for (const target of targets) {
    expectInvalidPath(await get(target), target);
  }
  expect(eco.provider.received).toEqual([]);
}

describe("control: the same server and token reach the provider", () => {
  it("a plain read is 200 and reaches the dataset's path", async () => {
    const res = await get(base);
    expect(res.status).toBe(200);
    expect(eco.provider.received.map((r) => r.url)).toEqual(["/telemetry"]);
  });
});

describe("dot segments in every encoding", () => {
  it("plain, percent-encoded in any case, mixed, double and triple encoded", async () => {
    await expectRefusedPaths([
      `${base}/../../admin/partners`,
      `${base}/..`,
      `${base}/../`,
      `${base}/a/../../x`,
      `${base}/%2e%2e/x`,
      `${base}/%2E%2E/x`,
      `${base}/%2E%2e/x`,
      `${base}/.%2e/x`,
      `${base}/%2e./x`,
      `${base}/%252e%252e/x`,
      `${base}/%252E%252E/x`,
      `${base}/%25252e%25252e/x`,
      `${base}/.`,
      `${base}/%2e`,
      `${base}/./x`,
      `/v1/exchange/%2e%2e/admin/partners`,
      `/v1/%2e%2e/admin/partners`,
    ]);
  });

  it("dot segments hidden behind encoded separators", async () => {
    await expectRefusedPaths([
      `${base}/..%2F..%2Fadmin`,
      `${base}/..%2f`,
      `${base}/..%5C..%5Cadmin`,
      `${base}/..%5c`,
      `${base}/%2e%2e%2f%2e%2e%2fadmin`,
      `${base}/%2e%2e%5c`,
      `${base}/%252e%252e%252f`,
      `${base}/x%2F..%2F..%2Fadmin`,
    ]);
  });

  it("dot segments a backend could still normalise: path parameters, trailing dots or spaces, full-width dots", async () => {
    await expectRefusedPaths([
      `${base}/..;/admin`,
      `${base}/..;x=1/admin`,
      `${base}/.;/x`,
      `${base}/...`,
      `${base}/..%20`,
      `${base}/%2e%2e%20/x`,
      `${base}/%20..`,
      `${base}/..%09`,
      `${base}/%EF%BC%8E%EF%BC%8E`,
      `${base}/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin`,
    ]);
  });

  it("malformed and non-UTF-8 escapes (overlong UTF-8 dots, %u, stray %)", async () => {
    await expectRefusedPaths([
      `${base}/%c0%ae%c0%ae/x`,
      `${base}/%e0%80%ae%e0%80%ae`,
      `${base}/%uff0e%uff0e`,
      `${base}/100%`,
      `${base}/%zz`,
      `${base}/%2`,
      `${base}/%ff`,
    ]);
  });
});

describe("backslashes, authority and scheme tricks", () => {
  it("backslashes raw and encoded", async () => {
    await expectRefusedPaths([
      `${base}/..\\..\\admin`,
      `${base}/a\\b`,
      `${base}/%5c`,
      `${base}/%5C..`,
      `${base}/%255c`,
      `/\\evil.example/x`,
      `/%5cevil.example${base}`,
      `${base}/\\\\evil.example/x`,
    ]);
  });

  it("//host and encoded slashes", async () => {
    await expectRefusedPaths([
      `//evil.example${base}`,
      `//evil.example/`,
      `${base}//evil.example/x`,
      `${base}/%2F%2Fevil.example`,
      `${base}/%2f`,
      `${base}/a%2Fb`,
      `/v1//exchange/${eco.agreement}`,
    ]);
  });

  it("@ and : in segments (userinfo, port and scheme lookalikes)", async () => {
    await expectRefusedPaths([
      `${base}/@evil.example`,
      `${base}/user@evil.example/x`,
      `${base}/%40evil.example`,
      `${base}/evil.example:443`,
      `${base}/http:%2F%2Fevil.example`,
      `${base}/https:`,
      `${base}/a%3Ab`,
    ]);
  });

  it("absolute-form and asterisk-form request targets", async () => {
    for (const target of [`http://evil.example${base}`, `https://127.0.0.1:1${base}`, "*"]) {
      expectInvalidPath(await get(target), target);
    }
    const options = await rawGet(srv.port, "*", partnerHeaders(), "OPTIONS");
    expectInvalidPath(options, "OPTIONS *");
    expect(eco.provider.received).toEqual([]);
  });

  it("a raw # anywhere in the target (fragments are not part of a request target)", async () => {
    await expectRefusedPaths([`${base}/x#y`, `${base}#/x`, `${base}/x#/../../admin`, `/health#x`]);
  });
});

describe("control characters and size", () => {
  it("encoded NUL, CR, LF, TAB, ESC and DEL, also double-encoded", async () => {
    await expectRefusedPaths([
      `${base}/a%00b`,
      `${base}/%00`,
      `${base}/a%0d%0aX-Injected:%201`,
      `${base}/a%0Ab`,
      `${base}/a%09b`,
      `${base}/a%1bb`,
      `${base}/a%7fb`,
      `${base}/a%250a`,
      `${base}/a%2500`,
    ]);
  });

  it("raw control characters and raw non-ASCII bytes never reach the app (node answers 400)", async () => {
    for (const target of [
      Buffer.from(`${base}/a\u0001b`, "latin1"),
      Buffer.from(`${base}/a\u007fb`, "latin1"),
      Buffer.from(`${base}/a\u0000b`, "latin1"),
      Buffer.concat([Buffer.from(`${base}/caf`), Buffer.from("é", "utf8")]),
    ]) {
      const res = await get(target);
      expect(res.status).toBe(400);
    }
    expect(eco.provider.received).toEqual([]);
  });

  it("overlong paths: a long segment, many segments, a long path", async () => {
    await expectRefusedPaths([
      `${base}/${"a".repeat(3000)}`,
      `${base}${"/a".repeat(1500)}`,
      `${base}/${"%41".repeat(1000)}`,
    ]);
  });

  it("a request line over the server's header limit is refused before the app", async () => {
    const res = await get(`${base}/${"a".repeat(20_000)}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(eco.provider.received).toEqual([]);
  });
});

describe("query strings", () => {
  it("encoded control characters in the query are 400 and never forwarded", async () => {
    for (const query of ["a=%00", "a=%0d%0aX-Injected:%201", "a=%0A", "a=%7f", "a=%1B", "%00=1"]) {
      const res = await get(`${base}?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers["content-type"]).toBe("application/problem+json");
      expect(JSON.parse(res.body)).toMatchObject({ status: 400 });
    }
    expect(eco.provider.received).toEqual([]);
  });

  it("a # or an unencoded special character in the query is 400", async () => {
    for (const query of ["a=1#b", "a=<script>", "a=`x`", 'a="x"', "a={}", "a=|", "a=%zz", "a=%"]) {
      const res = await get(`${base}?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers["content-type"]).toBe("application/problem+json");
    }
    expect(eco.provider.received).toEqual([]);
  });
});

describe("the other surfaces and the deliver direction", () => {
  it("path tricks on admin, metrics and token routes are refused before routing", async () => {
    await expectRefusedPaths([
      "/admin/%2e%2e/admin/partners",
      "/admin/partners/%2e%2e",
      "/metrics/..%2Fadmin",
      "/oauth/%2e%2e/admin/partners",
      "/admin/partners/a%2Fb",
    ]);
  });

  it("a deliver to a tricky subpath is refused and the consumer's backend gets nothing", async () => {
    for (const target of [`${base}/%2e%2e/x`, `${base}/..%2Fx`, `${base}/a%00`, `${base}/@x`]) {
      const body = Buffer.from(JSON.stringify({ items: [{ vin: "V" }] }));
      const head = [
        `POST ${target} HTTP/1.1`,
        `Host: 127.0.0.1:${srv.port}`,
        `Authorization: Bearer ${providerToken}`,
        "Data-Purpose: insurance-pricing",
        "Content-Type: application/json",
        `Content-Length: ${body.length}`,
        "Connection: close",
      ].join("\r\n");
      const { rawRequest } = await import("./raw-http.ts");
      expectInvalidPath(await rawRequest(srv.port, head, body), target);
    }
    expect(eco.consumer.received).toEqual([]);
  });
});

describe("legitimate encoded segments reach the provider correctly encoded", () => {
  it("spaces, unicode, reserved characters, dots inside names, trailing slash, query", async () => {
    const cases: [string, string][] = [
      [`${base}/VIN%201`, "/telemetry/VIN%201"],
      [`${base}/caf%C3%A9`, "/telemetry/caf%C3%A9"],
      [`${base}/%E2%82%AC%F0%9F%9A%97`, "/telemetry/%E2%82%AC%F0%9F%9A%97"],
      [`${base}/a%2Bb`, "/telemetry/a%2Bb"],
      [`${base}/a+b`, "/telemetry/a%2Bb"],
      [`${base}/VIN-1/trips`, "/telemetry/VIN-1/trips"],
      [`${base}/..foo`, "/telemetry/..foo"],
      [`${base}/v1.2`, "/telemetry/v1.2"],
      [`${base}/VIN-1/`, "/telemetry/VIN-1"],
      [
        `${base}/x?from=2026-01-01T00:00:00Z&q=a%20b`,
        "/telemetry/x?from=2026-01-01T00:00:00Z&q=a%20b",
      ],
      [`${base}?fields=vin,mileage`, "/telemetry?fields=vin,mileage"],
    ];
    for (const [target, upstream] of cases) {
      eco.provider.received.length = 0;
      const res = await get(target);
      expect(res.status, target).toBe(200);
      expect(
        eco.provider.received.map((r) => r.url),
        target,
      ).toEqual([upstream]);
    }
  });
});

describe("deployed (Lambda): the app checks the raw path it is handed, not the parsed URL", () => {
  // API Gateway hands the raw path in the event; the URL the app is called
  // with has already been normalised, so only the raw path shows the trick.
  const lambdaCall = (rawPath: string, rawQueryString = "") =>
    t.app.fetch(
      new Request(`http://gateway.test/v1/exchange/${eco.agreement}`, {
        headers: { Authorization: `Bearer ${token}`, "Data-Purpose": "insurance-pricing" },
      }),
      { event: { rawPath, rawQueryString } },
    );

  it("dot segments, encoded separators, authority characters and NUL in rawPath are 400 invalid_path", async () => {
    for (const rawPath of [
      `${base}/%2e%2e/x`,
      `${base}/..%2Fx`,
      `${base}/..;/x`,
      `${base}/@evil.example`,
      `${base}/a%00`,
      `${base}/%EF%BC%8E%EF%BC%8E`,
    ]) {
      const res = await lambdaCall(rawPath);
      expect(res.status, rawPath).toBe(400);
      expect(await res.json(), rawPath).toMatchObject({ code: "invalid_path" });
    }
    const query = await lambdaCall(base, "a=%0d%0aX:1");
    expect(query.status).toBe(400);
    expect(eco.provider.received).toEqual([]);
  });

  it("control: a clean rawPath is served", async () => {
    const res = await lambdaCall(`${base}/VIN%201`);
    expect(res.status).toBe(200);
    expect(eco.provider.received.map((r) => r.url)).toEqual(["/telemetry/VIN%201"]);
  });
});

describe("path.ts units", () => {
  const invalidPath = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe("invalid_path");
      return;
    }
    throw new Error("expected invalid_path");
  };

  it("caps the number and the length of subpath segments", () => {
    expect(subpathSegments("/a".repeat(MAX_SUBPATH_SEGMENTS))).toHaveLength(MAX_SUBPATH_SEGMENTS);
    invalidPath(() => subpathSegments("/a".repeat(MAX_SUBPATH_SEGMENTS + 1)));
    expect(subpathSegments(`/${"a".repeat(MAX_SEGMENT_CHARS)}`)).toHaveLength(1);
    invalidPath(() => subpathSegments(`/${"a".repeat(MAX_SEGMENT_CHARS + 1)}`));
    invalidPath(() => subpathSegments(`/${"%41".repeat(MAX_SEGMENT_CHARS + 1)}`));
  });

  it("decodes once for the check, encodes once for the call", () => {
    expect(subpathSegments("/VIN%201/caf%C3%A9/a;b/..x")).toEqual(["VIN 1", "café", "a;b", "..x"]);
    const url = upstreamUrl("http://127.0.0.1:1/base/", "/ds", ["VIN 1", "café", "a;b"], "q=1");
    expect(url.href).toBe("http://127.0.0.1:1/base/ds/VIN%201/caf%C3%A9/a%3Bb?q=1");
  });

  it("upstreamUrl keeps origin and prefix whatever the segments hold", () => {
    // Segments reaching upstreamUrl have been checked; even unchecked ones cannot escape:
    // separators are encoded, and dot segments trip the last-line assertion.
    for (const segments of [["@evil.example"], ["//evil.example"], ["?x", "#y"], ["a:b"]]) {
      const url = upstreamUrl("https://backend.example/api", "/ds", segments, "");
      expect(url.origin).toBe("https://backend.example");
      expect(url.pathname.startsWith("/api/ds/")).toBe(true);
    }
    for (const segments of [[".."], ["..", ".."], ["x", "..", ".."]]) {
      invalidPath(() => upstreamUrl("https://backend.example/api", "/ds", segments, ""));
    }
    // A lone "." resolves inside the prefix, so the assertion has nothing to refuse.
    expect(upstreamUrl("https://backend.example/api", "/ds", ["."], "").pathname).toBe("/api/ds/");
  });

  it("checkQuery refuses encoded C0 and C1 controls and keeps everything else as sent", () => {
    for (const q of ["a=%00", "a=%1f", "a=%7F", "a=%C2%85", "a=%c2%9b"]) {
      expect(() => checkQuery(q), q).toThrow(/control/);
    }
    for (const q of ["a=%20", "a=%2500", "a=%C3%A9", "from=2026-01-01T00:00:00Z", "a=%23"]) {
      expect(checkQuery(q)).toBe(q);
    }
  });
});
