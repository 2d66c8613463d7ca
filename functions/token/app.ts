/**
 * The OAuth 2.0 token endpoint (client credentials). Errors here take the
 * RFC 6749 shape. The keys and the metadata are public (metadata.ts).
 */
import { Hono } from "hono";
import { issueAccessToken } from "../auth/tokens.ts";
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { readBodyCapped } from "../http/middleware.ts";
import { authenticateClient } from "./client-auth.ts";
import { grantScopes, parseScope } from "./grant.ts";
import { OAuthError, oauthErrorResponse } from "./oauth-error.ts";

const MAX_FORM_BYTES = 16 * 1024;

async function readForm(req: Request): Promise<URLSearchParams> {
  const type = req.headers.get("Content-Type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new OAuthError(
      400,
      "invalid_request",
      "the body must be application/x-www-form-urlencoded",
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readBodyCapped(req, MAX_FORM_BYTES);
  } catch {
    throw new OAuthError(400, "invalid_request", `the body is larger than ${MAX_FORM_BYTES} bytes`);
  }
  const form = new URLSearchParams(new TextDecoder().decode(bytes));
  for (const name of new Set(form.keys())) {
    if (form.getAll(name).length > 1)
      throw new OAuthError(400, "invalid_request", `parameter ${name} is repeated`);
  }
  return form;
}

export function tokenApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/oauth/token", async (c) => {
    try {
      const form = await readForm(c.req.raw);
      const grantType = form.get("grant_type");
      if (grantType === null)
        throw new OAuthError(400, "invalid_request", "grant_type is required");
      if (grantType !== "client_credentials") {
        throw new OAuthError(400, "unsupported_grant_type", "only client_credentials is supported");
      }
      const client = await authenticateClient(gw, c.req.header("Authorization"), form);
      const grant = await grantScopes(gw, client, parseScope(form.get("scope")));
      const now = gw.clock();
      const ttl = gw.settings.tokenTtlSeconds;
      const { token, jti, exp } = await issueAccessToken(
        gw.keys.signer,
        { issuer: gw.settings.issuer, audience: gw.settings.audience, maxLifetimeSeconds: ttl },
        {
          sub: client.id,
          scopes: grant.scopes,
          ttlSeconds: ttl,
          bind: grant.bind,
          generation: client.generation ?? 0,
        },
        now,
      );
      await gw.audit.append({
        actor: client.id,
        action: "token.issue",
        target: `client:${client.id}`,
        requestId: c.get("requestId"),
        partners: client.role === "partner" ? [client.id] : [],
        details: { scopes: grant.scopes, jti, exp: new Date(exp * 1000).toISOString() },
      });
      c.header("Cache-Control", "no-store");
      c.header("Pragma", "no-cache");
      return c.json({
        access_token: token,
        token_type: "Bearer",
        expires_in: ttl,
        scope: grant.scopes.join(" "),
      });
    } catch (err) {
      if (err instanceof OAuthError) return oauthErrorResponse(err);
      if (err instanceof GatewayError && err.status === 503) {
        gw.log.error("token_store_unavailable", { message: err.message });
        return oauthErrorResponse(
          new OAuthError(503, "temporarily_unavailable", "the store is unavailable; retry"),
        );
      }
      throw err;
    }
  });

  return app;
}
