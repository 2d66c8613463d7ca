/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9), on when the deployment asks:
 * a proof without the nonce is answered with one (token endpoint: 400
 * use_dpop_nonce; resources: 401 with a DPoP use_dpop_nonce challenge), a
 * proof with it passes, a nonce two windows old or not the gateway's is
 * refused, and the nonce verifies on another instance (stateless).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { NONCE_WINDOW_SECONDS } from "../../functions/auth/dpop-nonce.ts";
import { DEFAULT_SETTINGS } from "../../functions/gateway.ts";
import { type DpopKey, dpopKey, proof } from "../support/dpop.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";

const ORIGIN = "http://localhost";
const settings = { ...DEFAULT_SETTINGS, issuer: ISSUER, audience: ISSUER, localBackends: true };
let t: TestGateway;
let eco: Ecosystem;
let key: DpopKey;

beforeAll(async () => {
  t = await createTestGateway({ settings: { ...settings, dpopNonce: true } });
  eco = await createEcosystem(t);
  key = await dpopKey();
});

const nowSeconds = () => Math.floor((Date.now() + t.clock.offsetMs) / 1000);

function tokenRequest(dpop: string, gateway = t) {
  return gateway.app.request("/oauth/token", {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${eco.ids.consumer}:${eco.secrets[eco.ids.consumer]}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
      DPoP: dpop,
    },
    body: `grant_type=client_credentials&scope=agreement:${eco.agreement}`,
  });
}

const tokenProof = (nonce?: string) =>
  proof(key, { htm: "POST", htu: `${ORIGIN}/oauth/token`, nonce, iat: nowSeconds() });

describe("DPoP nonces at the token endpoint", () => {
  it("asks for a nonce, then issues a DPoP token with it", async () => {
    const first = await tokenRequest(await tokenProof());
    expect(first.status).toBe(400);
    expect(await first.json()).toMatchObject({ error: "use_dpop_nonce" });
    const nonce = first.headers.get("DPoP-Nonce");
    expect(nonce).toMatch(/^\d+\.[A-Za-z0-9_-]{22}$/);
    const second = await tokenRequest(await tokenProof(nonce ?? ""));
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ token_type: "DPoP" });
    expect(second.headers.get("DPoP-Nonce")).toBe(nonce);
  });

  it("a nonce verifies on another instance (stateless); a forged one is refused", async () => {
    const nonce = (await tokenRequest(await tokenProof())).headers.get("DPoP-Nonce") ?? "";
    const sibling = await createTestGateway({
      client: t.client,
      tables: t.gw.db.tables,
      keys: t.gw.keys,
      settings: { ...settings, dpopNonce: true },
    });
    expect((await tokenRequest(await tokenProof(nonce), sibling)).status).toBe(200);
    const forged = `${nonce.split(".")[0]}.${"A".repeat(22)}`;
    const refused = await tokenRequest(await tokenProof(forged));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "use_dpop_nonce" });
  });

  it("a nonce lives one to two windows: two windows later it is refused", async () => {
    const nonce = (await tokenRequest(await tokenProof())).headers.get("DPoP-Nonce") ?? "";
    t.clock.offsetMs += NONCE_WINDOW_SECONDS * 1000;
    try {
      expect((await tokenRequest(await tokenProof(nonce))).status).toBe(200);
      t.clock.offsetMs += NONCE_WINDOW_SECONDS * 1000;
      const stale = await tokenRequest(await tokenProof(nonce));
      expect(stale.status).toBe(400);
      expect(await stale.json()).toMatchObject({ error: "use_dpop_nonce" });
      expect(stale.headers.get("DPoP-Nonce")).not.toBe(nonce);
    } finally {
      t.clock.offsetMs = 0;
    }
  });
});

describe("DPoP nonces on resources", () => {
  it("401 use_dpop_nonce with a nonce, then served with it; the answer carries the nonce", async () => {
    const first = await tokenRequest(await tokenProof());
    const nonce = first.headers.get("DPoP-Nonce") ?? "";
    const issued = await tokenRequest(await tokenProof(nonce));
    const token = ((await issued.json()) as { access_token: string }).access_token;
    const path = `/v1/exchange/${eco.agreement}`;
    const read = async (withNonce?: string) =>
      t.app.request(path, {
        headers: {
          Authorization: `DPoP ${token}`,
          DPoP: await proof(key, {
            htm: "GET",
            htu: `${ORIGIN}${path}`,
            token,
            nonce: withNonce,
            iat: nowSeconds(),
          }),
          "Data-Purpose": "insurance-pricing",
        },
      });
    const calls = eco.provider.received.length;
    const asked = await read();
    expect(asked.status).toBe(401);
    expect(asked.headers.get("WWW-Authenticate")).toMatch(/^DPoP error="use_dpop_nonce"/);
    const given = asked.headers.get("DPoP-Nonce") ?? "";
    expect(given).not.toBe("");
    expect(eco.provider.received.length).toBe(calls);
    const served = await read(given);
    expect(served.status).toBe(200);
    expect(served.headers.get("DPoP-Nonce")).toBe(given);
  });
});
