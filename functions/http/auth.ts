/**
 * Access-token authentication (Bearer, DPoP, certificate-bound), scope
 * checks and rotated credentials. The token is verified on every request
 * (with a bounded cache of verified tokens that never outlives `exp`);
 * nothing about partner status is cached here.
 */
import type { Context, MiddlewareHandler } from "hono";
import { type AccessClaims, presentedToken } from "../auth/tokens.ts";
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

/**
 * A token issued under credentials that were rotated since is over: refused
 * as invalid_token. `generation` is the client's (or partner's) current one,
 * as read from the store by the caller.
 */
export function refuseIfRotated(claims: AccessClaims, generation: number | undefined): void {
  if ((generation ?? 0) > claims.generation) {
    throw new InvalidTokenError(
      "the token was issued before the client's credentials were rotated",
      "rotated",
    );
  }
}

/**
 * Operator and finance calls: the client's record is read (one GetItem) so
 * that a rotation of its credentials ends the tokens issued before it. A
 * token of a client that has no record (minted in-process, never rotated) is
 * of generation 0.
 */
export function requireCurrentCredentials(
  gw: Pick<Gateway, "credentials">,
): MiddlewareHandler<AppEnv> {
  return async function requireCurrentCredentialsMiddleware(c, next) {
    const claims = c.get("claims");
    const client = await gw.credentials.get(claims.sub);
    refuseIfRotated(claims, client?.value.generation);
    await next();
  };
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
