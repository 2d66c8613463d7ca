/**
 * Behind the front door (prod), the bundled functions answer only what came
 * through CloudFront (the origin secret it adds) or on the mTLS name with a
 * client certificate API Gateway verified; anything else reached the API
 * around the web ACL and is answered as if there were no such route.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STAGE_CONFIGS } from "../../infra/config.ts";
import { deployLocally, type LocalDeployment } from "./deployment.ts";

const MTLS = "mtls.gateway.example.com";
const CERT = { subjectDN: "CN=fleetco", issuerDN: "CN=Partner CA", serialNumber: "01" };

let d: LocalDeployment;
beforeAll(async () => {
  d = await deployLocally(
    {
      stage: "prod",
      config: JSON.stringify({
        frontDoor: { ...STAGE_CONFIGS.prod.frontDoor, mtls: { domainName: MTLS } },
      }),
    },
    { only: ["meta", "token"], logLevel: "warn" },
  );
}, 120_000);
afterAll(() => d?.close());

describe("the front door's origin check", () => {
  it("serves what came through CloudFront", async () => {
    const res = await d.request("GET", "/health");
    expect(res.statusCode).toBe(200);
  });

  it.each([
    ["no origin header (the execute-api URL)", {}],
    ["a wrong origin header", { headers: { "x-gateway-origin": "x".repeat(72) } }],
    ["the mTLS name without a client certificate", { domainName: MTLS }],
    [
      "another name with a client certificate",
      { domainName: "elsewhere.example.com", clientCert: CERT },
    ],
  ])("answers 404 not_found to %s, with a request id", async (_what, options) => {
    const res = await d.request("GET", "/health", { viaFrontDoor: false, ...options });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json).toMatchObject({ status: 404, code: "not_found" });
  });

  it("serves the mTLS name when API Gateway passed a verified client certificate", async () => {
    const res = await d.request("GET", "/.well-known/jwks.json", {
      viaFrontDoor: false,
      domainName: MTLS,
      clientCert: CERT,
    });
    expect(res.statusCode).toBe(200);
  });

  it("the token endpoint too: refused around the front door before any credential is read", async () => {
    const res = await d.request("POST", "/oauth/token", {
      viaFrontDoor: false,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    expect(res.statusCode).toBe(404);
    expect(await d.functions.token?.takeCalls()).toEqual([]);
  });
});

describe("KMS refusing a signature", () => {
  const basic = () => `Basic ${Buffer.from(`operator:${d.operatorSecret}`).toString("base64")}`;
  const tokenRequest = () =>
    d.request("POST", "/oauth/token", {
      headers: { authorization: basic(), "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&scope=admin",
    });

  it("throttled or disabled: 503 temporarily_unavailable, never a token, never a 500", async () => {
    expect((await tokenRequest()).statusCode).toBe(200);
    const key = d.keyArn("TokenSigningKey");
    for (const [fault, undo] of [
      [() => d.kms.setThrottled(key, true), () => d.kms.setThrottled(key, false)],
      [() => d.kms.setEnabled(key, false), () => d.kms.setEnabled(key, true)],
    ] as const) {
      fault();
      try {
        const res = await tokenRequest();
        expect(res.statusCode, res.body).toBe(503);
        expect(res.json).toMatchObject({ error: "temporarily_unavailable" });
        expect(res.body).not.toContain("access_token");
      } finally {
        undo();
      }
    }
    expect((await tokenRequest()).statusCode).toBe(200);
  });

  it("a throttled signature is logged as kms_throttled (an alarm counts these lines)", async () => {
    await d.functions.token?.takeLogs();
    const key = d.keyArn("TokenSigningKey");
    d.kms.setThrottled(key, true);
    try {
      expect((await tokenRequest()).statusCode).toBe(503);
    } finally {
      d.kms.setThrottled(key, false);
    }
    const codes = ((await d.functions.token?.takeLogs()) ?? []).flatMap((l) => {
      try {
        return [(JSON.parse(l) as { code?: string }).code];
      } catch {
        return [];
      }
    });
    expect(codes).toContain("kms_throttled");
  });
});
