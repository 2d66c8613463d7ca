/**
 * The hand-written access-token verifier (functions/auth/tokens.ts, kept for
 * speed) against jose's jwtVerify with the same options (algorithm ES256,
 * issuer, audience, typ at+jwt, required exp/iat/sub/jti, 5 s of leeway,
 * the maximum lifetime as maxTokenAge, the same public keys): fast-check
 * builds tokens, valid and hostile (bit flips in each part, re-encodings,
 * non-canonical base64url, high-S signatures, other algorithms and keys,
 * crit, b64: false, duplicate members, JSON with trailing data, missing and
 * extra claims, odd numbers), and both must decide the same.
 *
 * "The same" is jose's decision plus the gateway's stricter rules, each
 * written out below (`gatewayRules`, implemented here independently of the
 * verifier) with the reason jose's choice is not ours. Where jose refuses
 * and the gateway accepts, the test fails: that would be a hole in ours.
 * High-S signatures are accepted by both (decided in tokens.ts: ES256 does
 * not require low-S; nothing keys on the token string but the cache of the
 * exact bytes verified).
 */
import { createHmac, generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto";
import fc from "fast-check";
import { createLocalJWKSet, type JWK, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { localSigner, newPrivateJwk } from "../../../functions/auth/local-keys.ts";
import { TokenVerifier } from "../../../functions/auth/tokens.ts";
import { InvalidTokenError } from "../../../functions/errors.ts";
import { b64u, P256_N, toBytes32 } from "../../hardening/jwt-craft.ts";
import { decodedObject, PART } from "./json-oracle.ts";

const ISSUER = "https://gateway.test";
const AUDIENCE = "https://gateway.test";
const MAX_LIFETIME = 900;
const LEEWAY = 5;
const NOW = new Date("2026-11-01T12:00:00Z");
const T = Math.floor(NOW.getTime() / 1000);

let privateJwk: JWK;
let publicJwk: JWK;
let signKey: KeyObject;
let otherKey: KeyObject;

beforeAll(async () => {
  privateJwk = await newPrivateJwk();
  const { d: _d, ...pub } = privateJwk;
  publicJwk = pub;
  signKey = (await import("node:crypto")).createPrivateKey({
    key: privateJwk as import("node:crypto").JsonWebKey,
    format: "jwk",
  });
  otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  // The gateway's own signer and this test's key agree (a sanity check of the set-up).
  expect(localSigner(privateJwk).kid).toBe(privateJwk.kid);
});

// ------------------------------------------------------------------ the two deciders

async function gatewayAccepts(token: string): Promise<boolean> {
  const verifier = new TokenVerifier(
    { issuer: ISSUER, audience: AUDIENCE, maxLifetimeSeconds: MAX_LIFETIME },
    [publicJwk],
  );
  try {
    await verifier.verify(token, NOW);
    return true;
  } catch (err) {
    if (err instanceof InvalidTokenError) return false;
    throw err;
  }
}

async function joseAccepts(token: string): Promise<boolean> {
  try {
    await jwtVerify(token, createLocalJWKSet({ keys: [publicJwk] }), {
      algorithms: ["ES256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      typ: "at+jwt",
      requiredClaims: ["exp", "iat", "sub", "jti"],
      clockTolerance: LEEWAY,
      maxTokenAge: MAX_LIFETIME,
      currentDate: NOW,
    });
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ the gateway's own rules

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const nonEmpty = (v: unknown): v is string => typeof v === "string" && v !== "";

/**
 * What the gateway asks beyond jose, and why jose's choice is not ours:
 * - size: at most 8192 characters, each part within bounds (caps, before any parsing);
 * - canonical base64url only (jose decodes non-canonical spellings): one
 *   token, one string, but for the ECDSA twin;
 * - no duplicate members (jose: last wins);
 * - a header of exactly alg, typ, kid (jose ignores jku, x5u, jwk, x5c, and
 *   accepts crit naming b64 with b64 true): nothing in a header may change
 *   how a token is read;
 * - typ exactly at+jwt (jose compares media types case-insensitively with
 *   or without application/): the gateway issues exactly that spelling;
 * - a kid (jose takes the one key of a set without one): keys rotate;
 * - exp, iat (and nbf) finite (1e999 parses to Infinity: jose takes an
 *   exp of Infinity as never expiring);
 * - 0 < exp − iat ≤ the maximum lifetime (jose does not bound a lifetime);
 * - sub and jti non-empty strings, scope a string (jose only asks they exist);
 * - cnf, when present, a confirmation the gateway can enforce.
 */
function gatewayRules(token: string): boolean {
  if (token.length > 8192) return false;
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  const [h = "", p = "", s = ""] = parts;
  if (h.length < 2 || h.length > 2048 || p.length < 2 || p.length > 6144 || s.length !== 86)
    return false;
  if (Buffer.from(s, "base64url").toString("base64url") !== s || !PART.test(s)) return false;
  const header = decodedObject(h);
  const claims = decodedObject(p);
  if (header === null || claims === null) return false;
  if (Object.keys(header).some((k) => !["alg", "typ", "kid"].includes(k))) return false;
  if (header.typ !== "at+jwt") return false;
  if (typeof header.kid !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(header.kid)) return false;
  const { exp, iat, nbf, sub, jti, scope, cnf } = claims;
  if (!finite(exp) || !finite(iat) || (nbf !== undefined && !finite(nbf))) return false;
  if (exp - iat <= 0 || exp - iat > MAX_LIFETIME) return false;
  if (!nonEmpty(sub) || !nonEmpty(jti)) return false;
  if (scope !== undefined && typeof scope !== "string") return false;
  if (cnf !== undefined) {
    if (typeof cnf !== "object" || cnf === null || Array.isArray(cnf)) return false;
    const entries = Object.entries(cnf);
    if (entries.length === 0) return false;
    for (const [k, v] of entries)
      if (
        !["jkt", "x5t#S256"].includes(k) ||
        typeof v !== "string" ||
        !/^[A-Za-z0-9_-]{43}$/.test(v)
      )
        return false;
  }
  return true;
}

// ------------------------------------------------------------------ building tokens

type Encoding = "canonical" | "nonCanonical" | "padded";

/** A part's bytes as base64url, canonically or in another spelling of the same bytes. */
function encodePart(bytes: Buffer, encoding: Encoding): string {
  const canonical = b64u(bytes);
  if (encoding === "padded") return canonical + "=".repeat((4 - (canonical.length % 4)) % 4);
  if (encoding === "nonCanonical" && canonical.length % 4 !== 0) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = canonical.at(-1) ?? "A";
    for (const c of alphabet) {
      const candidate = `${canonical.slice(0, -1)}${c}`;
      if (c !== last && Buffer.from(candidate, "base64url").equals(bytes)) return candidate;
    }
  }
  return canonical;
}

/** JSON text of an object, with one member written twice (the first one a decoy) when asked. */
function jsonText(
  obj: Record<string, unknown>,
  style: { duplicate?: string | undefined; trailing?: string; spaced?: boolean; bom?: boolean },
): string {
  const entries = Object.entries(obj).map(
    ([k, v]) =>
      `${JSON.stringify(k)}:${typeof v === "string" && v.startsWith(RAW) ? v.slice(RAW.length) : JSON.stringify(v)}`,
  );
  if (style.duplicate !== undefined) {
    const decoy = style.duplicate === "alg" ? '"none"' : style.duplicate === "exp" ? "1" : '"x"';
    entries.unshift(`${JSON.stringify(style.duplicate)}:${decoy}`);
  }
  const sep = style.spaced === true ? ", " : ",";
  return `${style.bom === true ? "\uFEFF" : ""}{${entries.join(sep)}}${style.trailing ?? ""}`;
}

interface Spec {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  headerStyle: Parameters<typeof jsonText>[1];
  claimsStyle: Parameters<typeof jsonText>[1];
  headerEncoding: Encoding;
  claimsEncoding: Encoding;
  signature: "valid" | "highS" | "otherKey" | "der" | "hmac" | "truncated" | "zero";
  flip: { part: 0 | 1 | 2; at: number; bit: number } | null;
}

function signatureOf(spec: Spec, input: string): string {
  const data = Buffer.from(input, "ascii");
  const p1363 = (key: KeyObject) => sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
  switch (spec.signature) {
    case "valid":
      return b64u(p1363(signKey));
    case "highS": {
      const sig = p1363(signKey);
      const s = BigInt(`0x${sig.subarray(32).toString("hex")}`);
      return b64u(Buffer.concat([sig.subarray(0, 32), toBytes32(P256_N - s)]));
    }
    case "otherKey":
      return b64u(p1363(otherKey));
    case "der":
      return b64u(sign("sha256", data, { key: signKey, dsaEncoding: "der" }));
    case "hmac":
      return b64u(createHmac("sha256", JSON.stringify(publicJwk)).update(input).digest());
    case "truncated":
      return b64u(p1363(signKey).subarray(0, 63));
    case "zero":
      return b64u(Buffer.alloc(64));
  }
}

function build(spec: Spec): string {
  const h = encodePart(Buffer.from(jsonText(spec.header, spec.headerStyle)), spec.headerEncoding);
  const p = encodePart(Buffer.from(jsonText(spec.claims, spec.claimsStyle)), spec.claimsEncoding);
  const parts = [h, p, signatureOf(spec, `${h}.${p}`)];
  if (spec.flip !== null) {
    // A bit flip in the decoded bytes of one part, re-encoded.
    const part = parts[spec.flip.part] ?? "";
    const bytes = Buffer.from(part, "base64url");
    if (bytes.length > 0) {
      const at = spec.flip.at % bytes.length;
      bytes[at] = (bytes[at] ?? 0) ^ (1 << spec.flip.bit);
      parts[spec.flip.part] = b64u(bytes);
    }
  }
  return parts.join(".");
}

/** A valid token's spec: the mutations below start from it. */
function baseSpec(): Spec {
  return {
    header: { alg: "ES256", typ: "at+jwt", kid: privateJwk.kid },
    claims: {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "operator",
      scope: "admin",
      jti: randomUUID(),
      iat: T - 10,
      exp: T + 290,
    },
    headerStyle: {},
    claimsStyle: {},
    headerEncoding: "canonical",
    claimsEncoding: "canonical",
    signature: "valid",
    flip: null,
  };
}

type Mutation = (spec: Spec) => Spec;
const header =
  (h: Record<string, unknown>): Mutation =>
  (s) => ({ ...s, header: { ...s.header, ...h } });
const claims =
  (c: Record<string, unknown>): Mutation =>
  (s) => ({ ...s, claims: { ...s.claims, ...c } });
const dropHeader =
  (k: string): Mutation =>
  (s) => {
    const { [k]: _gone, ...rest } = s.header;
    return { ...s, header: rest };
  };
const dropClaim =
  (k: string): Mutation =>
  (s) => {
    const { [k]: _gone, ...rest } = s.claims;
    return { ...s, claims: rest };
  };

/** Raw number texts are written into the JSON as they are (JSON.stringify cannot write 1e999). */
const raw = (text: string) => `${RAW}${text}`;
const RAW = "\u0000raw:";
const NUMBER_ODDITIES: unknown[] = [
  raw("1e999"),
  raw("-1e999"),
  raw("-0"),
  raw("1E1"),
  "1",
  null,
  true,
  1.5,
  -1,
];

/** One change to a token: each kind the issue names, and the claims' edge values. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .constantFrom("ES384", "RS256", "HS256", "none", "es256", "EdDSA")
    .map((alg) => header({ alg })),
  fc
    .constantFrom("AT+JWT", "application/at+jwt", "JWT", "", "dpop+jwt")
    .map((typ) => header({ typ })),
  fc.constantFrom("typ", "kid", "alg").map(dropHeader),
  fc.constantFrom("someone-else", "", 7).map((kid) => header({ kid })),
  fc
    .constantFrom<Record<string, unknown>>(
      { crit: ["b64"], b64: false },
      { crit: ["b64"], b64: true },
      { b64: false },
      { crit: ["exp"] },
      { crit: [] },
      { jku: "https://evil.example/jwks" },
      { x5u: "https://evil.example/x5u" },
      { cty: "JWT" },
    )
    .map(header),
  fc.constantFrom<unknown>("https://other.test", `${ISSUER}/`, 1).map((iss) => claims({ iss })),
  fc.constantFrom<unknown>([AUDIENCE, "x"], ["x"], "x", 1, []).map((aud) => claims({ aud })),
  fc.constantFrom<unknown>("", 7, null).map((sub) => claims({ sub })),
  fc.constantFrom<unknown>("", 1).map((jti) => claims({ jti })),
  fc.constantFrom<unknown>(7, ["admin"]).map((scope) => claims({ scope })),
  fc.integer({ min: -1000, max: 30 }).map(
    (off): Mutation =>
      (s) => {
        const lifetime = Number(s.claims.exp) - Number(s.claims.iat);
        return claims({ iat: T + off, exp: T + off + lifetime })(s);
      },
  ),
  fc.integer({ min: -20, max: 1000 }).map(
    (life): Mutation =>
      (s) =>
        claims({ exp: Number(s.claims.iat) + life })(s),
  ),
  fc.integer({ min: -20, max: 20 }).map((off) => claims({ nbf: T + off })),
  fc
    .record({
      claim: fc.constantFrom("exp", "iat", "nbf"),
      value: fc.constantFrom(...NUMBER_ODDITIES),
    })
    .map(({ claim, value }) => claims({ [claim]: value })),
  fc.constantFrom("exp", "iat", "sub", "jti", "iss", "aud").map(dropClaim),
  fc
    .constantFrom<Record<string, unknown>>(
      { cnf: { jkt: "A".repeat(43) } },
      { cnf: { jwk: {} } },
      { cnf: {} },
      { cnf: { jkt: "short" } },
      { foo: "bar", nested: { a: [1, 2, { b: null }] } },
      { bind: { "agr-1": ["a", "b", "c"] } },
    )
    .map(claims),
  fc
    .record({
      duplicate: fc.option(fc.constantFrom("alg", "typ", "kid"), { nil: undefined }),
      trailing: fc.constantFrom("", " ", "\n", "x", "{}", "]"),
      spaced: fc.boolean(),
      bom: fc.boolean(),
    })
    .map(
      (headerStyle): Mutation =>
        (s) => ({ ...s, headerStyle }),
    ),
  fc
    .record({
      duplicate: fc.option(fc.constantFrom("exp", "sub", "iss"), { nil: undefined }),
      trailing: fc.constantFrom("", " ", "x", ",", "null"),
      spaced: fc.boolean(),
    })
    .map(
      (claimsStyle): Mutation =>
        (s) => ({ ...s, claimsStyle }),
    ),
  fc.constantFrom<Encoding>("nonCanonical", "padded").map(
    (e): Mutation =>
      (s) => ({ ...s, headerEncoding: e }),
  ),
  fc.constantFrom<Encoding>("nonCanonical", "padded").map(
    (e): Mutation =>
      (s) => ({ ...s, claimsEncoding: e }),
  ),
  fc.constantFrom<Spec["signature"]>("highS", "otherKey", "der", "hmac", "truncated", "zero").map(
    (signature): Mutation =>
      (s) => ({ ...s, signature }),
  ),
  fc
    .record({
      part: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
      at: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    })
    .map(
      (flip): Mutation =>
        (s) => ({ ...s, flip }),
    ),
);

/** A valid token changed in none, one, two or three ways. */
const specArb: fc.Arbitrary<Spec> = fc
  .array(mutationArb, { maxLength: 3 })
  .map((mutations) => mutations.reduce((spec, m) => m(spec), baseSpec()));

// ------------------------------------------------------------------ properties

async function agree(token: string) {
  const jose = await joseAccepts(token);
  const ours = await gatewayAccepts(token);
  const expected = jose && gatewayRules(token);
  if (ours !== expected) {
    throw new Error(
      `the gateway ${ours ? "accepts" : "refuses"} what jose${jose ? " accepts" : " refuses"} ` +
        `and the gateway's own rules ${gatewayRules(token) ? "allow" : "refuse"}: ${token}`,
    );
  }
  return { jose, ours };
}

describe("the access-token verifier decides as jose does (plus the gateway's own rules)", () => {
  it("on built and mutated tokens", async () => {
    let accepted = 0;
    let joseOnly = 0;
    await fc.assert(
      fc.asyncProperty(specArb, async (spec) => {
        const { jose, ours } = await agree(build(spec));
        if (ours) accepted++;
        if (jose && !ours) joseOnly++;
      }),
      { numRuns: 2000 },
    );
    // The generator reaches both sides and the rules that differ.
    expect(accepted).toBeGreaterThan(100);
    expect(joseOnly).toBeGreaterThan(50);
  });

  it("on valid tokens with one character of the compact string changed", async () => {
    const valid = build({
      header: { alg: "ES256", typ: "at+jwt", kid: privateJwk.kid },
      claims: {
        iss: ISSUER,
        aud: AUDIENCE,
        sub: "operator",
        jti: randomUUID(),
        iat: T,
        exp: T + 300,
      },
      headerStyle: {},
      claimsStyle: {},
      headerEncoding: "canonical",
      claimsEncoding: "canonical",
      signature: "valid",
      flip: null,
    });
    expect(await agree(valid)).toEqual({ jose: true, ours: true });
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: valid.length - 1 }),
        fc.constantFrom(...alphabet),
        async (at, c) => {
          await agree(`${valid.slice(0, at)}${c}${valid.slice(at + 1)}`);
        },
      ),
      { numRuns: 600 },
    );
  });

  it("high-S twins: both accept (ES256 does not require low-S)", async () => {
    const spec: Spec = {
      header: { alg: "ES256", typ: "at+jwt", kid: privateJwk.kid },
      claims: { iss: ISSUER, aud: AUDIENCE, sub: "p", jti: randomUUID(), iat: T, exp: T + 60 },
      headerStyle: {},
      claimsStyle: {},
      headerEncoding: "canonical",
      claimsEncoding: "canonical",
      signature: "highS",
      flip: null,
    };
    expect(await agree(build(spec))).toEqual({ jose: true, ours: true });
  });
});
