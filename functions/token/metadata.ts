/**
 * What the authorization server publishes without a token: its keys (JWKS)
 * and its metadata (RFC 8414).
 */
import { Hono } from "hono";
import { DPOP_ALGORITHMS } from "../auth/dpop.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { JWT_BEARER_ASSERTION } from "./client-auth.ts";

export function metadataApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/.well-known/jwks.json", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json({ keys: gw.keys.publicJwks });
  });

  app.get("/.well-known/oauth-authorization-server", (c) =>
    c.json({
      issuer: gw.settings.issuer,
      token_endpoint: `${gw.settings.issuer}/oauth/token`,
      jwks_uri: `${gw.settings.issuer}/.well-known/jwks.json`,
      grant_types_supported: ["client_credentials"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "private_key_jwt"],
      token_endpoint_auth_signing_alg_values_supported: [
        "ES256",
        "ES384",
        "PS256",
        "RS256",
        "EdDSA",
      ],
      client_assertion_types_supported: [JWT_BEARER_ASSERTION],
      dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
      ...(gw.settings.mtlsDomain === undefined
        ? {}
        : {
            tls_client_certificate_bound_access_tokens: true,
            mtls_endpoint_aliases: {
              token_endpoint: `https://${gw.settings.mtlsDomain}/oauth/token`,
            },
          }),
      response_types_supported: [],
      scopes_supported: [
        "admin",
        "metrics:read",
        "metrics:close",
        "attestation",
        "catalog",
        "agreement:{id}",
      ],
    }),
  );

  return app;
}
