/**
 * People's Bearer access tokens on the admin and metrics routes: issued by a
 * real OpenID provider's keys (a discovery document and JWKS served on
 * loopback), verified for algorithm, key, issuer, audience (`aud` or
 * Cognito's `client_id`), `typ`, required claims and lifetime, mapped from
 * the groups claim to `admin` / `metrics:read`, and named in the audit trail
 * as `person:<username>`. A provider that cannot be reached is a 503.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS } from "../../functions/gateway.ts";
import { type PeopleSettings, parseRoleMap } from "../../functions/people/settings.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let provider: Server;
let issuer: string;
let rsa: Key;
let ec: Key;
let stranger: Key;
let t: TestGateway;

async function startProvider(): Promise<void> {
  const rsaPair = await generateKeyPair("RS256", { extractable: true });
  const ecPair = await generateKeyPair("ES256", { extractable: true });
  stranger = (await generateKeyPair("RS256")).privateKey;
  rsa = rsaPair.privateKey;
  ec = ecPair.privateKey;
  const jwks = {
    keys: [
      { ...(await exportJWK(rsaPair.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ecPair.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
    ],
  };
  provider = createServer((req, res) => {
    const body =
      req.url === "/.well-known/openid-configuration"
        ? {
            issuer,
            authorization_endpoint: `${issuer}/auth`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
          }
        : req.url === "/jwks"
          ? jwks
          : undefined;
    res.writeHead(body === undefined ? 404 : 200, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
}

const people = (overrides: Partial<PeopleSettings> = {}): PeopleSettings => ({
  issuer,
  clientId: "console",
  audience: "https://gateway.example",
  audienceClaim: "aud",
  rolesClaim: "groups",
  roleMap: parseRoleMap("operators=admin,finance=metrics:read,auditors=admin+metrics:read"),
  usernameClaim: "preferred_username",
  scopes: "openid",
  maxTokenLifetimeSeconds: 3600,
  ...overrides,
});

const gatewayWith = (p: PeopleSettings) =>
  createTestGateway({
    settings: {
      ...DEFAULT_SETTINGS,
      issuer: ISSUER,
      audience: ISSUER,
      localBackends: true,
      upstreamTimeoutMs: 3000,
      people: p,
    },
  });

interface Mint {
  claims?: JWTPayload;
  /** Sign with a key the provider never published (resolved at run time). */
  stranger?: boolean;
  alg?: string;
  kid?: string;
  typ?: string | null;
  lifetime?: number;
  iatOffset?: number;
}

async function mint(m: Mint = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000) + (m.iatOffset ?? 0);
  const alg = m.alg ?? "RS256";
  const header: Record<string, string> = {
    alg,
    kid: m.kid ?? (alg === "ES256" ? "ec-1" : "rsa-1"),
  };
  if (m.typ !== null) header.typ = m.typ ?? "at+jwt";
  return new SignJWT({
    iss: issuer,
    aud: "https://gateway.example",
    sub: "4f1c-uuid-of-alice",
    preferred_username: "alice",
    groups: ["operators"],
    jti: `jti-${Math.random()}`,
    iat: now,
    exp: now + (m.lifetime ?? 600),
    ...m.claims,
  })
    .setProtectedHeader(header as { alg: string })
    .sign(m.stranger === true ? stranger : alg === "ES256" ? ec : rsa);
}

const call = (path: string, token: string, init: { method?: string; body?: unknown } = {}) =>
  t.call(init.method ?? "GET", path, {
    token,
    ...(init.body === undefined ? {} : { body: init.body }),
  });

async function codeOf(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

beforeAll(async () => {
  await startProvider();
  t = await gatewayWith(people());
  const created = await t.admin("POST", "/admin/partners", {
    id: "acme",
    name: "Acme",
    jurisdiction: "SE",
    baseUrl: "http://127.0.0.1:9/acme",
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await new Promise((resolve) => provider?.close(resolve));
});

describe("people's access tokens on the admin and metrics routes", () => {
  it("an operator's token (RS256 or ES256) opens /admin and the audit trail names the person", async () => {
    expect((await call("/admin/partners", await mint())).status).toBe(200);
    expect((await call("/admin/partners", await mint({ alg: "ES256" }))).status).toBe(200);
    const suspended = await call("/admin/partners/acme/suspend", await mint(), {
      method: "POST",
      body: { reason: "checking the person's name" },
    });
    expect(suspended.status).toBe(200);
    const audit = (await (await t.admin("GET", "/admin/audit?action=partner.suspend")).json()) as {
      items: { actor: string }[];
    };
    expect(audit.items[0]?.actor).toBe("person:alice");
  });

  it("groups map to roles: finance reads metrics but not admin, no group opens nothing", async () => {
    const finance = await mint({ claims: { groups: ["finance"], preferred_username: "fay" } });
    expect((await call("/metrics/flows", finance)).status).toBe(200);
    const refused = await call("/admin/partners", finance);
    expect(refused.status).toBe(403);
    expect(await codeOf(refused)).toBe("scope_missing");
    const nobody = await mint({ claims: { groups: ["visitors"] } });
    expect(await codeOf(await call("/metrics/flows", nobody))).toBe("scope_missing");
    const both = await mint({ claims: { groups: ["auditors"] } });
    expect((await call("/admin/partners", both)).status).toBe(200);
    expect((await call("/metrics/flows", both)).status).toBe(200);
  });

  it.each<[string, Mint]>([
    ["another audience", { claims: { aud: "https://elsewhere.example" } }],
    ["expired", { iatOffset: -1200, lifetime: 600 }],
    ["a lifetime over the cap", { lifetime: 7200 }],
    ["issued in the future", { iatOffset: 600 }],
    ["no token id", { claims: { jti: undefined } }],
    ["no subject", { claims: { sub: undefined } }],
    ["a typ that is not an access token's", { typ: "dpop+jwt" }],
    ["a key the provider never published", { stranger: true }],
    ["a username that is not one", { claims: { preferred_username: "alice\nperson:bob" } }],
  ])("refuses a token with %s: 401 invalid_token", async (_what, m) => {
    const res = await call("/admin/partners", await mint(m));
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe("invalid_token");
  });

  it("refuses an HMAC token keyed with anything (algorithm allow-list)", async () => {
    const forged = await new SignJWT({
      iss: issuer,
      aud: "https://gateway.example",
      sub: "x",
      preferred_username: "mallory",
      groups: ["operators"],
      jti: "j",
    })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("a-shared-secret-nobody-should-trust"));
    const res = await call("/admin/partners", forged);
    expect(res.status).toBe(401);
  });

  it("accepts a token without typ (as Cognito, Entra and Okta send them)", async () => {
    expect((await call("/admin/partners", await mint({ typ: null }))).status).toBe(200);
  });

  it("is never a partner's token: the exchange refuses it", async () => {
    const res = await call("/v1/exchange/agr-1", await mint());
    expect(res.status).toBe(401);
  });

  it("Cognito's shape: the audience in client_id, no aud", async () => {
    const cognito = await gatewayWith(
      people({
        audience: "app-client-id",
        audienceClaim: "client_id",
        rolesClaim: "cognito:groups",
        usernameClaim: "username",
      }),
    );
    const token = (claims: JWTPayload) =>
      mint({
        typ: null,
        claims: {
          aud: undefined,
          preferred_username: undefined,
          groups: undefined,
          username: "carol",
          "cognito:groups": ["operators"],
          token_use: "access",
          ...claims,
        },
      });
    const ok = await cognito.call("GET", "/admin/partners", {
      token: await token({ client_id: "app-client-id" }),
    });
    expect(ok.status).toBe(200);
    // An ID token of the same client carries aud, not client_id: refused.
    const idToken = await cognito.call("GET", "/admin/partners", {
      token: await token({ aud: "app-client-id" }),
    });
    expect(idToken.status).toBe(401);
  });

  it("a provider that cannot be reached is 503 identity_provider_unavailable, never an allow", async () => {
    const down = await gatewayWith(people({ issuer: "http://127.0.0.1:9" }));
    const token = await new SignJWT({ iss: "http://127.0.0.1:9", sub: "x", jti: "j" })
      .setProtectedHeader({ alg: "RS256", kid: "rsa-1" })
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(rsa);
    const res = await down.call("GET", "/admin/partners", { token });
    expect(res.status).toBe(503);
    expect(await codeOf(res)).toBe("identity_provider_unavailable");
  });
});
