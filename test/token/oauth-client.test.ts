/**
 * The token endpoint proved with a standard OAuth 2.0 client library
 * (openid-client) over real HTTP: discovery, client_secret_basic with
 * form-urlencoded credentials, and tokens that verify against the JWKS.
 */
import type { Server } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import * as oauth from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureClient } from "../../functions/bootstrap.ts";
import { DEFAULT_SETTINGS } from "../../functions/gateway.ts";
import { freePort } from "../../functions/local/dynamo-local.ts";
import { listen } from "../../functions/local/server.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
let eco: Ecosystem;
let server: Server;
let issuer: string;

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  t = await createTestGateway({
    settings: {
      ...DEFAULT_SETTINGS,
      issuer,
      audience: issuer,
      localBackends: true,
      tokenTtlSeconds: 600,
    },
  });
  eco = await createEcosystem(t);
  server = await listen(t.app, "127.0.0.1", port);
});

afterAll(async () => {
  await eco?.close();
  await new Promise((r) => server?.close(r) ?? r(undefined));
});

async function clientFor(id: string, secret: string) {
  return oauth.discovery(new URL(issuer), id, undefined, oauth.ClientSecretBasic(secret), {
    algorithm: "oauth2",
    execute: [oauth.allowInsecureRequests],
  });
}

describe("token endpoint with openid-client", () => {
  it("discovers the server and issues an agreement-scoped access token that verifies against the JWKS", async () => {
    const config = await clientFor(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? "");
    const tokens = await oauth.clientCredentialsGrant(config, {
      scope: `agreement:${eco.agreement}`,
    });
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.expires_in).toBe(600);
    expect(tokens.scope).toBe(`agreement:${eco.agreement}`);
    const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer,
      audience: issuer,
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload.sub).toBe(eco.ids.consumer);
    expect(typeof payload.jti).toBe("string");
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);
    const res = await fetch(`${issuer}/v1/exchange/${eco.agreement}`, {
      headers: {
        Authorization: `Bearer ${tokens.access_token}`,
        "Data-Purpose": "insurance-pricing",
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-records")).toBe("2");
  });

  it("decodes form-urlencoded client credentials inside Basic, as OAuth libraries send them", async () => {
    const secret = "s3cret+/=&%:é with spaces";
    await ensureClient(t.gw, "ops-encoded", "admin", secret);
    const config = await clientFor("ops-encoded", secret);
    const tokens = await oauth.clientCredentialsGrant(config, { scope: "admin" });
    expect(tokens.scope).toBe("admin");
  });

  it("answers RFC 6749 errors the library understands", async () => {
    const wrong = await clientFor(eco.ids.consumer, "not-the-secret");
    // RFC 6749 §5.2: a client that used Basic gets 401 with a Basic challenge, which the library surfaces as such.
    const refused = await oauth
      .clientCredentialsGrant(wrong, { scope: `agreement:${eco.agreement}` })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const challenge = refused as oauth.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause[0]?.scheme).toBe("basic");
    expect(await challenge.response.json()).toMatchObject({ error: "invalid_client" });
    const right = await clientFor(eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? "");
    await expect(oauth.clientCredentialsGrant(right, { scope: "admin" })).rejects.toMatchObject({
      error: "invalid_scope",
    });
    await expect(
      oauth.clientCredentialsGrant(right, { scope: "agreement:agr-does-not-exist" }),
    ).rejects.toMatchObject({
      error: "invalid_scope",
    });
  });
});
