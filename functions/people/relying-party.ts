/**
 * The console as an OpenID Connect relying party: authorization code with
 * PKCE (S256), state and nonce, through openid-client (a certified client
 * library) on the provider's discovered metadata. The tokens never reach the
 * browser: the callback's caller gets a session cookie, nothing else.
 */
import * as oidc from "openid-client";
import { IdentityProviderUnavailableError, type PeopleProvider } from "./provider.ts";
import type { PeopleSettings } from "./settings.ts";

export interface AuthorizationStart {
  readonly url: URL;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export interface CodeExchange {
  readonly accessToken: string;
  /** The ID token's claims (issuer, audience, nonce and times checked by openid-client). */
  readonly idClaims: Readonly<Record<string, unknown>>;
}

/** Why a callback was refused, as data: the console shows it and starts over. */
export class SignInError extends Error {
  override readonly name = "SignInError";
}

const isLoopbackHttp = (url: string): boolean => {
  const u = new URL(url);
  return u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
};

export class RelyingParty {
  private config: Promise<oidc.Configuration> | undefined;

  constructor(
    private readonly settings: PeopleSettings,
    private readonly provider: PeopleProvider,
    /** Where the provider sends the person back: `<gateway>/console/callback`. */
    readonly redirectUri: string,
  ) {}

  private configuration(): Promise<oidc.Configuration> {
    this.config ??= this.provider
      .discover()
      .then((metadata) => {
        const config = new oidc.Configuration(
          metadata as unknown as oidc.ServerMetadata,
          this.settings.clientId,
          this.settings.clientSecret,
          this.settings.clientSecret === undefined
            ? oidc.None()
            : oidc.ClientSecretBasic(this.settings.clientSecret),
        );
        // The embedded provider answers on loopback http; anything else must be https.
        if (isLoopbackHttp(metadata.token_endpoint)) oidc.allowInsecureRequests(config);
        return config;
      })
      .catch((err: unknown) => {
        this.config = undefined;
        throw err;
      });
    return this.config;
  }

  /** Where to send the person to sign in, with fresh state, nonce and PKCE verifier. */
  async start(): Promise<AuthorizationStart> {
    const config = await this.configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      response_type: "code",
      scope: this.settings.scopes,
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      ...(this.settings.resource === undefined ? {} : { resource: this.settings.resource }),
    });
    return { url, state, nonce, codeVerifier };
  }

  /**
   * Completes a sign-in from the callback's query: checks state, redeems the
   * code with the verifier, validates the ID token (nonce included).
   */
  async finish(
    query: string,
    expected: { state: string; nonce: string; codeVerifier: string },
  ): Promise<CodeExchange> {
    const config = await this.configuration();
    const current = new URL(this.redirectUri);
    current.search = query;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(
        config,
        current,
        {
          pkceCodeVerifier: expected.codeVerifier,
          expectedState: expected.state,
          expectedNonce: expected.nonce,
          idTokenExpected: true,
        },
        this.settings.resource === undefined ? undefined : { resource: this.settings.resource },
      );
    } catch (err) {
      if (err instanceof oidc.ClientError || (err as Error)?.name === "AuthorizationResponseError")
        throw new SignInError(describe(err));
      if ((err as Error)?.name === "ResponseBodyError") throw new SignInError(describe(err));
      throw new IdentityProviderUnavailableError("redeem the sign-in", err);
    }
    const idClaims = tokens.claims();
    if (idClaims === undefined) throw new SignInError("the provider returned no ID token");
    if (tokens.token_type.toLowerCase() !== "bearer")
      throw new SignInError("the provider returned a token that is not a Bearer token");
    return { accessToken: tokens.access_token, idClaims };
  }
}

function describe(err: unknown): string {
  const e = err as { error?: unknown; error_description?: unknown; message?: unknown };
  if (typeof e.error === "string") {
    return typeof e.error_description === "string" ? `${e.error}: ${e.error_description}` : e.error;
  }
  return typeof e.message === "string" ? e.message : "the sign-in could not be completed";
}
