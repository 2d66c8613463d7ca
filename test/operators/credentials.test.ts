/**
 * Credentials: secret rotation (the old secret stops at once), named
 * operator and finance clients in the partners' id namespace, and RFC 7523
 * private_key_jwt client authentication against registered public keys,
 * all through the token endpoint.
 */
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";
import {
  accessToken,
  admin,
  adminJson,
  auditAll,
  basic,
  codeOf,
  read,
  secretToken,
  tokenRequest,
} from "./helpers.ts";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let t: TestGateway;
let eco: Ecosystem;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
});
afterAll(() => eco.close());

describe("secret rotation", () => {
  it("stops the old secret at once and starts the new one", async () => {
    const id = eco.ids.provider;
    const old = eco.secrets[id] ?? "";
    await accessToken(await secretToken(t, id, old));
    const rotated = await adminJson<{ clientId: string; clientSecret: string }>(
      t,
      "POST",
      `/admin/partners/${id}/credentials`,
    );
    expect(rotated.clientId).toBe(id);
    expect(rotated.clientSecret).not.toBe(old);
    const refused = await secretToken(t, id, old);
    expect(refused.status).toBe(401);
    expect(await codeOf(refused)).toBe("invalid_client");
    await accessToken(await secretToken(t, id, rotated.clientSecret));
    eco.secrets[id] = rotated.clientSecret;
    const audit = await auditAll(t, { partner: id, action: "client.rotate_secret" });
    expect(audit[0]).toMatchObject({ actor: "operator", target: `client:${id}` });
    expect(JSON.stringify(audit)).not.toContain(rotated.clientSecret);
  });

  it("answers 401 invalid_client for Basic with a wrong secret", async () => {
    const res = await secretToken(t, eco.ids.consumer, "not-the-secret");
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe("invalid_client");
    expect(res.headers.get("WWW-Authenticate")).toContain("Basic");
  });
});

describe("named operator and finance clients", () => {
  it("creates an operator client whose actions the audit trail names", async () => {
    const created = await adminJson<{ clientId: string; clientSecret: string }>(
      t,
      "POST",
      "/admin/clients",
      { id: "ops-anna", role: "admin" },
      201,
    );
    expect(created.clientId).toBe("ops-anna");
    const tokenRes = await secretToken(t, "ops-anna", created.clientSecret);
    const body = (await tokenRes.clone().json()) as { scope: string };
    expect(body.scope).toBe("admin");
    const token = await accessToken(tokenRes);
    const partnerScope = await secretToken(
      t,
      "ops-anna",
      created.clientSecret,
      `agreement:${eco.agreement}`,
    );
    expect(await codeOf(partnerScope)).toBe("invalid_scope");

    const suspended = await t.call("POST", `/admin/agreements/${eco.agreement}/suspend`, {
      token,
      body: { reason: "anna checks the flow" },
    });
    expect(suspended.status).toBe(200);
    await t.call("POST", `/admin/agreements/${eco.agreement}/resume`, {
      token,
      body: { reason: "checked" },
    });
    const entries = await auditAll(t, { action: "agreement.suspend" });
    expect(entries.find((e) => e.reason === "anna checks the flow")?.actor).toBe("ops-anna");
    const creation = await auditAll(t, { action: "client.create" });
    expect(creation.find((e) => e.target === "client:ops-anna")).toMatchObject({
      actor: "operator",
      details: { role: "admin" },
    });
  });

  it("creates a finance client that reads metrics and nothing of the operators", async () => {
    const created = await adminJson<{ clientSecret: string }>(
      t,
      "POST",
      "/admin/clients",
      { id: "fin-bob", role: "metrics:read" },
      201,
    );
    const token = await accessToken(await secretToken(t, "fin-bob", created.clientSecret));
    expect((await t.call("GET", "/metrics/flows", { token })).status).toBe(200);
    expect((await t.call("GET", "/admin/partners", { token })).status).toBe(403);
  });

  it("keeps one namespace: a partner's id, a client's id, a taken id are 409", async () => {
    const asPartner = await admin(t, "POST", "/admin/clients", {
      id: eco.ids.consumer,
      role: "admin",
    });
    expect(asPartner.status).toBe(409);
    expect(await codeOf(asPartner)).toBe("conflict");
    await adminJson(t, "POST", "/admin/clients", { id: "ops-carl", role: "admin" }, 201);
    const again = await admin(t, "POST", "/admin/clients", {
      id: "ops-carl",
      role: "metrics:read",
    });
    expect(again.status).toBe(409);
    const partnerNamedLikeClient = await admin(t, "POST", "/admin/partners", {
      id: "ops-carl",
      name: "Carl's company",
      jurisdiction: "SE",
      baseUrl: "http://127.0.0.1:9",
    });
    expect(partnerNamedLikeClient.status).toBe(409);
    const bootstrapId = await admin(t, "POST", "/admin/partners", {
      id: "operator",
      name: "Not the operator",
      jurisdiction: "SE",
      baseUrl: "http://127.0.0.1:9",
    });
    expect(bootstrapId.status).toBe(409);
    // The partner's own secret still works: nothing was overwritten.
    await accessToken(await secretToken(t, eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? ""));
  });

  it("refuses an unknown role and a malformed id with 400", async () => {
    for (const body of [
      { id: "ops-dora", role: "partner" },
      { id: "Ops_Dora", role: "admin" },
      { id: "ops-dora" },
    ]) {
      const res = await admin(t, "POST", "/admin/clients", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("private_key_jwt (RFC 7523)", () => {
  let ec: { privateKey: PrivateKey; jwk: JWK };
  let rsa: { privateKey: PrivateKey; jwk: JWK };
  const partner = () => eco.ids.consumer;

  beforeAll(async () => {
    const e = await generateKeyPair("ES256", { extractable: true });
    const r = await generateKeyPair("RS256", { extractable: true, modulusLength: 2048 });
    ec = { privateKey: e.privateKey, jwk: { ...(await exportJWK(e.publicKey)), kid: "ec-1" } };
    rsa = {
      privateKey: r.privateKey,
      jwk: { ...(await exportJWK(r.publicKey)), kid: "rsa-1", alg: "RS256" },
    };
    const put = await admin(t, "PUT", `/admin/partners/${partner()}/keys`, {
      keys: [ec.jwk, rsa.jwk],
    });
    expect(put.status).toBe(200);
  });

  interface AssertionOptions {
    alg?: string;
    kid?: string;
    key?: PrivateKey | Uint8Array;
    aud?: string;
    iat?: number;
    exp?: number;
    jti?: string;
    iss?: string;
  }

  async function assertion(o: AssertionOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const iss = o.iss ?? partner();
    return new SignJWT({})
      .setProtectedHeader({ alg: o.alg ?? "ES256", kid: o.kid ?? "ec-1" })
      .setIssuer(iss)
      .setSubject(iss)
      .setAudience(o.aud ?? ISSUER)
      .setIssuedAt(o.iat ?? now)
      .setExpirationTime(o.exp ?? now + 60)
      .setJti(o.jti ?? randomUUID())
      .sign(o.key ?? ec.privateKey);
  }

  const withAssertion = (jwt: string, extra: Record<string, string> = {}) =>
    tokenRequest(t, {
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: jwt,
      scope: `agreement:${eco.agreement}`,
      ...extra,
    });

  it("issues a token for an EC-signed assertion addressed to the issuer, usable for exchanges", async () => {
    const res = await withAssertion(await assertion());
    const token = await accessToken(res);
    expect((await read(t, eco, token)).status).toBe(200);
    const issued = await auditAll(t, { partner: partner(), action: "token.issue" });
    expect(issued.length).toBeGreaterThan(0);
  });

  it("issues a token for an RSA-signed assertion addressed to the token endpoint", async () => {
    const jwt = await assertion({
      alg: "RS256",
      kid: "rsa-1",
      key: rsa.privateKey,
      aud: `${ISSUER}/oauth/token`,
    });
    await accessToken(await withAssertion(jwt, { client_id: partner() }));
  });

  it("refuses a replayed assertion", async () => {
    const jwt = await assertion();
    await accessToken(await withAssertion(jwt));
    const replay = await withAssertion(jwt);
    expect(replay.status).toBe(401);
    expect(await codeOf(replay)).toBe("invalid_client");
  });

  it.each<[string, () => Promise<AssertionOptions>]>([
    ["a wrong audience", async () => ({ aud: "https://elsewhere.example" })],
    [
      "an expired assertion",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return { iat: now - 200, exp: now - 60 };
      },
    ],
    [
      "a lifetime over 300 s",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return { iat: now, exp: now + 400 };
      },
    ],
    [
      "a lifetime over 300 s that ends within 300 s",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return { iat: now - 200, exp: now + 200 };
      },
    ],
    [
      "an expiry over 300 s away",
      async () => ({ exp: Math.floor(Date.now() / 1000) + 3600, iat: undefined }),
    ],
    ["an unknown kid", async () => ({ kid: "ec-9" })],
    [
      "HS256 with a shared secret",
      async () => ({ alg: "HS256", key: new TextEncoder().encode("x".repeat(32)) }),
    ],
    ["a key of another client", async () => ({ key: (await generateKeyPair("ES256")).privateKey })],
    ["an issuer without keys", async () => ({ iss: eco.ids.provider })],
  ])("refuses %s with 401 invalid_client", async (_name, options) => {
    const res = await withAssertion(await assertion(await options()));
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe("invalid_client");
  });

  it("refuses an assertion for a suspended partner", async () => {
    await adminJson(t, "POST", `/admin/partners/${partner()}/suspend`, { reason: "x" });
    try {
      const res = await withAssertion(await assertion());
      expect(res.status).toBe(401);
      expect(await codeOf(res)).toBe("invalid_client");
    } finally {
      await adminJson(t, "POST", `/admin/partners/${partner()}/resume`, { reason: "x" });
    }
  });

  it("refuses to register private keys or secrets as keys (400)", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), kid: "leaked" };
    expect(priv.d).toBeDefined();
    for (const keys of [
      [priv],
      [{ kty: "oct", k: "c2VjcmV0", kid: "sym" }],
      [{ ...rsa.jwk, kid: "rsa-2", p: "AQAB" }],
      [{ kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA", kid: "broken" }],
      [ec.jwk, { ...rsa.jwk, kid: "ec-1" }],
      [],
    ]) {
      const res = await admin(t, "PUT", `/admin/partners/${partner()}/keys`, { keys });
      expect(res.status, JSON.stringify(keys).slice(0, 60)).toBe(400);
      expect(await codeOf(res)).toBe("invalid_request");
    }
    // The registered keys are unchanged.
    await accessToken(await withAssertion(await assertion()));
  });

  it("refuses two authentication methods at once", async () => {
    const res = await tokenRequest(
      t,
      {
        grant_type: "client_credentials",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: await assertion(),
      },
      { Authorization: basic(partner(), eco.secrets[partner()] ?? "") },
    );
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe("invalid_request");
  });
});
