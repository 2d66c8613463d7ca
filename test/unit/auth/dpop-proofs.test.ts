/**
 * The DPoP proof check (functions/auth/dpop.ts) case by case, on proofs made
 * with jose (and, for what jose will not make, by hand): what it takes, every
 * shape it refuses, the iat window's edges, htu normalisation (RFC 9449 §4.3)
 * and the stateless nonces.
 */
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  accessTokenHash,
  normaliseHtu,
  type ProofExpectations,
  ProofVerifier,
} from "../../../functions/auth/dpop.ts";
import { DpopNonces, NONCE_WINDOW_SECONDS } from "../../../functions/auth/dpop-nonce.ts";
import { pseudonymKeysFromSecret } from "../../../functions/auth/pseudonyms.ts";
import { b64u } from "../../hardening/jwt-craft.ts";
import { type DpopKey, dpopKey, proof } from "../../support/dpop.ts";

const NOW = new Date();
const T = Math.floor(NOW.getTime() / 1000);
const URL_ = "https://gateway.test/v1/exchange/agr-1";
const expect_ = (extra: Partial<ProofExpectations> = {}): ProofExpectations => ({
  htm: "GET",
  htu: [URL_],
  now: NOW,
  ...extra,
});

let key: DpopKey;
const verifier = new ProofVerifier();
const check = (p: string, extra?: Partial<ProofExpectations>) => verifier.check(p, expect_(extra));
const good = (extra: Partial<Parameters<typeof proof>[1]> = {}) =>
  proof(key, { htm: "GET", htu: URL_, iat: T, ...extra });

beforeAll(async () => {
  key = await dpopKey();
});

/** A proof from raw header and claims texts, signed with an ES256 node key. */
function handmade(
  header: string,
  claims: string,
  privateKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
) {
  const input = `${b64u(header)}.${b64u(claims)}`;
  const sig = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64u(sig)}`;
}

describe("a DPoP proof", () => {
  it("is taken when well made, and names its key's RFC 7638 thumbprint", async () => {
    const checked = check(await good());
    expect(checked).toMatchObject({ ok: true, proof: { jkt: key.jkt, iat: T } });
  });

  it.each(["ES384", "EdDSA", "PS256", "RS256"])("is taken signed with %s", async (alg) => {
    const k = await dpopKey(alg);
    expect(check(await proof(k, { htm: "GET", htu: URL_, iat: T }))).toMatchObject({ ok: true });
  });

  it("goes with an access token only with its hash (ath) and only from the bound key", async () => {
    const token = "a.b.c";
    expect(check(await good({ token }), { accessToken: token, jkt: key.jkt }).ok).toBe(true);
    expect(check(await good(), { accessToken: token }).ok).toBe(false);
    expect(check(await good({ token: "x.y.z" }), { accessToken: token }).ok).toBe(false);
    expect(check(await good({ token }), { accessToken: token, jkt: "A".repeat(43) }).ok).toBe(
      false,
    );
    expect(accessTokenHash(token)).toBe(createHash("sha256").update(token).digest("base64url"));
  });

  it("is taken from 65 s old to 5 s ahead (60 s plus the 5 s leeway), not beyond", async () => {
    for (const [offset, ok] of [
      [-65, true],
      [-66, false],
      [5, true],
      [6, false],
    ] as const) {
      expect(check(await good({ iat: T + offset })).ok, `iat ${offset}`).toBe(ok);
    }
  });

  const refused: [string, () => Promise<string>][] = [
    ["with another typ", () => good({ header: { typ: "JWT" } })],
    ["with typ in capitals", () => good({ header: { typ: "DPOP+JWT" } })],
    ["with a kid in its header", () => good({ header: { kid: "k1" } })],
    ["with crit", () => good({ header: { crit: ["b64"], b64: true } })],
    [
      "with a jwk holding its private key",
      async () => good({ header: { jwk: await exportJWK(key.privateKey) } }),
    ],
    [
      "whose jwk is not the signing key",
      async () => good({ header: { jwk: (await dpopKey()).jwk } }),
    ],
    [
      "whose jwk is of another key type than alg",
      async () => good({ header: { jwk: (await dpopKey("RS256")).jwk } }),
    ],
    ["with an unknown jwk member", () => good({ header: { jwk: { ...key.jwk, x5c: ["AA"] } } })],
    [
      "with a jwk naming another alg",
      () => good({ header: { jwk: { ...key.jwk, alg: "ES384" } } }),
    ],
    ["without jti", () => good({ claims: { jti: undefined } })],
    ["with a jti of 257 characters", () => good({ jti: "j".repeat(257) })],
    ["without iat", () => good({ claims: { iat: undefined } })],
    ["with iat as a string", () => good({ claims: { iat: String(T) } })],
    ["with an exp in the past", () => good({ claims: { exp: T - 10 } })],
    ["with an nbf ahead", () => good({ claims: { nbf: T + 60 } })],
    ["for POST", () => good({ htm: "POST" })],
    ["for get (htm is case-sensitive)", () => good({ htm: "get" })],
    ["for another path", () => good({ htu: "https://gateway.test/v1/exchange/agr-2" })],
    ["for another host", () => good({ htu: "https://evil.test/v1/exchange/agr-1" })],
    ["for http instead of https", () => good({ htu: "http://gateway.test/v1/exchange/agr-1" })],
    ["with a relative htu", () => good({ htu: "/v1/exchange/agr-1" })],
  ];

  it.each(refused)("is refused %s", async (_what, make) => {
    const checked = check(await make());
    expect(checked).toMatchObject({ ok: false, error: "invalid_dpop_proof" });
  });

  it("is refused for shapes jose would not make: alg none or HS256, duplicate members, trailing data, non-canonical base64url, a short RSA key", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" }) as JWK;
    const claims = JSON.stringify({ htm: "GET", htu: URL_, iat: T, jti: "j1" });
    const header = (extra: string) =>
      `{"typ":"dpop+jwt","alg":"ES256","jwk":${JSON.stringify(jwk)}${extra}}`;
    // The control: the hand-made proof itself is fine.
    expect(check(handmade(header(""), claims, privateKey)).ok).toBe(true);
    const cases = [
      handmade(header(',"alg":"none"'), claims, privateKey),
      handmade(
        `{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}`,
        claims,
        privateKey,
      ),
      handmade(header(""), `${claims}x`, privateKey),
      handmade(header(""), claims.replace('"jti":"j1"', '"jti":"j1","jti":"j2"'), privateKey),
    ];
    const canonical = handmade(header(""), claims, privateKey);
    const [h = "", p = "", s = ""] = canonical.split(".");
    cases.push(`${h}.${p}.${s}=`);
    if (p.length % 4 !== 0) {
      const last = p.at(-1) ?? "A";
      const twin = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"].find(
        (c) =>
          c !== last &&
          Buffer.from(`${p.slice(0, -1)}${c}`, "base64url").equals(Buffer.from(p, "base64url")),
      );
      if (twin !== undefined) cases.push(`${h}.${p.slice(0, -1)}${twin}.${s}`);
    }
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const rsaJwk = rsa.publicKey.export({ format: "jwk" }) as JWK;
    const rsaInput = `${b64u(JSON.stringify({ typ: "dpop+jwt", alg: "RS256", jwk: rsaJwk }))}.${b64u(claims)}`;
    cases.push(`${rsaInput}.${b64u(sign("sha256", Buffer.from(rsaInput), rsa.privateKey))}`);
    for (const c of cases)
      expect(check(c)).toMatchObject({ ok: false, error: "invalid_dpop_proof" });
    expect(await calculateJwkThumbprint(jwk)).toBe(
      (check(canonical) as { proof: { jkt: string } }).proof.jkt,
    );
  });
});

describe("htu normalisation (RFC 9449 §4.3, RFC 3986 §6.2.2–6.2.3)", () => {
  it.each([
    ["HTTPS://Gateway.TEST:443/v1/x", "https://gateway.test/v1/x"],
    ["http://gateway.test:80/v1/x?q=1#f", "http://gateway.test/v1/x"],
    ["https://gateway.test:8443/v1/x", "https://gateway.test:8443/v1/x"],
    ["https://gateway.test/v1/%7e%41/x", "https://gateway.test/v1/~A/x"],
    ["https://gateway.test/v1/a%2fb", "https://gateway.test/v1/a%2Fb"],
    ["https://gateway.test/v1/a/../b", "https://gateway.test/v1/b"],
    ["https://gateway.test", "https://gateway.test/"],
  ])("%s → %s", (input, normalised) => {
    expect(normaliseHtu(input)).toBe(normalised);
  });

  it.each(["/v1/x", "ftp://gateway.test/v1/x", "https://user:pw@gateway.test/v1/x", "not a url"])(
    "refuses %s",
    (input) => {
      expect(normaliseHtu(input)).toBeNull();
    },
  );
});

describe("stateless nonces", () => {
  it("are good for their window and the next, made with the gateway's key only", async () => {
    const nonces = await DpopNonces.from(pseudonymKeysFromSecret(Buffer.alloc(32, 1)));
    const other = await DpopNonces.from(pseudonymKeysFromSecret(Buffer.alloc(32, 2)));
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    const nonce = nonces.current(NOW);
    expect(nonces.valid(nonce, NOW)).toBe(true);
    expect(nonces.valid(nonce, at(NONCE_WINDOW_SECONDS))).toBe(true);
    expect(nonces.valid(nonce, at(2 * NONCE_WINDOW_SECONDS))).toBe(false);
    expect(nonces.valid(nonce, at(-NONCE_WINDOW_SECONDS))).toBe(false);
    expect(other.valid(nonce, NOW)).toBe(false);
    expect(nonces.valid(`${nonce}x`, NOW)).toBe(false);
    expect(nonces.valid("", NOW)).toBe(false);
  });
});
