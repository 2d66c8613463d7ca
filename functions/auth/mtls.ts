/**
 * Mutual-TLS certificate-bound tokens (RFC 8705): where the custom domain
 * requires client certificates, API Gateway verifies the certificate and
 * passes it in the event (`requestContext.authentication.clientCert`); the
 * gateway binds tokens to its SHA-256 thumbprint (`cnf.x5t#S256`) and a
 * bound token is only accepted with the same certificate.
 */
import { createHash, X509Certificate } from "node:crypto";
import { LRUCache } from "lru-cache";

interface CertEvent {
  readonly requestContext?: {
    readonly domainName?: string;
    readonly authentication?: { readonly clientCert?: { readonly clientCertPem?: unknown } };
  };
}

/** Thumbprints by certificate text; "" for a certificate that does not parse. */
const thumbprints = new LRUCache<string, string>({ max: 256 });

/** `x5t#S256` of a PEM certificate: SHA-256 of its DER, base64url; null when it does not parse. */
export function certificateThumbprint(pem: string): string | null {
  let found = thumbprints.get(pem);
  if (found === undefined) {
    try {
      found = createHash("sha256").update(new X509Certificate(pem).raw).digest("base64url");
    } catch {
      found = "";
    }
    thumbprints.set(pem, found);
  }
  return found === "" ? null : found;
}

/**
 * The verified client certificate's thumbprint, when the request came in on
 * the mTLS domain through API Gateway (a Lambda event; the local server has
 * no mTLS). `mtlsDomain` undefined: no certificate is ever taken.
 */
export function clientCertificateOf(
  env: unknown,
  mtlsDomain: string | undefined,
): string | undefined {
  if (mtlsDomain === undefined) return undefined;
  const event = (env as { event?: CertEvent } | undefined)?.event;
  const rc = event?.requestContext;
  const pem = rc?.authentication?.clientCert?.clientCertPem;
  if (rc?.domainName !== mtlsDomain || typeof pem !== "string") return undefined;
  return certificateThumbprint(pem) ?? undefined;
}
