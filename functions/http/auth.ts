/**
 * Bearer authentication and scope checks. The token is verified on every
 * request (with a bounded cache of verified tokens that never outlives `exp`);
 * nothing about partner status is cached here.
 */
import type { MiddlewareHandler } from "hono";
import { type AccessClaims, bearerToken } from "../auth/tokens.ts";
import { ForbiddenError, InvalidTokenError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "./env.ts";

/**
 * Verifies the bearer token. With `people`, a token from the configured
 * OpenID provider (by its `iss`) is verified against that provider and
 * names the person; every other token is one of the gateway's own.
 */
export function authenticate(
  gw: Pick<Gateway, "verifier" | "clock" | "people">,
  options: { readonly people?: boolean } = {},
): MiddlewareHandler<AppEnv> {
  return async function authenticateMiddleware(c, next) {
    const token = bearerToken(c.req.header("Authorization"));
    const people = options.people === true ? gw.people : undefined;
    c.set(
      "claims",
      people?.claimsIssuer(token)
        ? await people.verify(token, gw.clock())
        : await gw.verifier.verify(token, gw.clock()),
    );
    await next();
  };
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
