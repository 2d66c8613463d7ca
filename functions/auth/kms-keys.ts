/**
 * Signing through AWS KMS: the private key never leaves KMS. The JWKS is
 * built from the key's public half; signatures come back DER-encoded and are
 * turned into the r||s form JWS uses. Pseudonym keys are derived with a KMS
 * HMAC key, once per agreement per process (kept in a bounded cache).
 */
import { createPublicKey } from "node:crypto";
import {
  GenerateMacCommand,
  GetPublicKeyCommand,
  type KMSClient,
  SignCommand,
} from "@aws-sdk/client-kms";
import { calculateJwkThumbprint, type JWK } from "jose";
import { LRUCache } from "lru-cache";
import { StoreUnavailableError } from "../errors.ts";
import type { Signer } from "./jws.ts";
import { absentSigner, type GatewayKeys, type KeyPurpose, uniqueByKid } from "./keys.ts";
import { CACHED_PSEUDONYM_KEYS, derivationLabel, type PseudonymKeys } from "./pseudonyms.ts";

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

export interface KmsKeysOptions {
  /** Called when KMS throttles a signature (the caller logs `kms_throttled`, an alarm counts it). */
  readonly onThrottle?: (() => void) | undefined;
}

/**
 * Signs with a KMS key. A signature KMS refuses (throttled, key disabled or
 * pending deletion, no access) is a 503 of the gateway, never a 500: nothing
 * is issued or sent unsigned.
 */
function kmsSigner(kms: KMSClient, keyId: string, jwk: JWK, options: KmsKeysOptions): Signer {
  return {
    kid: jwk.kid ?? "",
    sign: async (input) => {
      let signature: Uint8Array | undefined;
      try {
        const out = await kms.send(
          new SignCommand({
            KeyId: keyId,
            Message: input,
            MessageType: "RAW",
            SigningAlgorithm: "ECDSA_SHA_256",
          }),
        );
        signature = out.Signature;
      } catch (cause) {
        if (/Throttl/i.test((cause as Error)?.name ?? "")) options.onThrottle?.();
        throw new StoreUnavailableError("a signature with KMS", cause);
      }
      if (signature === undefined) throw new Error("KMS returned no signature");
      return derToJose(signature);
    },
  };
}

/** A purpose's KMS key, and the one it replaces during a rotation. */
export interface KmsKeyIds {
  readonly current: string;
  readonly previous?: string | undefined;
}

/**
 * The keys of the purposes this function holds (its environment names only
 * those): a signer for each, built from the key's public half (its `kid` is
 * the key's JWK thumbprint), and the public keys to publish and verify with.
 * A purpose without a key gets a signer that refuses.
 */
export async function kmsPurposeKeys(
  kms: KMSClient,
  ids: Readonly<Partial<Record<KeyPurpose, KmsKeyIds>>>,
  options: KmsKeysOptions = {},
): Promise<GatewayKeys> {
  const fetched = new Map<string, Promise<JWK>>();
  const jwkOf = (keyId: string): Promise<JWK> => {
    let jwk = fetched.get(keyId);
    if (jwk === undefined) {
      jwk = publicJwkOf(kms, keyId);
      fetched.set(keyId, jwk);
    }
    return jwk;
  };
  const loaded: Partial<Record<KeyPurpose, { signer: Signer; jwks: JWK[] }>> = {};
  for (const [purpose, keys] of Object.entries(ids) as [KeyPurpose, KmsKeyIds | undefined][]) {
    if (keys === undefined) continue;
    const current = await jwkOf(keys.current);
    const previous = keys.previous === undefined ? [] : [await jwkOf(keys.previous)];
    loaded[purpose] = {
      signer: kmsSigner(kms, keys.current, current, options),
      jwks: [current, ...previous],
    };
  }
  return {
    signer: loaded.accessToken?.signer ?? absentSigner("accessToken"),
    backendSigner: loaded.backendToken?.signer ?? absentSigner("backendToken"),
    eventSigner: loaded.event?.signer ?? absentSigner("event"),
    publicJwks: uniqueByKid(Object.values(loaded).flatMap((l) => l.jwks)),
    accessTokenJwks: loaded.accessToken?.jwks ?? [],
  };
}

/** One KMS key for every purpose (a deployment without per-purpose keys). */
export function kmsGatewayKeys(
  kms: KMSClient,
  keyId: string,
  previousKeyId?: string,
): Promise<GatewayKeys> {
  const ids = { current: keyId, previous: previousKeyId };
  return kmsPurposeKeys(kms, { accessToken: ids, backendToken: ids, event: ids });
}

export function kmsPseudonymKeys(kms: KMSClient, keyId: string): PseudonymKeys {
  const cache = new LRUCache<string, Promise<Uint8Array>>({ max: CACHED_PSEUDONYM_KEYS });
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
      const pending = key;
      pending.catch(() => {
        if (cache.peek(label) === pending) cache.delete(label);
      });
      cache.set(label, key);
    }
    return key;
  };
  return { forAgreement: (id) => derive(derivationLabel(id)), derive };
}
