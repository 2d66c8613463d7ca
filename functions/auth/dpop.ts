/**
 * DPoP proofs (RFC 9449): a JWT the client signs with its own key for each
 * request, naming the method and URL, carrying the public key in its header.
 * Checked by hand on node:crypto, like access tokens (tokens.ts), because it
 * runs on every call of a bound token: a strict shape (three canonical
 * base64url parts, no duplicate members, a header of exactly typ, alg and
 * jwk), `typ` dpop+jwt, an asymmetric algorithm of the allow-list whose key
 * type the jwk has, a public jwk (no private member), then `htm`, `htu`
 * (normalised, RFC 9449 §4.3), `iat` within 60 s (plus the gateway's 5 s of
 * leeway), a `jti`, `ath` when an access token goes with it, and the server
 * nonce when the deployment asks for one. The answer is data: a verified
 * proof, or a refusal with its OAuth error code.
 *
 * That the jti was never seen before is not decided here: the caller claims
 * it (a recent-proofs set in process, then a conditional write in the store).
 */
import {
  createHash,
  createPublicKey,
  constants as cryptoConstants,
  type JsonWebKey,
  type KeyObject,
  verify as verifySignature,
} from "node:crypto";
import { LRUCache } from "lru-cache";
import type { DpopNonces } from "./dpop-nonce.ts";
import { parseStrictJson } from "./strict-json.ts";
import { CLOCK_TOLERANCE_SECONDS } from "./tokens.ts";

export const DPOP_PROOF_TYPE = "dpop+jwt";
/**
 * Asymmetric algorithms only; what the token endpoint's metadata announces.
 * Ed25519 is the fully-specified name of EdDSA over Ed25519 (RFC 9864), as
 * some libraries (oauth4webapi) sign proofs.
 */
export const DPOP_ALGORITHMS = ["ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256"] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];
/** How old a proof may be (its `iat`), before the clock leeway. */
export const PROOF_MAX_AGE_SECONDS = 60;
export const MAX_PROOF_CHARS = 8192;
const MAX_JTI_CHARS = 256;
const MIN_RSA_BITS = 2048;

/** A proof that passed every check but the replay check. */
export interface VerifiedProof {
  /** RFC 7638 thumbprint (SHA-256, base64url) of the proof's key: what `cnf.jkt` holds. */
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
  /** Until when (epoch seconds) the proof could be accepted: its jti is kept that long. */
  readonly acceptableUntil: number;
}

/** Why a proof is refused: `use_dpop_nonce` asks the client to retry with the nonce given. */
export type ProofRefusal = {
  readonly ok: false;
  readonly error: "invalid_dpop_proof" | "use_dpop_nonce";
  readonly detail: string;
};
export type ProofCheck = { readonly ok: true; readonly proof: VerifiedProof } | ProofRefusal;

export interface ProofExpectations {
  /** The request's method. */
  readonly htm: string;
  /**
   * The request's URL as the client may have written it, without query:
   * every accepted spelling (e.g. the public origin and the origin the
   * request arrived at), each already normalised with `normaliseHtu`.
   */
  readonly htu: readonly string[];
  readonly now: Date;
  /** The access token the proof goes with (resource requests): `ath` must be its hash. */
  readonly accessToken?: string | undefined;
  /** The thumbprint the token is bound to (resource requests). */
  readonly jkt?: string | undefined;
  /** Server nonces, when the deployment uses them. */
  readonly nonces?: DpopNonces | undefined;
}

const COMPACT = /^[A-Za-z0-9_-]{2,4096}\.[A-Za-z0-9_-]{2,4096}\.[A-Za-z0-9_-]{64,1024}$/;
const HEADER_MEMBERS = new Set(["typ", "alg", "jwk"]);
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const ALLOWED_JWK_MEMBERS = new Set([
  "kty",
  "crv",
  "x",
  "y",
  "n",
  "e",
  "kid",
  "use",
  "alg",
  "ext",
  "key_ops",
]);

interface AlgorithmSpec {
  readonly kty: "EC" | "OKP" | "RSA";
  readonly crv?: string;
  /** Coordinate length in bytes (EC, OKP). */
  readonly size?: number;
  /** Exact signature length in bytes, where fixed. */
  readonly signatureBytes?: number;
  readonly verify: (key: KeyObject, data: Buffer, signature: Buffer) => boolean;
}

const ED25519: AlgorithmSpec = {
  kty: "OKP",
  crv: "Ed25519",
  size: 32,
  signatureBytes: 64,
  verify: (key, data, sig) => verifySignature(null, data, key, sig),
};

const ALGORITHMS: Readonly<Record<DpopAlgorithm, AlgorithmSpec>> = {
  ES256: {
    kty: "EC",
    crv: "P-256",
    size: 32,
    signatureBytes: 64,
    verify: (key, data, sig) =>
      verifySignature("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig),
  },
  ES384: {
    kty: "EC",
    crv: "P-384",
    size: 48,
    signatureBytes: 96,
    verify: (key, data, sig) =>
      verifySignature("sha384", data, { key, dsaEncoding: "ieee-p1363" }, sig),
  },
  EdDSA: ED25519,
  Ed25519: ED25519,
  PS256: {
    kty: "RSA",
    verify: (key, data, sig) =>
      verifySignature(
        "sha256",
        data,
        { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        sig,
      ),
  },
  RS256: {
    kty: "RSA",
    verify: (key, data, sig) => verifySignature("sha256", data, key, sig),
  },
};

interface CheckedHeader {
  readonly spec: AlgorithmSpec;
  readonly key: KeyObject;
  readonly jkt: string;
}

const refuse = (detail: string): ProofRefusal => ({
  ok: false,
  error: "invalid_dpop_proof",
  detail,
});

/** The bytes of a base64url string, or null unless it is their one canonical spelling. */
function canonicalBytes(part: string): Buffer | null {
  const bytes = Buffer.from(part, "base64url");
  return bytes.toString("base64url") === part ? bytes : null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function jsonObject(part: string): Record<string, unknown> | null {
  const bytes = canonicalBytes(part);
  if (bytes === null) return null;
  try {
    const value = parseStrictJson(utf8.decode(bytes), 4);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const b64sha256 = (text: string): string => createHash("sha256").update(text).digest("base64url");

/** `ath`: the access token's SHA-256, base64url (RFC 9449 §4.2). */
export const accessTokenHash = (token: string): string => b64sha256(token);

/** A JWK's required public members, in the order RFC 7638 hashes them, or null when malformed. */
function thumbprintInput(jwk: Record<string, unknown>, spec: AlgorithmSpec): string | null {
  const member = (name: string, bytes?: number): string | null => {
    const v = jwk[name];
    if (typeof v !== "string") return null;
    const decoded = canonicalBytes(v);
    if (decoded === null || decoded.length === 0) return null;
    if (bytes !== undefined && decoded.length !== bytes) return null;
    return v;
  };
  if (jwk.kty !== spec.kty) return null;
  if (spec.kty === "EC") {
    const x = member("x", spec.size);
    const y = member("y", spec.size);
    if (jwk.crv !== spec.crv || x === null || y === null) return null;
    return JSON.stringify({ crv: spec.crv, kty: "EC", x, y });
  }
  if (spec.kty === "OKP") {
    const x = member("x", spec.size);
    if (jwk.crv !== spec.crv || x === null) return null;
    return JSON.stringify({ crv: spec.crv, kty: "OKP", x });
  }
  const e = member("e");
  const n = member("n");
  if (e === null || n === null || jwk.crv !== undefined) return null;
  return JSON.stringify({ e, kty: "RSA", n });
}

/** RFC 7638 JWK thumbprint (SHA-256) of a public JWK, or null when it is not one we take. */
export function jwkThumbprint(jwk: Record<string, unknown>): string | null {
  const spec = Object.values(ALGORITHMS).find(
    (s) => s.kty === jwk.kty && (s.crv === undefined || s.crv === jwk.crv),
  );
  const input = spec === undefined ? null : thumbprintInput(jwk, spec);
  return input === null ? null : b64sha256(input);
}

/**
 * Normalises an `htu` (or the request's own URL) as RFC 9449 §4.3 asks:
 * RFC 3986 syntax- and scheme-based normalisation (case of scheme and host,
 * default port, dot segments, percent-encoding case, unreserved characters
 * decoded), without query and fragment. Null for anything but an absolute
 * http(s) URL without user information.
 */
export function normaliseHtu(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password)
    return null;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * Verifies a DPoP proof. Imported public keys are kept by thumbprint (a
 * client signs every proof with one key), so the steady cost is one
 * signature check and two hashes.
 */
export class ProofVerifier {
  private readonly keys = new LRUCache<string, KeyObject>({ max: 2048 });
  /**
   * Headers already checked, by their exact base64url text: a client sends
   * the same header (typ, alg, its jwk) with every proof, and the text is
   * the whole of it, so a hit is the same decision.
   */
  private readonly headers = new LRUCache<string, CheckedHeader>({ max: 2048 });

  check(proof: string | undefined, expect: ProofExpectations): ProofCheck {
    if (proof === undefined) return refuse("a DPoP proof is required");
    if (proof.length > MAX_PROOF_CHARS || !COMPACT.test(proof))
      return refuse("the DPoP proof is not one compact JWS");
    const [h = "", p = "", s = ""] = proof.split(".");
    let keyed = this.headers.get(h);
    if (keyed === undefined) {
      const checked = this.checkHeader(h);
      if (typeof checked === "string") return refuse(checked);
      keyed = checked;
      this.headers.set(h, keyed);
    }
    const { spec } = keyed;
    const signature = canonicalBytes(s);
    if (
      signature === null ||
      (spec.signatureBytes !== undefined && signature.length !== spec.signatureBytes)
    )
      return refuse("the DPoP proof signature is malformed");
    let valid: boolean;
    try {
      valid = spec.verify(keyed.key, Buffer.from(`${h}.${p}`, "ascii"), signature);
    } catch {
      valid = false;
    }
    if (!valid) return refuse("the DPoP proof signature does not verify");
    const claims = jsonObject(p);
    if (claims === null) return refuse("the DPoP proof claims are not a canonical JSON object");
    return this.checkClaims(claims, keyed.jkt, expect);
  }

  /** The header's algorithm, key and thumbprint, or why it is not acceptable. */
  private checkHeader(h: string): CheckedHeader | string {
    const header = jsonObject(h);
    if (header === null) return "the DPoP proof header is not a canonical JSON object";
    for (const name of Object.keys(header))
      if (!HEADER_MEMBERS.has(name)) return `the DPoP proof header may not carry ${name}`;
    if (header.typ !== DPOP_PROOF_TYPE) return "the DPoP proof typ is not dpop+jwt";
    const alg = header.alg;
    if (typeof alg !== "string" || !Object.hasOwn(ALGORITHMS, alg))
      return `the DPoP proof algorithm is not one of ${DPOP_ALGORITHMS.join(", ")}`;
    const spec = ALGORITHMS[alg as DpopAlgorithm];
    const keyed = this.publicKey(header.jwk, spec, alg);
    return typeof keyed === "string" ? keyed : { spec, ...keyed };
  }

  private checkClaims(
    claims: Record<string, unknown>,
    jkt: string,
    expect: ProofExpectations,
  ): ProofCheck {
    const { htm, htu, iat, jti, ath, nonce } = claims;
    if (htm !== expect.htm) return refuse("the DPoP proof htm is not this request's method");
    const normalised = typeof htu === "string" ? normaliseHtu(htu) : null;
    if (normalised === null || !expect.htu.includes(normalised))
      return refuse("the DPoP proof htu is not this request's URL");
    const t = Math.floor(expect.now.getTime() / 1000);
    if (typeof iat !== "number" || !Number.isFinite(iat))
      return refuse("the DPoP proof iat is missing");
    if (
      iat > t + CLOCK_TOLERANCE_SECONDS ||
      iat < t - PROOF_MAX_AGE_SECONDS - CLOCK_TOLERANCE_SECONDS
    )
      return refuse(`the DPoP proof iat is not within ${PROOF_MAX_AGE_SECONDS} s of now`);
    // Not part of a proof, but a JWT that names them is held to them (RFC 7519 §4.1.4, §4.1.5).
    const { exp, nbf } = claims;
    if (
      exp !== undefined &&
      (!Number.isFinite(exp) || (exp as number) <= t - CLOCK_TOLERANCE_SECONDS)
    )
      return refuse("the DPoP proof has expired");
    if (
      nbf !== undefined &&
      (!Number.isFinite(nbf) || (nbf as number) > t + CLOCK_TOLERANCE_SECONDS)
    )
      return refuse("the DPoP proof is not valid yet");
    if (typeof jti !== "string" || jti === "" || jti.length > MAX_JTI_CHARS)
      return refuse("the DPoP proof jti is missing or too long");
    if (expect.accessToken !== undefined && ath !== accessTokenHash(expect.accessToken))
      return refuse("the DPoP proof ath is not the hash of this access token");
    if (expect.jkt !== undefined && jkt !== expect.jkt)
      return refuse("the DPoP proof is not signed with the key the token is bound to");
    if (expect.nonces !== undefined) {
      if (typeof nonce !== "string" || !expect.nonces.valid(nonce, expect.now))
        return {
          ok: false,
          error: "use_dpop_nonce",
          detail: "the DPoP proof must carry the nonce this server gave (DPoP-Nonce)",
        };
    }
    return {
      ok: true,
      proof: {
        jkt,
        jti,
        iat,
        acceptableUntil: Math.floor(iat) + PROOF_MAX_AGE_SECONDS + 2 * CLOCK_TOLERANCE_SECONDS,
      },
    };
  }

  /** The proof's public key and its thumbprint, or why it is not acceptable. */
  private publicKey(
    jwk: unknown,
    spec: AlgorithmSpec,
    alg: string,
  ): { key: KeyObject; jkt: string } | string {
    if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk))
      return "the DPoP proof header carries no jwk";
    const members = jwk as Record<string, unknown>;
    for (const name of PRIVATE_JWK_MEMBERS)
      if (name in members) return "the DPoP proof jwk holds a private key";
    for (const name of Object.keys(members))
      if (!ALLOWED_JWK_MEMBERS.has(name)) return `the DPoP proof jwk may not carry ${name}`;
    if (members.alg !== undefined && members.alg !== alg)
      return "the DPoP proof jwk is for another algorithm";
    const input = thumbprintInput(members, spec);
    if (input === null) return `the DPoP proof jwk is not a public ${spec.kty} key for ${alg}`;
    const jkt = b64sha256(input);
    let key = this.keys.get(jkt);
    if (key === undefined) {
      try {
        key = createPublicKey({ key: JSON.parse(input) as JsonWebKey, format: "jwk" });
      } catch {
        return "the DPoP proof jwk is not a valid public key";
      }
      const bits = key.asymmetricKeyDetails?.modulusLength;
      if (spec.kty === "RSA" && (bits === undefined || bits < MIN_RSA_BITS))
        return `the DPoP proof RSA key is shorter than ${MIN_RSA_BITS} bits`;
      this.keys.set(jkt, key);
    }
    return { key, jkt };
  }
}
