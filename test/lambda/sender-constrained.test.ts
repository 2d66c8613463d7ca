/**
 * Sender-constrained tokens through the Lambda adapter, with API Gateway
 * HTTP API (payload 2.0) events as the service sends them: certificate-bound
 * tokens (RFC 8705) on the mTLS domain, where API Gateway passes the client
 * certificate it verified in `requestContext.authentication.clientCert`, and
 * DPoP proofs whose `htu` is the URL the client called through API Gateway.
 */
import { createHash } from "node:crypto";
import { handle } from "hono/aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../functions/app.ts";
import { DEFAULT_SETTINGS } from "../../functions/gateway.ts";
import { ALL_SURFACES } from "../../functions/surfaces/index.ts";
import { claimsOf, dpopKey, proof } from "../support/dpop.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";
import { CERT_A, CERT_B } from "./certificates.ts";
import { httpApiEvent, lambdaContext } from "./events.ts";

const MTLS_DOMAIN = "mtls.gateway.test";
const API_DOMAIN = "abc123.execute-api.eu-north-1.amazonaws.com";

type Result = { statusCode: number; headers?: Record<string, string>; body?: string };
let t: TestGateway;
let eco: Ecosystem;
let invoke: (event: unknown) => Promise<Result>;

/** x5t#S256 computed here from the PEM's bytes, independently of the gateway. */
const x5t = (pem: string) =>
  createHash("sha256")
    .update(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64"))
    .digest("base64url");

/** An event on `domain`, with the client certificate API Gateway verified (if any). */
function event(
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: string; domain?: string; cert?: string },
) {
  const domain = options.domain ?? MTLS_DOMAIN;
  const base = httpApiEvent(method, target, options);
  return {
    ...base,
    headers: { ...base.headers, host: domain },
    requestContext: {
      ...base.requestContext,
      domainName: domain,
      domainPrefix: domain.split(".")[0],
      ...(options.cert === undefined
        ? {}
        : {
            authentication: {
              clientCert: {
                clientCertPem: options.cert,
                subjectDN: "CN=partner.test",
                issuerDN: "CN=partner.test",
                serialNumber: "26:c4:3e:c2",
                validity: {
                  notBefore: "Dec  2 07:12:22 2026 GMT",
                  notAfter: "Nov 29 07:12:22 2036 GMT",
                },
              },
            },
          }),
    },
  };
}

const basic = (id: string) =>
  `Basic ${Buffer.from(`${id}:${eco.secrets[id] ?? ""}`).toString("base64")}`;

async function tokenVia(
  options: { domain?: string; cert?: string; dpop?: string },
  partner = eco.ids.consumer,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await invoke(
    event("POST", "/oauth/token", {
      ...options,
      headers: {
        authorization: basic(partner),
        "content-type": "application/x-www-form-urlencoded",
        ...(options.dpop === undefined ? {} : { dpop: options.dpop }),
      },
      body: `grant_type=client_credentials&scope=agreement:${eco.agreement}`,
    }),
  );
  return { status: res.statusCode, body: JSON.parse(res.body ?? "{}") };
}

function readVia(options: { domain?: string; cert?: string; headers: Record<string, string> }) {
  return invoke(
    event("GET", `/v1/exchange/${eco.agreement}?day=1`, {
      ...options,
      headers: { "data-purpose": "insurance-pricing", ...options.headers },
    }),
  );
}

beforeAll(async () => {
  t = await createTestGateway({
    settings: {
      ...DEFAULT_SETTINGS,
      issuer: ISSUER,
      audience: ISSUER,
      localBackends: true,
      mtlsDomain: MTLS_DOMAIN,
    },
  });
  eco = await createEcosystem(t);
  const handler = handle(createApp(t.gw, ALL_SURFACES) as never);
  invoke = (e) => handler(e as never, lambdaContext as never) as Promise<Result>;
});
afterAll(() => eco.close());

describe("certificate-bound tokens (RFC 8705) on the mTLS domain", () => {
  it("binds a token asked for with a client certificate to it (cnf.x5t#S256)", async () => {
    const { status, body } = await tokenVia({ cert: CERT_A });
    expect(status).toBe(200);
    expect(body.token_type).toBe("Bearer");
    expect(claimsOf(body.access_token as string).cnf).toEqual({ "x5t#S256": x5t(CERT_A) });
  });

  it("a token asked for elsewhere (no certificate) is not bound", async () => {
    const { body } = await tokenVia({ domain: API_DOMAIN });
    expect(claimsOf(body.access_token as string).cnf).toBeUndefined();
  });

  it("a bound token is served with the same certificate and refused with another or none", async () => {
    const token = (await tokenVia({ cert: CERT_A })).body.access_token as string;
    const calls = eco.provider.received.length;
    const ok = await readVia({ cert: CERT_A, headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    expect(eco.provider.received.length).toBe(calls + 1);
    for (const refused of [
      await readVia({ cert: CERT_B, headers: { authorization: `Bearer ${token}` } }),
      await readVia({ domain: API_DOMAIN, headers: { authorization: `Bearer ${token}` } }),
      // A certificate in an event of another domain is not the mTLS domain's: not taken.
      await readVia({
        domain: API_DOMAIN,
        cert: CERT_A,
        headers: { authorization: `Bearer ${token}` },
      }),
    ]) {
      expect(refused.statusCode).toBe(401);
      expect(JSON.parse(refused.body ?? "{}").code).toBe("invalid_token");
    }
    expect(eco.provider.received.length).toBe(calls + 1);
  });
});

describe("DPoP through API Gateway", () => {
  it("htu is the URL the client called: the API's domain or the public issuer's origin", async () => {
    const key = await dpopKey();
    const dpop = await proof(key, { htm: "POST", htu: `https://${API_DOMAIN}/oauth/token` });
    const { status, body } = await tokenVia({ domain: API_DOMAIN, dpop });
    expect(status).toBe(200);
    expect(body.token_type).toBe("DPoP");
    const token = body.access_token as string;
    const path = `/v1/exchange/${eco.agreement}`;
    for (const origin of [`https://${API_DOMAIN}`, ISSUER]) {
      const res = await readVia({
        domain: API_DOMAIN,
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await proof(key, { htm: "GET", htu: `${origin}${path}`, token }),
        },
      });
      expect(res.statusCode).toBe(200);
    }
    const elsewhere = await readVia({
      domain: API_DOMAIN,
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proof(key, { htm: "GET", htu: `https://${MTLS_DOMAIN}${path}`, token }),
      },
    });
    expect(elsewhere.statusCode).toBe(401);
    expect(elsewhere.headers?.["www-authenticate"]).toMatch(/^DPoP error="invalid_dpop_proof"/);
  });

  it("a token bound to both a certificate and a DPoP key needs both", async () => {
    const key = await dpopKey();
    const dpop = await proof(key, { htm: "POST", htu: `https://${MTLS_DOMAIN}/oauth/token` });
    const { body } = await tokenVia({ cert: CERT_A, dpop });
    const token = body.access_token as string;
    expect(claimsOf(token).cnf).toEqual({ jkt: key.jkt, "x5t#S256": x5t(CERT_A) });
    const path = `/v1/exchange/${eco.agreement}`;
    const fresh = () => proof(key, { htm: "GET", htu: `https://${MTLS_DOMAIN}${path}`, token });
    const both = await readVia({
      cert: CERT_A,
      headers: { authorization: `DPoP ${token}`, dpop: await fresh() },
    });
    expect(both.statusCode).toBe(200);
    const noCert = await readVia({
      cert: CERT_B,
      headers: { authorization: `DPoP ${token}`, dpop: await fresh() },
    });
    expect(noCert.statusCode).toBe(401);
    const noProof = await readVia({ cert: CERT_A, headers: { authorization: `DPoP ${token}` } });
    expect(noProof.statusCode).toBe(401);
  });
});
