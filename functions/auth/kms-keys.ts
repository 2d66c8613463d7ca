/**
 * Signing through AWS KMS: the private key never leaves KMS. The JWKS is
 * built from the key's public half; signatures come back DER-encoded and are
 * turned into the r||s form JWS uses. Pseudonym keys are derived with a KMS
 * HMAC key, once per agreement per process.
 */
import { createPublicKey } from "node:crypto";
import {
  GenerateMacCommand,
  GetPublicKeyCommand,
  type KMSClient,
  SignCommand,
} from "@aws-sdk/client-kms";
import { calculateJwkThumbprint, type JWK } from "jose";
import type { Signer } from "./jws.ts";
import type { GatewayKeys } from "./keys.ts";
import { derivationLabel, type PseudonymKeys } from "./pseudonyms.ts";

/** DER ECDSA signature (SEQUENCE { r INTEGER, s INTEGER }) to 64-byte r||s. */
export function derToJose(der: Uint8Array, size = 32): Uint8Array {
  let i = 0;
  const expect = (tag: number) => {
    if (der[i++] !== tag) throw new Error("not a DER ECDSA signature");
  };
  const length = () => {
    let n = der[i++] ?? 0;
    if (n & 0x80) {
      const bytes = n & 0x7f;
      n = 0;
      for (let k = 0; k < bytes; k++) n = (n << 8) | (der[i++] ?? 0);
    }
    return n;
  };
  expect(0x30);
  length();
  const out = new Uint8Array(size * 2);
  for (let part = 0; part < 2; part++) {
    expect(0x02);
    let n = length();
    let start = i;
    while (n > size && der[start] === 0) {
      start++;
      n--;
    }
    if (n > size) throw new Error("DER integer too long");
    out.set(der.subarray(start, start + n), part * size + (size - n));
    i = start + n;
  }
  return out;
}

async function publicJwkOf(kms: KMSClient, keyId: string): Promise<JWK> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (out.PublicKey === undefined) throw new Error(`KMS key ${keyId} has no public key`);
  const jwk = createPublicKey({
    key: Buffer.from(out.PublicKey),
    format: "der",
    type: "spki",
  }).export({ format: "jwk" }) as JWK;
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: "ES256", use: "sig" };
}

export async function kmsGatewayKeys(
  kms: KMSClient,
  keyId: string,
  previousKeyId?: string,
): Promise<GatewayKeys> {
  const current = await publicJwkOf(kms, keyId);
  const previous = previousKeyId === undefined ? [] : [await publicJwkOf(kms, previousKeyId)];
  const signer: Signer = {
    kid: current.kid ?? "",
    sign: async (input) => {
      const out = await kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: input,
          MessageType: "RAW",
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      );
      if (out.Signature === undefined) throw new Error("KMS returned no signature");
      return derToJose(out.Signature);
    },
  };
  return { signer, publicJwks: [current, ...previous] };
}

export function kmsPseudonymKeys(kms: KMSClient, keyId: string): PseudonymKeys {
  const cache = new Map<string, Promise<Uint8Array>>();
  const derive = (label: string) => {
    let key = cache.get(label);
    if (key === undefined) {
      key = (async () => {
        const out = await kms.send(
          new GenerateMacCommand({
            KeyId: keyId,
            Message: Buffer.from(label),
            MacAlgorithm: "HMAC_SHA_256",
          }),
        );
        if (out.Mac === undefined) throw new Error("KMS returned no MAC");
        return out.Mac;
      })();
      key.catch(() => cache.delete(label));
      cache.set(label, key);
    }
    return key;
  };
  return { forAgreement: (id) => derive(derivationLabel(id)), derive };
}
