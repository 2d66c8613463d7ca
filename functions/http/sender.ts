/**
 * Sender-constrained tokens on the routes that take one: a DPoP-bound token
 * (`cnf.jkt`) only as `Authorization: DPoP` with a fresh proof of the bound
 * key for this very request, a certificate-bound token (`cnf.x5t#S256`) only
 * with the same client certificate. Every refusal is 401 invalid_token with
 * the challenge of the scheme the caller must use.
 */
import type { Context } from "hono";
import { normaliseHtu, type VerifiedProof } from "../auth/dpop.ts";
import { clientCertificateOf } from "../auth/mtls.ts";
import type { AccessClaims } from "../auth/tokens.ts";
import { InvalidTokenError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { rawTargetOf } from "./raw-target.ts";

/** What sender checks use of the gateway. */
export type SenderDeps = Pick<Gateway, "dpop" | "settings" | "clock">;

/** The one `DPoP` header of the request (a repeated header is joined with commas: refused). */
export function dpopHeader(c: Context): string | undefined | null {
  const value = c.req.header("DPoP");
  if (value === undefined) return undefined;
  return /^[A-Za-z0-9._-]+$/.test(value) ? value : null;
}

/**
 * The URL the client sent the request to, without query, in every spelling
 * the gateway answers to: the origin it arrived at (API Gateway's domain,
 * or the local server's Host) and the public origin of the issuer (a front
 * door's domain), each with the path exactly as received. Normalised.
 */
export function requestHtus(c: Context, issuer: string): string[] {
  const target = rawTargetOf(c);
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const out = new Set<string>();
  for (const origin of [new URL(c.req.url).origin, originOf(issuer)]) {
    const htu = origin === null ? null : normaliseHtu(`${origin}${path}`);
    if (htu !== null) out.add(htu);
  }
  return [...out];
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

const dpopRefusal = (
  detail: string,
  error: "invalid_token" | "invalid_dpop_proof" | "use_dpop_nonce",
  headers?: Record<string, string>,
) => new InvalidTokenError(detail, "dpop", { scheme: "DPoP", error, headers });

/** What the sender checks read of a request, whichever adapter it came through. */
export interface SenderRequest {
  readonly method: string;
  /** The request's URL in every accepted spelling, normalised (requestHtus). */
  readonly htus: readonly string[];
  /** The DPoP header: undefined when absent, null when repeated or malformed. */
  readonly dpop: string | undefined | null;
  /** The verified client certificate's thumbprint (mTLS domain only). */
  readonly certificate: string | undefined;
}

/**
 * Checks that the caller holds what the token is bound to. Returns the
 * verified DPoP proof (its jti still to be claimed in the store) or
 * undefined for a token that is not DPoP-bound.
 */
export async function checkSender(
  gw: SenderDeps,
  c: Context,
  presented: { scheme: "Bearer" | "DPoP"; token: string },
  claims: AccessClaims,
): Promise<VerifiedProof | undefined> {
  const needsUrl = claims.cnf?.jkt !== undefined;
  return checkSenderOf(
    gw,
    {
      method: c.req.method,
      htus: needsUrl ? requestHtus(c, gw.settings.issuer) : [],
      dpop: dpopHeader(c),
      certificate: clientCertificateOf(c.env, gw.settings.mtlsDomain),
    },
    presented,
    claims,
  );
}

/** checkSender on what was read of the request (the HTTP layer, the benchmark). */
export async function checkSenderOf(
  gw: SenderDeps,
  request: SenderRequest,
  presented: { scheme: "Bearer" | "DPoP"; token: string },
  claims: AccessClaims,
): Promise<VerifiedProof | undefined> {
  const x5t = claims.cnf?.x5t;
  if (x5t !== undefined && request.certificate !== x5t) {
    throw new InvalidTokenError(
      "the token is bound to a client certificate this request was not made with",
      "mtls",
    );
  }
  const jkt = claims.cnf?.jkt;
  if (jkt === undefined) {
    if (presented.scheme === "DPoP")
      throw dpopRefusal("the token is not DPoP-bound: send it as Bearer", "invalid_token");
    return undefined;
  }
  if (presented.scheme !== "DPoP") {
    throw dpopRefusal(
      "the token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof",
      "invalid_token",
    );
  }
  if (request.dpop === null) throw dpopRefusal("send exactly one DPoP proof", "invalid_dpop_proof");
  const now = gw.clock();
  const nonces = await gw.dpop.nonces();
  const checked = gw.dpop.verifier.check(request.dpop, {
    htm: request.method,
    htu: request.htus,
    now,
    accessToken: presented.token,
    jkt,
    nonces,
  });
  if (!checked.ok) {
    const nonce = nonces === undefined ? undefined : { "DPoP-Nonce": nonces.current(now) };
    throw dpopRefusal(checked.detail, checked.error, nonce);
  }
  if (gw.dpop.recent.replayed(checked.proof, now)) throw replayedProof();
  return checked.proof;
}

/** A proof used before: refused as any wrong proof. */
export const replayedProof = () =>
  dpopRefusal("the DPoP proof was used before", "invalid_dpop_proof");

/** Claims a proof's jti with its own conditional write (routes that do not meter). */
export async function claimProof(gw: Pick<Gateway, "dpop" | "clock">, proof: VerifiedProof) {
  if (!(await gw.dpop.replays.claim(proof, gw.clock()))) throw replayedProof();
}
