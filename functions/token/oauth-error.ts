/** RFC 6749 §5.2 errors: the token endpoint's own error shape. */

/** Every error the token endpoint answers, with its status (RFC 6749 §5.2) and meaning. */
export const OAUTH_ERRORS = {
  invalid_request: {
    status: 400,
    about:
      "a malformed token request: not a form, too large, a missing or repeated parameter, or more than one client authentication",
  },
  invalid_client: {
    status: 401,
    about: "unknown client, wrong secret, or the partner is suspended or revoked",
  },
  invalid_scope: {
    status: 400,
    about:
      "an agreement that does not exist, is not active or not the client's; a role the client does not hold",
  },
  unsupported_grant_type: { status: 400, about: "only client_credentials" },
  invalid_dpop_proof: {
    status: 400,
    about:
      "a DPoP proof that does not verify, names another method or URL, is stale or was used before; or none where the partner requires DPoP",
  },
  use_dpop_nonce: {
    status: 400,
    about:
      "the DPoP proof must carry the nonce given in the DPoP-Nonce header (when nonces are on)",
  },
  temporarily_unavailable: { status: 503, about: "the store is unavailable; retry" },
} as const satisfies Readonly<Record<string, { status: 400 | 401 | 503; about: string }>>;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;
export type OAuthStatusOf<E extends OAuthErrorCode> = (typeof OAUTH_ERRORS)[E]["status"];

export class OAuthError<E extends OAuthErrorCode = OAuthErrorCode> extends Error {
  override readonly name = "OAuthError";
  constructor(
    /** Always the error's own status in OAUTH_ERRORS; named at the call site for the reader. */
    readonly status: OAuthStatusOf<E>,
    readonly error: E,
    readonly description: string,
    /** The client used HTTP Basic: answer with a Basic challenge. */
    readonly basicChallenge = false,
    /** More headers of the answer (`DPoP-Nonce`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
  }
}

export function oauthErrorResponse(err: OAuthError): Response {
  const headers: Record<string, string> = {
    ...err.headers,
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    Pragma: "no-cache",
  };
  if (err.status === 401)
    headers["WWW-Authenticate"] = err.basicChallenge ? 'Basic realm="gateway"' : "Bearer";
  return new Response(JSON.stringify({ error: err.error, error_description: err.description }), {
    status: err.status,
    headers,
  });
}
