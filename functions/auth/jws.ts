/**
 * Compact JWS signing with the gateway's key, whatever holds it (a local key
 * file or KMS): the signer only ever sees the signing input.
 */

export interface Signer {
  /** The key id published in the JWKS. */
  readonly kid: string;
  /** ES256 signature of `input` as the 64-byte r||s (IEEE P1363) form JWS uses. */
  sign(input: Uint8Array): Promise<Uint8Array>;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

export async function signJws(
  signer: Signer,
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
): Promise<string> {
  const input = `${b64({ ...header, alg: "ES256", kid: signer.kid })}.${b64(payload)}`;
  const signature = await signer.sign(Buffer.from(input, "ascii"));
  return `${input}.${Buffer.from(signature).toString("base64url")}`;
}
