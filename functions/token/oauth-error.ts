/** RFC 6749 §5.2 errors: the token endpoint's own error shape. */

export class OAuthError extends Error {
  override readonly name = "OAuthError";
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    /** The client used HTTP Basic: answer with a Basic challenge. */
    readonly basicChallenge = false,
  ) {
    super(description);
  }
}

export function oauthErrorResponse(err: OAuthError): Response {
  const headers: Record<string, string> = {
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
