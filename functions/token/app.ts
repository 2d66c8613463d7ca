/**
 * The OAuth 2.0 token endpoint (client credentials). Errors here take the
 * RFC 6749 shape. The keys and the metadata are public (metadata.ts).
 */
import { type Context, Hono } from "hono";
import type { VerifiedProof } from "../auth/dpop.ts";
import { clientCertificateOf } from "../auth/mtls.ts";
import { issueAccessToken } from "../auth/tokens.ts";
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { readBodyCapped } from "../http/middleware.ts";
import { dpopHeader, requestHtus } from "../http/sender.ts";
import { authenticateClient } from "./client-auth.ts";
import { grantScopes, parseScope, scopeAgreementIds } from "./grant.ts";
import { OAuthError, oauthErrorResponse } from "./oauth-error.ts";
import { type Prefetched, TokenReads } from "./token-reads.ts";

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

/**
 * The token request's DPoP proof (RFC 9449 §5): for POST to this endpoint's
 * URL as the client wrote it, fresh, with the nonce when nonces are on.
 * Its jti is claimed once the client may have a token.
 */
async function checkTokenProof(
  gw: Gateway,
  c: Context<AppEnv>,
  dpop: string,
  now: Date,
): Promise<VerifiedProof> {
  const nonces = await gw.dpop.nonces();
  const checked = gw.dpop.verifier.check(dpop, {
    htm: "POST",
    htu: requestHtus(c, gw.settings.issuer),
    now,
    nonces,
  });
  if (checked.ok) return checked.proof;
  const headers: Record<string, string> =
    nonces === undefined ? {} : { "DPoP-Nonce": nonces.current(now) };
  throw new OAuthError(400, checked.error, checked.detail, false, headers);
}

export function tokenApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const reads = new TokenReads(gw);

  app.post("/oauth/token", async (c) => {
    try {
      const form = await readForm(c.req.raw);
      const grantType = form.get("grant_type");
      if (grantType === null)
        throw new OAuthError(400, "invalid_request", "grant_type is required");
      if (grantType !== "client_credentials") {
        throw new OAuthError(400, "unsupported_grant_type", "only client_credentials is supported");
      }
      const dpop = dpopHeader(c);
      if (dpop === null)
        throw new OAuthError(400, "invalid_dpop_proof", "send exactly one DPoP proof");
      // The client, its partner item and its scope's agreements in one read.
      let prefetched: Prefetched | undefined;
      const agreementIds = scopeAgreementIds(form.get("scope"));
      const client = await authenticateClient(
        gw,
        c.req.header("Authorization"),
        form,
        async (id) => {
          const read = await reads.read(id, agreementIds);
          prefetched = read.prefetched;
          return read.client;
        },
      );
      const now = gw.clock();
      const proof = dpop === undefined ? undefined : await checkTokenProof(gw, c, dpop, now);
      const grant = await grantScopes(gw, client, parseScope(form.get("scope")), prefetched);
      reads.learn(grant.bind);
      if (grant.requireDpop === true && proof === undefined) {
        throw new OAuthError(
          400,
          "invalid_dpop_proof",
          "this client takes only DPoP-bound tokens: send a DPoP proof",
        );
      }
      if (
        proof !== undefined &&
        (gw.dpop.recent.replayed(proof, now) || !(await gw.dpop.replays.claim(proof, now)))
      ) {
        throw new OAuthError(400, "invalid_dpop_proof", "the DPoP proof was used before");
      }
      const cnf = { jkt: proof?.jkt, x5t: clientCertificateOf(c.env, gw.settings.mtlsDomain) };
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
          cnf,
        },
        now,
      );
      await gw.audit.append({
        actor: client.id,
        action: "token.issue",
        target: `client:${client.id}`,
        requestId: c.get("requestId"),
        partners: client.role === "partner" ? [client.id] : [],
        details: {
          scopes: grant.scopes,
          jti,
          exp: new Date(exp * 1000).toISOString(),
          ...(cnf.jkt === undefined ? {} : { jkt: cnf.jkt }),
          ...(cnf.x5t === undefined ? {} : { x5t: cnf.x5t }),
        },
      });
      c.header("Cache-Control", "no-store");
      c.header("Pragma", "no-cache");
      const nonces = proof === undefined ? undefined : await gw.dpop.nonces();
      if (nonces !== undefined) c.header("DPoP-Nonce", nonces.current(now));
      return c.json({
        access_token: token,
        token_type: proof === undefined ? "Bearer" : "DPoP",
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
