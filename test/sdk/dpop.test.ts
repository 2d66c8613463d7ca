/**
 * The SDK with a DPoP key against a real gateway served over HTTP on
 * loopback: tokens bound to the key, a fresh proof on every call and every
 * attempt (with `ath`), requireDpop partners served only with a key, and
 * the nonce dance at the token endpoint and on resources when the gateway
 * uses nonces.
 */
import { webcrypto } from "node:crypto";
import { type DpopKeyPair, GatewayClient, GatewayProblem } from "@data-sharing-gateway/sdk";
import { calculateJwkThumbprint, exportJWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ath, claimsOf } from "../support/dpop.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { type ServedGateway, serveGateway } from "./support.ts";

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
  readonly dpop: string | null;
  readonly status: number;
}

const servers: ServedGateway[] = [];
const ecosystems: Ecosystem[] = [];
let g: ServedGateway;

beforeAll(async () => {
  g = await serveGateway();
  servers.push(g);
});
afterAll(async () => {
  for (const e of ecosystems) await e.close();
  for (const s of servers) await s.close();
});

async function ecosystem(on = g) {
  const e = await createEcosystem(on.t);
  ecosystems.push(e);
  return e;
}

const newKey = async (algorithm: Parameters<typeof webcrypto.subtle.generateKey>[0]) =>
  (await webcrypto.subtle.generateKey(algorithm as never, false, ["sign", "verify"])) as
    | DpopKeyPair
    | never;

const es256 = () => newKey({ name: "ECDSA", namedCurve: "P-256" } as never);

/** A fetch that records each request and the status it got. */
function recording(misbehave?: (request: Request, n: number) => Response | undefined): {
  sent: Sent[];
  fetchFn: typeof fetch;
} {
  const sent: Sent[] = [];
  const fetchFn = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const fake = misbehave?.(request, sent.length + 1);
    const res = fake ?? (await fetch(request));
    sent.push({
      method: request.method,
      path: new URL(request.url).pathname,
      authorization: request.headers.get("Authorization"),
      dpop: request.headers.get("DPoP"),
      status: res.status,
    });
    return res;
  };
  return { sent, fetchFn: fetchFn as typeof fetch };
}

const client = (
  on: ServedGateway,
  eco: Ecosystem,
  partner: string,
  options: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {},
) =>
  new GatewayClient({
    baseUrl: on.url,
    clientId: partner,
    clientSecret: eco.secrets[partner] ?? "",
    ...options,
  });

const proofClaims = (proof: string | null) => claimsOf(proof ?? "..");

describe("GatewayClient with a DPoP key", () => {
  it("gets a token bound to its key and sends a fresh proof with every call", async () => {
    const eco = await ecosystem();
    const key = await es256();
    const { sent, fetchFn } = recording();
    const consumer = client(g, eco, eco.ids.consumer, { dpopKey: key, fetch: fetchFn });
    for (let i = 0; i < 2; i++) {
      const result = await consumer.read(eco.agreement, {
        purpose: "insurance-pricing",
        query: { day: String(i) },
      });
      expect(result.records).toBe(2);
    }
    const tokenCall = sent.find((s) => s.path === "/oauth/token");
    expect(proofClaims(tokenCall?.dpop ?? null)).toMatchObject({
      htm: "POST",
      htu: `${g.url}/oauth/token`,
    });
    const reads = sent.filter((s) => s.path.startsWith("/v1/exchange/"));
    expect(reads).toHaveLength(2);
    const token = reads[0]?.authorization?.replace(/^DPoP /, "") ?? "";
    expect(reads[0]?.authorization).toBe(`DPoP ${token}`);
    const jkt = await calculateJwkThumbprint(await exportJWK(key.publicKey));
    expect(claimsOf(token).cnf).toEqual({ jkt });
    const proofs = reads.map((r) => proofClaims(r.dpop));
    for (const p of proofs) {
      expect(p).toMatchObject({
        htm: "GET",
        htu: `${g.url}/v1/exchange/${eco.agreement}`,
        ath: ath(token),
      });
    }
    expect(proofs[0]?.jti).not.toBe(proofs[1]?.jti);
  });

  it("delivers with proofs too", async () => {
    const eco = await ecosystem();
    const provider = client(g, eco, eco.ids.provider, { dpopKey: await es256() });
    const result = await provider.deliver(eco.agreement, [{ vin: "VIN-7", mileage: 7 }], {
      purpose: "insurance-pricing",
    });
    expect(result.records).toBe(1);
  });

  it.each([
    ["Ed25519", { name: "Ed25519" }],
    [
      "RSA-PSS",
      {
        name: "RSA-PSS",
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
    ],
  ])("works with an %s key", async (_name, algorithm) => {
    const eco = await ecosystem();
    const consumer = client(g, eco, eco.ids.consumer, { dpopKey: await newKey(algorithm) });
    expect((await consumer.read(eco.agreement, { purpose: "insurance-pricing" })).records).toBe(2);
  });

  it("a retried call gets a new proof (a replayed one would be refused)", async () => {
    const eco = await ecosystem();
    const { sent, fetchFn } = recording((request, n) =>
      request.url.includes("/v1/exchange/") && n <= 2
        ? new Response(JSON.stringify({ code: "upstream_timeout", status: 504 }), {
            status: 504,
            headers: { "Content-Type": "application/problem+json" },
          })
        : undefined,
    );
    const consumer = client(g, eco, eco.ids.consumer, {
      dpopKey: await es256(),
      fetch: fetchFn,
      retry: { baseDelayMs: 1 },
    });
    expect((await consumer.read(eco.agreement, { purpose: "insurance-pricing" })).records).toBe(2);
    const attempts = sent.filter((s) => s.path.startsWith("/v1/exchange/"));
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    const jtis = new Set(attempts.map((a) => proofClaims(a.dpop).jti));
    expect(jtis.size).toBe(attempts.length);
  });

  it("a partner with requireDpop: refused without a key (400 invalid_dpop_proof), served with one", async () => {
    const eco = await ecosystem();
    const patched = await g.t.admin("PATCH", `/admin/partners/${eco.ids.consumer}`, {
      requireDpop: true,
    });
    expect(patched.status).toBe(200);
    const plain = client(g, eco, eco.ids.consumer);
    const refused = await plain
      .read(eco.agreement, { purpose: "insurance-pricing" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayProblem);
    expect(refused).toMatchObject({ status: 400, code: "invalid_dpop_proof" });
    const keyed = client(g, eco, eco.ids.consumer, { dpopKey: await es256() });
    expect((await keyed.read(eco.agreement, { purpose: "insurance-pricing" })).records).toBe(2);
  });
});

describe("GatewayClient against a gateway that uses DPoP nonces", () => {
  it("takes the nonce the token endpoint and the resources ask for, and retries once with it", async () => {
    const withNonces = await serveGateway(900, { dpopNonce: true });
    servers.push(withNonces);
    const eco = await ecosystem(withNonces);
    const { sent, fetchFn } = recording();
    const consumer = client(withNonces, eco, eco.ids.consumer, {
      dpopKey: await es256(),
      fetch: fetchFn,
    });
    expect((await consumer.read(eco.agreement, { purpose: "insurance-pricing" })).records).toBe(2);
    expect((await consumer.read(eco.agreement, { purpose: "insurance-pricing" })).records).toBe(2);
    const tokenCalls = sent.filter((s) => s.path === "/oauth/token");
    expect(tokenCalls.map((s) => s.status)).toEqual([400, 200]);
    expect(proofClaims(tokenCalls[1]?.dpop ?? null).nonce).toEqual(expect.any(String));
    const reads = sent.filter((s) => s.path.startsWith("/v1/exchange/"));
    // The first read learns the resource nonce (401), the second already has it.
    expect(reads.map((s) => s.status)).toEqual([401, 200, 200]);
  });
});
