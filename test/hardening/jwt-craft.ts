/**
 * Hand-made JWTs for the hostile-token suite: any header and claims text
 * (duplicates, odd numbers, raw bytes), signed by any key or by none, so each
 * case changes exactly one thing of an otherwise valid access token.
 */
import { createHmac, generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto";
import type { Signer } from "../../functions/auth/jws.ts";

export const b64u = (data: string | Uint8Array): string => Buffer.from(data).toString("base64url");

/** The order n of the P-256 group (for r/s edge values and s → n − s). */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

export const toBytes32 = (v: bigint): Buffer =>
  Buffer.from(v.toString(16).padStart(64, "0"), "hex");

/** The same ECDSA signature with s replaced by n − s: also valid, a different string. */
export function malleate(token: string): string {
  const [h, p, s] = token.split(".") as [string, string, string];
  const sig = Buffer.from(s, "base64url");
  const r = sig.subarray(0, 32);
  const sv = BigInt(`0x${sig.subarray(32).toString("hex")}`);
  return `${h}.${p}.${b64u(Buffer.concat([r, toBytes32(P256_N - sv)]))}`;
}

/** Replaces the last base64url character by another one that decodes to the same bytes. */
export function nonCanonicalTail(part: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = part.at(-1) ?? "A";
  const bytes = Buffer.from(part, "base64url");
  for (const c of alphabet) {
    if (c === last) continue;
    const candidate = `${part.slice(0, -1)}${c}`;
    if (Buffer.from(candidate, "base64url").equals(bytes)) return candidate;
  }
  throw new Error(`no non-canonical twin for a part of length ${part.length}`);
}

export interface Parts {
  /** Header JSON text, exactly as it will be encoded. */
  header: string;
  /** Claims JSON text, exactly as it will be encoded. */
  claims: string;
}

export const signingInput = ({ header, claims }: Parts): string =>
  `${b64u(header)}.${b64u(claims)}`;

/** ES256 with the gateway's own signer (P1363 r||s). */
export async function signWith(signer: Signer, parts: Parts): Promise<string> {
  const input = signingInput(parts);
  return `${input}.${b64u(await signer.sign(Buffer.from(input, "ascii")))}`;
}

/** ECDSA with any key object (other curve, other key), P1363 form. */
export function signWithKey(key: KeyObject, parts: Parts, hash = "sha256"): string {
  const input = signingInput(parts);
  return `${input}.${b64u(sign(hash, Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }))}`;
}

export function hs256(secret: string | Buffer, parts: Parts): string {
  const input = signingInput(parts);
  return `${input}.${b64u(createHmac("sha256", secret).update(input).digest())}`;
}

export const withSignature = (parts: Parts, signature: string): string =>
  `${signingInput(parts)}.${signature}`;

export const ecKey = (namedCurve: string): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync("ec", { namedCurve });

/** Claims of a valid access token for `issuer`, as an object to vary. */
export function accessClaims(
  issuer: string,
  nowSeconds: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    iss: issuer,
    aud: issuer,
    sub: "operator",
    client_id: "operator",
    scope: "admin",
    iat: nowSeconds,
    exp: nowSeconds + 300,
    jti: randomUUID(),
    ...extra,
  };
}

export const header = (kid: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ alg: "ES256", typ: "at+jwt", kid, ...extra });

export const without = (o: Record<string, unknown>, key: string): Record<string, unknown> => {
  const { [key]: _dropped, ...rest } = o;
  return rest;
};
