/**
 * The hand-written DPoP proof check (functions/auth/dpop.ts) against jose:
 * jwtVerify with the key embedded in the header (EmbeddedJWK), typ
 * dpop+jwt, the same algorithm allow-list, 5 s of leeway and 60 s as the
 * maximum age of `iat`, plus the proof's own claims (RFC 9449 §4.3: htm,
 * htu, jti, ath), written out here. fast-check builds valid proofs of
 * several key types and changes them (headers, keys, claims, encodings,
 * signatures, bit flips); both must decide the same, where the gateway's
 * stricter JWS rules are listed in `gatewayRules` with their reasons.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto";
import fc from "fast-check";
import { EmbeddedJWK, exportJWK, type JWK, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ProofVerifier } from "../../../functions/auth/dpop.ts";
import { b64u } from "../../hardening/jwt-craft.ts";
import { decodedObject, PART } from "./json-oracle.ts";

const NOW = new Date("2026-11-01T12:00:00Z");
const T = Math.floor(NOW.getTime() / 1000);
const HTU = "https://gateway.test/v1/exchange/agr-1";
const TOKEN = "eyJ.access.token";
const ATH = createHash("sha256").update(TOKEN).digest("base64url");
const ALGS = ["ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256"];

interface Key {
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
}

const keys: Record<string, Key> = {};

beforeAll(async () => {
  const make = async (alg: string, pair: { privateKey: KeyObject; publicKey: KeyObject }) => {
    const { kty, crv, x, y, n, e } = await exportJWK(pair.publicKey);
    const jwk = Object.fromEntries(
      Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined),
    ) as JWK;
    keys[alg] = { alg, privateKey: pair.privateKey, jwk };
  };
  await make("ES256", generateKeyPairSync("ec", { namedCurve: "P-256" }));
  await make("ES384", generateKeyPairSync("ec", { namedCurve: "P-384" }));
  await make("EdDSA", generateKeyPairSync("ed25519"));
  await make("RS256", generateKeyPairSync("rsa", { modulusLength: 2048 }));
  await make("RS1024", generateKeyPairSync("rsa", { modulusLength: 1024 }));
});

function signatureOf(alg: string, key: KeyObject, input: string): Buffer {
  const data = Buffer.from(input, "ascii");
  if (alg === "EdDSA" || alg === "Ed25519") return sign(null, data, key);
  if (alg === "PS256")
    return sign("sha256", data, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 });
  if (alg === "RS256") return sign("sha256", data, key);
  return sign(alg === "ES384" ? "sha384" : "sha256", data, { key, dsaEncoding: "ieee-p1363" });
}

interface Spec {
  /** Which key signs (and, unless `jwkOf` says otherwise, is embedded). */
  keyName: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  jwkOf?: string;
  jwkExtra?: Record<string, unknown>;
  duplicateClaim: boolean;
  signature: "valid" | "otherKey" | "zero";
  flip: { part: 0 | 1 | 2; at: number; bit: number } | null;
}

function build(spec: Spec): string {
  const key = keys[spec.keyName] as Key;
  const embedded = keys[spec.jwkOf ?? spec.keyName] as Key;
  const header: Record<string, unknown> = {
    ...spec.header,
    jwk: { ...embedded.jwk, ...spec.jwkExtra },
  };
  for (const [k, v] of Object.entries(spec.header)) if (v === undefined) delete header[k];
  let claimsText = JSON.stringify(spec.claims);
  if (spec.duplicateClaim) claimsText = `{"htm":"POST",${claimsText.slice(1)}`;
  const input = `${b64u(JSON.stringify(header))}.${b64u(claimsText)}`;
  const signer =
    spec.signature === "otherKey"
      ? (keys[spec.keyName === "ES256" ? "ES384" : "ES256"] as Key).privateKey
      : key.privateKey;
  let sig: Buffer;
  try {
    sig =
      spec.signature === "zero"
        ? Buffer.alloc(64)
        : signatureOf(String(spec.header.alg ?? key.alg), signer, input);
  } catch {
    sig = Buffer.alloc(64, 1);
  }
  const parts = [...input.split("."), b64u(sig)];
  if (spec.flip !== null) {
    const bytes = Buffer.from(parts[spec.flip.part] ?? "", "base64url");
    if (bytes.length > 0) {
      const at = spec.flip.at % bytes.length;
      bytes[at] = (bytes[at] ?? 0) ^ (1 << spec.flip.bit);
      parts[spec.flip.part] = b64u(bytes);
    }
  }
  return parts.join(".");
}

// ------------------------------------------------------------------ the deciders

const verifier = new ProofVerifier();
const gatewayAccepts = (proof: string): boolean =>
  verifier.check(proof, { htm: "GET", htu: [HTU], now: NOW, accessToken: TOKEN }).ok;

async function joseAccepts(proof: string): Promise<boolean> {
  try {
    const { payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: "dpop+jwt",
      algorithms: ALGS,
      clockTolerance: 5,
      maxTokenAge: 60,
      currentDate: NOW,
    });
    // RFC 9449 §4.3, which jose does not know: the request's method and URL,
    // a jti, the access token's hash.
    return (
      payload.htm === "GET" &&
      payload.htu === HTU &&
      typeof payload.jti === "string" &&
      payload.jti !== "" &&
      payload.jti.length <= 256 &&
      payload.ath === ATH
    );
  } catch {
    return false;
  }
}

/**
 * What the gateway asks beyond jose, and why:
 * - canonical base64url, no duplicate members (one proof, one reading);
 * - a header of exactly typ, alg, jwk, and typ exactly dpop+jwt (jose
 *   compares media types case-insensitively): nothing else may steer how a
 *   proof is read;
 * - a jwk of public members only from a known list, its alg (if any) the
 *   header's, its coordinates of their exact lengths: the thumbprint is then
 *   one per key.
 */
function gatewayRules(proof: string): boolean {
  const parts = proof.split(".");
  if (parts.length !== 3) return false;
  const [h = "", p = "", s = ""] = parts;
  if (!PART.test(s) || Buffer.from(s, "base64url").toString("base64url") !== s) return false;
  const header = decodedObject(h);
  if (header === null || decodedObject(p) === null) return false;
  if (Object.keys(header).some((k) => !["typ", "alg", "jwk"].includes(k))) return false;
  if (header.typ !== "dpop+jwt") return false;
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (typeof jwk !== "object" || jwk === null) return false;
  const allowed = ["kty", "crv", "x", "y", "n", "e", "kid", "use", "alg", "ext", "key_ops"];
  if (Object.keys(jwk).some((k) => !allowed.includes(k))) return false;
  if (jwk.alg !== undefined && jwk.alg !== header.alg) return false;
  const size = (v: unknown) =>
    typeof v === "string" && Buffer.from(v, "base64url").toString("base64url") === v
      ? Buffer.from(v, "base64url").length
      : -1;
  if (jwk.kty === "EC") return size(jwk.x) === size(jwk.y) && [32, 48].includes(size(jwk.x));
  if (jwk.kty === "OKP") return size(jwk.x) === 32;
  return size(jwk.n) > 0 && size(jwk.e) > 0;
}

// ------------------------------------------------------------------ the generator

const baseClaims = () => ({ htm: "GET", htu: HTU, iat: T - 5, jti: randomUUID(), ath: ATH });

type Mutation = (s: Spec) => Spec;
const header =
  (h: Record<string, unknown>): Mutation =>
  (s) => ({ ...s, header: { ...s.header, ...h } });
const claims =
  (c: Record<string, unknown>): Mutation =>
  (s) => ({ ...s, claims: { ...s.claims, ...c } });

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .constantFrom("HS256", "none", "ES512", "RS384", "es256", "Ed25519")
    .map((alg) => header({ alg })),
  fc
    .constantFrom("DPOP+JWT", "application/dpop+jwt", "JWT", undefined)
    .map((typ) => header({ typ })),
  fc
    .constantFrom<Record<string, unknown>>(
      { kid: "k1" },
      { crit: ["b64"], b64: true },
      { crit: ["b64"], b64: false },
      { jku: "https://evil.example" },
    )
    .map(header),
  fc.constantFrom("ES256", "ES384", "EdDSA", "RS256").map(
    (jwkOf): Mutation =>
      (s) => ({ ...s, jwkOf }),
  ),
  fc
    .constantFrom<Record<string, unknown>>(
      { d: "AAAA" },
      { alg: "ES384" },
      { kid: "k" },
      { x5c: ["AA"] },
      { use: "sig" },
    )
    .map(
      (jwkExtra): Mutation =>
        (s) => ({ ...s, jwkExtra }),
    ),
  fc.constantFrom("POST", "get").map((htm) => claims({ htm })),
  fc
    .constantFrom(`${HTU}/x`, "https://evil.test/v1/exchange/agr-1", HTU.toUpperCase())
    .map((htu) => claims({ htu })),
  fc.integer({ min: -80, max: 20 }).map((off) => claims({ iat: T + off })),
  fc.constantFrom<unknown>("1", null, -1, 1.5e9).map((iat) => claims({ iat })),
  fc.constantFrom<unknown>(undefined, "", 7, "j".repeat(257)).map((jti) => claims({ jti })),
  fc.constantFrom<unknown>(undefined, "x", ATH.toUpperCase()).map((ath) => claims({ ath })),
  fc.integer({ min: -20, max: 20 }).map((off) => claims({ exp: T + off })),
  fc.integer({ min: -20, max: 20 }).map((off) => claims({ nbf: T + off })),
  fc.constant<Mutation>((s) => ({ ...s, duplicateClaim: true })),
  fc.constantFrom<Spec["signature"]>("otherKey", "zero").map(
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

const specArb: fc.Arbitrary<Spec> = fc
  .record({
    keyName: fc.constantFrom("ES256", "ES256", "ES384", "EdDSA", "RS256", "RS1024"),
    pss: fc.boolean(),
    mutations: fc.array(mutationArb, { maxLength: 2 }),
  })
  .map(({ keyName, pss, mutations }) => {
    const alg = keyName === "RS256" && pss ? "PS256" : keyName === "RS1024" ? "RS256" : keyName;
    const base: Spec = {
      keyName,
      header: { typ: "dpop+jwt", alg },
      claims: baseClaims(),
      duplicateClaim: false,
      signature: "valid",
      flip: null,
    };
    const spec = mutations.reduce((s, m) => m(s), base);
    // Undefined claims are dropped (a missing claim).
    spec.claims = Object.fromEntries(
      Object.entries(spec.claims).filter(([, v]) => v !== undefined),
    );
    return spec;
  });

describe("the DPoP proof check decides as jose does (plus RFC 9449 and the gateway's own rules)", () => {
  it("on built and changed proofs of every key type", async () => {
    let accepted = 0;
    let joseOnly = 0;
    await fc.assert(
      fc.asyncProperty(specArb, async (spec) => {
        const proof = build(spec);
        const jose = await joseAccepts(proof);
        const ours = gatewayAccepts(proof);
        const expected = jose && gatewayRules(proof);
        if (ours !== expected)
          throw new Error(
            `the gateway ${ours ? "accepts" : "refuses"} a proof jose ${jose ? "accepts" : "refuses"}: ${proof}`,
          );
        if (ours) accepted++;
        if (jose && !ours) joseOnly++;
      }),
      { numRuns: 1200 },
    );
    expect(accepted).toBeGreaterThan(100);
    expect(joseOnly).toBeGreaterThan(10);
  });
});
