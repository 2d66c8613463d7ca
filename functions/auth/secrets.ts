/**
 * Client secrets: generated with 256 bits of entropy in URL-safe characters,
 * stored only as salted scrypt hashes, compared in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const N = 2 ** 14;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

export const newClientSecret = (): string => randomBytes(32).toString("base64url");

const derive = (secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LENGTH, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );

/** `scrypt$N$r$p$salt$hash`, base64url parts: self-describing so parameters can grow. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(secret, salt, N, R, P);
  return ["scrypt", N, R, P, salt.toString("base64url"), hash.toString("base64url")].join("$");
}

// A hash of nothing, checked when the client is unknown so that timing does not tell.
let dummy: Promise<string> | undefined;
const dummyHash = (): Promise<string> => {
  dummy ??= hashSecret("unknown-client");
  return dummy;
};

export async function verifySecret(secret: string, stored: string | undefined): Promise<boolean> {
  const target = stored ?? (await dummyHash());
  const parts = target.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, "base64url");
  const actual = await derive(
    secret,
    Buffer.from(salt, "base64url"),
    Number(n),
    Number(r),
    Number(p),
  );
  return (
    actual.length === expected.length && timingSafeEqual(actual, expected) && stored !== undefined
  );
}
