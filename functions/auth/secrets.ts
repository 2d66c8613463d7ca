/**
 * Client secrets: generated with 256 bits of entropy in URL-safe characters,
 * stored only as keyed hashes, compared in constant time.
 *
 * A secret with 256 bits of entropy cannot be guessed, so a slow password
 * hash (scrypt) buys nothing for it but CPU that any unauthenticated caller
 * can make the token function burn. The stored form is HMAC-SHA-256 under a
 * server-side pepper instead (`hmac-sha256$v1$<mac>`): a leaked credentials
 * table alone does not even allow checking a guess. The pepper is derived
 * once per process from the gateway's key material (the local master secret,
 * or a KMS HMAC key in AWS), never stored.
 *
 * Hashes of the earlier kind (`scrypt$N$r$p$salt$hash`) are still accepted;
 * a successful check against one says so (`upgrade`), and the caller stores
 * the keyed hash in its place, so no client has to rotate.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export const newClientSecret = (): string => randomBytes(32).toString("base64url");

/** The label the pepper is derived under from the gateway's key material. */
export const PEPPER_LABEL = "client-secret-pepper:v1";
const HMAC_PREFIX = "hmac-sha256$v1$";

export type SecretCheck =
  | { readonly ok: false }
  /** `upgrade`: the keyed hash to store in place of an older kind of hash. */
  | { readonly ok: true; readonly upgrade?: string | undefined };

export interface ClientSecrets {
  /** The stored form of a new secret. */
  hash(secret: string): Promise<string>;
  /** Checks a secret against its stored form; `stored` undefined (unknown client) never passes. */
  verify(secret: string, stored: string | undefined): Promise<SecretCheck>;
}

/** Equal bytes, in time that depends only on the lengths. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const mac = (pepper: Uint8Array, secret: string): Buffer =>
  createHmac("sha256", pepper).update(secret, "utf8").digest();

/**
 * Keyed hashes under the pepper `pepper()` resolves to (asked for once; a
 * failure is asked again next time). Earlier scrypt hashes verify too, with
 * `upgrade` set.
 */
export function pepperedSecrets(pepper: () => Promise<Uint8Array>): ClientSecrets {
  let key: Promise<Uint8Array> | undefined;
  const load = (): Promise<Uint8Array> => {
    key ??= pepper().catch((err: unknown) => {
      key = undefined;
      throw err;
    });
    return key;
  };
  const hash = async (secret: string) =>
    HMAC_PREFIX + mac(await load(), secret).toString("base64url");
  return {
    hash,
    async verify(secret, stored) {
      const k = await load();
      if (stored?.startsWith("scrypt$") === true) {
        return (await verifyScrypt(secret, stored))
          ? { ok: true, upgrade: await hash(secret) }
          : { ok: false };
      }
      // An unknown client costs the same MAC and comparison as a known one.
      const expected =
        stored?.startsWith(HMAC_PREFIX) === true
          ? Buffer.from(stored.slice(HMAC_PREFIX.length), "base64url")
          : UNKNOWN;
      const ok = sameBytes(mac(k, secret), expected) && stored !== undefined;
      return ok ? { ok: true } : { ok: false };
    },
  };
}

const UNKNOWN = Buffer.alloc(32);

/**
 * For a tool that holds no pepper (the bootstrap of an AWS deployment, run
 * outside the functions: only they may use the KMS key): it stores scrypt
 * hashes, which the token function replaces by keyed hashes on first use.
 */
export const scryptSecrets: ClientSecrets = {
  hash: (secret) => scryptHash(secret),
  async verify(secret, stored) {
    return stored?.startsWith("scrypt$") === true && (await verifyScrypt(secret, stored))
      ? { ok: true }
      : { ok: false };
  },
};

const N = 2 ** 14;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

const derive = (secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LENGTH, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );

/** `scrypt$N$r$p$salt$hash`, base64url parts: the earlier stored form. */
export async function scryptHash(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(secret, salt, N, R, P);
  return ["scrypt", N, R, P, salt.toString("base64url"), hash.toString("base64url")].join("$");
}

async function verifyScrypt(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6) return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  // Only the parameters this gateway ever wrote: a stored hash cannot make a check cost more.
  if (Number(n) !== N || Number(r) !== R || Number(p) !== P) return false;
  const actual = await derive(secret, Buffer.from(salt, "base64url"), N, R, P);
  return sameBytes(actual, Buffer.from(hash, "base64url"));
}
