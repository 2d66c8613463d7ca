/**
 * Keys for pseudonyms: one per agreement, derived from a master secret that
 * never leaves the gateway (a local key file, or a KMS HMAC key in AWS).
 * Stable within an agreement, unrelated across agreements.
 */
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LRUCache } from "lru-cache";

export interface PseudonymKeys {
  forAgreement(agreementId: string): Promise<Uint8Array>;
  /**
   * A 32-byte key for another purpose of the gateway's own (encrypting stored
   * bodies, deriving keys it forwards), from the same master under a label
   * of that purpose: labels never collide with the pseudonym labels.
   */
  derive(label: string): Promise<Uint8Array>;
}

export const derivationLabel = (agreementId: string): string => `pseudonym:v1:${agreementId}`;

/** Derived keys kept per process (up to three labels per agreement: pseudonyms, kept bodies, forwarded keys): far more than one gateway serves at once. */
export const CACHED_PSEUDONYM_KEYS = 10_000;

export function pseudonymKeysFromSecret(master: Uint8Array): PseudonymKeys {
  const cache = new LRUCache<string, Uint8Array>({ max: CACHED_PSEUDONYM_KEYS });
  const derive = async (label: string) => {
    let key = cache.get(label);
    if (key === undefined) {
      key = createHmac("sha256", master).update(label).digest();
      cache.set(label, key);
    }
    return key;
  };
  return { forAgreement: (id) => derive(derivationLabel(id)), derive };
}

/** The local master secret under DATA_DIR, created once (mode 0600). */
export async function loadOrCreatePseudonymSecret(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const secret = randomBytes(32);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, secret, { mode: 0o600, flag: "wx" });
    return secret;
  }
}
