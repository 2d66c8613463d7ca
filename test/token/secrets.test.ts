/**
 * Client secrets (functions/auth/secrets.ts): keyed hashes under a pepper,
 * earlier scrypt hashes still accepted and marked for upgrade, wrong secrets
 * and unknown clients refused, and every comparison made in constant time.
 *
 * In the integration project: it mocks node:crypto, and the unit project
 * shares modules between files (isolate: false), so the mock would not
 * reach a secrets module another file loaded first.
 */
import * as crypto from "node:crypto";
import { describe, expect, it, vi } from "vitest";

// Records every constant-time comparison (the real one still decides).
const compared: [number, number][] = [];
vi.mock("node:crypto", async (original) => {
  const real = await original<typeof import("node:crypto")>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return real.timingSafeEqual(a, b);
    },
  };
});

const { newClientSecret, PEPPER_LABEL, pepperedSecrets, sameBytes, scryptHash, scryptSecrets } =
  await import("../../functions/auth/secrets.ts");

const pepper = crypto.createHmac("sha256", Buffer.alloc(32, 7)).update(PEPPER_LABEL).digest();
const secrets = pepperedSecrets(async () => pepper);

describe("client secrets", () => {
  it("stores a keyed hash that only the right secret under the same pepper passes", async () => {
    const secret = newClientSecret();
    const stored = await secrets.hash(secret);
    expect(stored).toMatch(/^hmac-sha256\$v1\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret);
    expect(await secrets.verify(secret, stored)).toEqual({ ok: true });
    expect((await secrets.verify(newClientSecret(), stored)).ok).toBe(false);
    expect((await secrets.verify(`${secret}x`, stored)).ok).toBe(false);
    // Another pepper (another deployment's key material): refused.
    const other = pepperedSecrets(async () => Buffer.alloc(32, 1));
    expect((await other.verify(secret, stored)).ok).toBe(false);
    // The pepper is part of the hash: without it the same secret hashes differently.
    expect(await other.hash(secret)).not.toBe(stored);
  });

  it("accepts an earlier scrypt hash and hands back the keyed hash to store instead", async () => {
    const secret = newClientSecret();
    const old = await scryptHash(secret);
    expect(old.startsWith("scrypt$16384$8$1$")).toBe(true);
    const check = await secrets.verify(secret, old);
    expect(check.ok).toBe(true);
    const upgrade = check.ok ? check.upgrade : undefined;
    expect(upgrade).toBe(await secrets.hash(secret));
    expect(await secrets.verify(secret, upgrade)).toEqual({ ok: true });
    // A wrong secret against the old hash: refused, nothing to upgrade.
    expect(await secrets.verify(newClientSecret(), old)).toEqual({ ok: false });
  });

  it("refuses unknown clients, malformed hashes and scrypt parameters it never wrote", async () => {
    const secret = newClientSecret();
    expect(await secrets.verify(secret, undefined)).toEqual({ ok: false });
    expect(await secrets.verify(secret, "")).toEqual({ ok: false });
    expect(await secrets.verify(secret, "hmac-sha256$v1$")).toEqual({ ok: false });
    expect(await secrets.verify(secret, "md5$abc")).toEqual({ ok: false });
    const old = await scryptHash(secret);
    // A stored hash cannot ask for a costlier scrypt (N = 2^20) than the gateway wrote.
    expect(await secrets.verify(secret, old.replace("$16384$", "$1048576$"))).toEqual({
      ok: false,
    });
    expect(await secrets.verify(secret, old.split("$").slice(0, 5).join("$"))).toEqual({
      ok: false,
    });
  });

  it("compares in constant time, equal lengths only, known client or not", async () => {
    const secret = newClientSecret();
    const stored = await secrets.hash(secret);
    compared.length = 0;
    await secrets.verify(secret, stored);
    await secrets.verify(newClientSecret(), stored);
    await secrets.verify(secret, undefined);
    await secrets.verify(secret, "hmac-sha256$v1$AAAA");
    // Every check reached timingSafeEqual with two 32-byte MACs, except the
    // truncated hash, which is refused on its length before any comparison.
    expect(compared).toEqual([
      [32, 32],
      [32, 32],
      [32, 32],
    ]);
    expect(sameBytes(Buffer.from("ab"), Buffer.from("abc"))).toBe(false);
    expect(sameBytes(Buffer.from("abc"), Buffer.from("abc"))).toBe(true);
  });

  it("asks for the pepper once, and again after a failure", async () => {
    let asked = 0;
    const flaky = pepperedSecrets(async () => {
      asked++;
      if (asked === 1) throw new Error("KMS is unavailable");
      return pepper;
    });
    await expect(flaky.hash("s")).rejects.toThrow("KMS is unavailable");
    const stored = await flaky.hash("s");
    await flaky.verify("s", stored);
    expect(asked).toBe(2);
    expect(stored).toBe(await secrets.hash("s"));
  });

  it("without a pepper stores and accepts scrypt hashes only", async () => {
    const secret = newClientSecret();
    const stored = await scryptSecrets.hash(secret);
    expect(stored.startsWith("scrypt$")).toBe(true);
    expect(await scryptSecrets.verify(secret, stored)).toEqual({ ok: true });
    expect((await scryptSecrets.verify(secret, await secrets.hash(secret))).ok).toBe(false);
  });
});
