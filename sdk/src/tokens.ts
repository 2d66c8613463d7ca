/**
 * Access tokens from the gateway's token endpoint (OAuth 2.0 client
 * credentials, with oauth4webapi), one per scope, cached and renewed before
 * they expire. Concurrent callers wanting the same scope share one request.
 * With a DPoP key, every token request carries a proof (oauth4webapi's DPoP
 * handle, which keeps the nonce the endpoint gives and is retried once when
 * the endpoint asks for one) and the tokens are DPoP-bound.
 */
import * as oauth from "oauth4webapi";
import type { DpopKeyPair } from "./dpop.ts";
import { GatewayProblem, GatewayUnreachable } from "./problem.ts";

export interface TokenSourceOptions {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  /** The partner's DPoP key pair: tokens are bound to it. */
  readonly dpopKey?: DpopKeyPair | undefined;
}

/** A token and how it is sent: `Bearer`, or `DPoP` with a proof per request. */
export interface AccessToken {
  readonly token: string;
  readonly scheme: "Bearer" | "DPoP";
}

interface Cached extends AccessToken {
  /** When to fetch a new one (epoch ms): before the token expires. */
  readonly renewAt: number;
}

/** Renew this long before expiry, but never later than half-way through a short lifetime. */
const RENEW_BEFORE_MS = 60_000;

export class TokenSource {
  private readonly as: oauth.AuthorizationServer;
  private readonly client: oauth.Client;
  private readonly auth: oauth.ClientAuth;
  private readonly dpop: oauth.DPoPHandle | undefined;
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<Cached>>();

  constructor(private readonly options: TokenSourceOptions) {
    this.as = { issuer: options.baseUrl, token_endpoint: `${options.baseUrl}/oauth/token` };
    this.client = { client_id: options.clientId };
    this.auth = oauth.ClientSecretBasic(options.clientSecret);
    this.dpop =
      options.dpopKey === undefined ? undefined : oauth.DPoP(this.client, options.dpopKey);
  }

  /** A token for `scope` ("" asks for the client's default: all its active agreements). */
  async get(scope: string): Promise<AccessToken> {
    const cached = this.cache.get(scope);
    if (cached !== undefined && Date.now() < cached.renewAt) return cached;
    let pending = this.pending.get(scope);
    if (pending === undefined) {
      pending = this.fetchToken(scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, pending);
    }
    return pending;
  }

  /** Forgets `token` (the gateway refused it): the next `get` fetches a new one. */
  invalidate(scope: string, token: string): void {
    if (this.cache.get(scope)?.token === token) this.cache.delete(scope);
  }

  private async fetchToken(scope: string, nonceRetry = false): Promise<Cached> {
    const started = Date.now();
    let response: Response;
    try {
      response = await oauth.clientCredentialsGrantRequest(
        this.as,
        this.client,
        this.auth,
        scope === "" ? {} : { scope },
        {
          [oauth.customFetch]: this.options.fetch,
          [oauth.allowInsecureRequests]: this.as.issuer.startsWith("http:"),
          signal: AbortSignal.timeout(this.options.timeoutMs),
          ...(this.dpop === undefined ? {} : { DPoP: this.dpop }),
        },
      );
    } catch (cause) {
      throw new GatewayUnreachable(`the token endpoint could not be reached: ${String(cause)}`, {
        cause,
      });
    }
    let body: oauth.TokenEndpointResponse;
    try {
      body = await oauth.processClientCredentialsResponse(this.as, this.client, response);
    } catch (err) {
      // The endpoint asked for a nonce: the handle kept it; once more with it.
      if (this.dpop !== undefined && !nonceRetry && oauth.isDPoPNonceError(err))
        return this.fetchToken(scope, true);
      throw await tokenProblem(err, response);
    }
    const lifetimeMs = (body.expires_in ?? 300) * 1000;
    const cached: Cached = {
      token: body.access_token,
      scheme: body.token_type.toLowerCase() === "dpop" ? "DPoP" : "Bearer",
      renewAt: started + lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 2),
    };
    this.cache.set(scope, cached);
    return cached;
  }
}

/** An error of the token endpoint as a GatewayProblem (code: the OAuth `error`). */
async function tokenProblem(err: unknown, response: Response): Promise<GatewayProblem> {
  if (err instanceof oauth.ResponseBodyError) {
    return GatewayProblem.fromBody(err.status, err.cause, err.response.headers);
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    return GatewayProblem.from(err.response);
  }
  if (!response.bodyUsed && !response.ok) return GatewayProblem.from(response);
  return new GatewayProblem(response.status, "unexpected_response", String(err), {
    requestId: response.headers.get("X-Request-Id") ?? undefined,
  });
}
