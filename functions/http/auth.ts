/**
 * Access-token authentication (Bearer, DPoP, certificate-bound) and scope checks. The token is verified on every
 * request (with a bounded cache of verified tokens that never outlives `exp`);
 * nothing about partner status is cached here.
 */
import type { Context, MiddlewareHandler } from "hono";
import { presentedToken } from "../auth/tokens.ts";
import { ForbiddenError, InvalidTokenError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "./env.ts";
import { checkSender, claimProof } from "./sender.ts";

/**
 * Verifies the access token and that the caller holds what it is bound to
 * (sender.ts): a DPoP-bound token with a fresh proof, a certificate-bound
 * one with the same certificate. With `people`, a token from the configured
 * OpenID provider (by its `iss`) is verified against that provider and
 * names the person; every other token is one of the gateway's own.
 *
 * A DPoP proof's jti is claimed here with its own conditional write, unless
 * the route claims it itself (`claimsProof`: the exchange, which puts the
 * claim beside its state read or into its metering transaction) and reads
 * the proof from `dpopProof`.
 */
export function authenticate(
  gw: Pick<Gateway, "verifier" | "clock" | "people" | "dpop" | "settings">,
  options: { readonly people?: boolean; readonly claimsProof?: boolean } = {},
): MiddlewareHandler<AppEnv> {
  return async function authenticateMiddleware(c, next) {
    const presented = presentedToken(c.req.header("Authorization"));
    const people = options.people === true ? gw.people : undefined;
    if (people?.claimsIssuer(presented.token)) {
      if (presented.scheme !== "Bearer")
        throw new InvalidTokenError("people's tokens are Bearer tokens", "scheme");
      c.set("claims", await people.verify(presented.token, gw.clock()));
      await next();
      return;
    }
    const claims = await gw.verifier.verify(presented.token, gw.clock());
    const proof = await checkSender(gw, c, presented, claims);
    c.set("claims", claims);
    if (proof !== undefined) {
      if (options.claimsProof === true) c.set("dpopProof", proof);
      else await claimProof(gw, proof);
    }
    await next();
    if (proof !== undefined) await offerNonce(gw, c);
  };
}

/** With nonces on, every answer to a DPoP request carries the current one (RFC 9449 §9). */
async function offerNonce(gw: Pick<Gateway, "dpop" | "clock">, c: Context<AppEnv>) {
  const nonces = await gw.dpop.nonces();
  if (nonces === undefined) return;
  try {
    c.res.headers.set("DPoP-Nonce", nonces.current(gw.clock()));
  } catch {
    // An answer with immutable headers goes out without a fresh nonce.
  }
}

export function requireScope(scope: string): MiddlewareHandler<AppEnv> {
  return async function requireScopeMiddleware(c, next) {
    if (!c.get("claims").scopes.includes(scope)) {
      throw new ForbiddenError("scope_missing", `this call needs a token with scope ${scope}`);
    }
    await next();
  };
}

/** Partners' own calls: any agreement scope of theirs. */
export function requireAgreementScope(): MiddlewareHandler<AppEnv> {
  return async function requireAgreementScopeMiddleware(c, next) {
    if (!c.get("claims").scopes.some((s) => s.startsWith("agreement:"))) {
      throw new ForbiddenError("scope_missing", "this call needs a token with an agreement scope");
    }
    await next();
  };
}
