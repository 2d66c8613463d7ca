/**
 * Hostile access tokens. Each case changes one thing of an otherwise valid
 * token (the positive controls show the unchanged token is accepted), and is
 * refused both by the TokenVerifier and through the app: 401 invalid_token as
 * problem+json, never a 500, never a 200.
 */
import { createPublicKey, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { Signer } from "../../functions/auth/jws.ts";
import {
  bearerToken,
  CLOCK_TOLERANCE_SECONDS,
  issueAccessToken,
  issueGatewayToken,
  MAX_TOKEN_CHARS,
  TokenVerifier,
} from "../../functions/auth/tokens.ts";
import { InvalidTokenError } from "../../functions/errors.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";
import {
  accessClaims,
  b64u,
  ecKey,
  header,
  hs256,
  malleate,
  nonCanonicalTail,
  P256_N,
  type Parts,
  signWith,
  signWithKey,
  toBytes32,
  without,
  withSignature,
} from "./jwt-craft.ts";

let t: TestGateway;
let signer: Signer;
let kid: string;
let publicJwk: JWK;

beforeAll(async () => {
  t = await createTestGateway();
  signer = t.gw.keys.signer;
  kid = signer.kid;
  publicJwk = t.gw.keys.publicJwks[0] as JWK;
});

const nowS = () => Math.floor(t.gw.clock().getTime() / 1000);
const parts = (
  claims: Record<string, unknown> = accessClaims(ISSUER, nowS()),
  head: string = header(kid),
): Parts => ({ header: head, claims: JSON.stringify(claims) });

async function callAdmin(authorization: string): Promise<Response> {
  return t.app.request("/admin/partners", { headers: { Authorization: authorization } });
}

/** Refused by the verifier and, through the app, 401 invalid_token problem+json. */
async function expectRefused(token: string): Promise<void> {
  await expect(t.gw.verifier.verify(token, t.gw.clock())).rejects.toBeInstanceOf(InvalidTokenError);
  const res = await callAdmin(`Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.headers.get("Content-Type")).toBe("application/problem+json");
  expect(res.headers.get("WWW-Authenticate")).toContain("invalid_token");
  expect(await res.json()).toMatchObject({ status: 401, code: "invalid_token" });
}

async function expectAccepted(token: string): Promise<void> {
  const claims = await t.gw.verifier.verify(token, t.gw.clock());
  expect(claims.scopes).toContain("admin");
  const res = await callAdmin(`Bearer ${token}`);
  expect(res.status).toBe(200);
}

describe("positive controls: the crafting helpers make tokens the gateway accepts", () => {
  it("a hand-made ES256 access token signed by the gateway key is accepted", async () => {
    await expectAccepted(await signWith(signer, parts()));
  });

  it("a token from issueAccessToken is accepted", async () => {
    await expectAccepted(await t.token("operator", ["admin"]));
  });
});

describe("algorithm", () => {
  for (const alg of ["none", "None", "NONE", "nOnE"]) {
    it(`alg ${alg}: unsigned, with a garbage signature, and with a real ES256 signature`, async () => {
      const p = parts(undefined, header(kid, { alg }));
      await expectRefused(withSignature(p, ""));
      await expectRefused(withSignature(p, "AAAA"));
      await expectRefused(await signWith(signer, p));
    });
  }

  it("HS256 keyed with the gateway's public key as PEM", async () => {
    const pem = createPublicKey({ key: publicJwk as never, format: "jwk" })
      .export({ type: "spki", format: "pem" })
      .toString();
    const p = parts(undefined, header(kid, { alg: "HS256" }));
    await expectRefused(hs256(pem, p));
    await expectRefused(hs256(pem.trim(), p));
  });

  it("HS256 keyed with the gateway's public key as JWK JSON", async () => {
    const p = parts(undefined, header(kid, { alg: "HS256" }));
    await expectRefused(hs256(JSON.stringify(publicJwk), p));
    await expectRefused(hs256(Buffer.from(publicJwk.x ?? "", "base64url"), p));
  });

  it("HS256 with a blank secret", async () => {
    await expectRefused(hs256("", parts(undefined, header(kid, { alg: "HS256" }))));
    await expectRefused(hs256(Buffer.alloc(0), parts(undefined, header(kid, { alg: "HS256" }))));
  });

  it("ES384, ES512, RS256, EdDSA and 'ES256 ' are not ES256", async () => {
    for (const alg of ["ES384", "ES512", "RS256", "PS256", "EdDSA", "es256", "ES256 "]) {
      await expectRefused(await signWith(signer, parts(undefined, header(kid, { alg }))));
    }
  });
});

describe("signature", () => {
  it("stripped signature: two parts, and an empty third part", async () => {
    const signed = await signWith(signer, parts());
    const [h, p] = signed.split(".");
    await expectRefused(`${h}.${p}`);
    await expectRefused(`${h}.${p}.`);
  });

  it("null-ish signatures: AA, 64 zero bytes, 'null', '0', one byte", async () => {
    const p = parts();
    for (const sig of ["AA", b64u(Buffer.alloc(64)), b64u("null"), b64u("0"), b64u("\0")]) {
      await expectRefused(withSignature(p, sig));
    }
  });

  it("ECDSA r = s = 0 (psychic signature) and r = s = n, r = n with a real s", async () => {
    const p = parts();
    const zero = toBytes32(0n);
    const n = toBytes32(P256_N);
    await expectRefused(withSignature(p, b64u(Buffer.concat([zero, zero]))));
    await expectRefused(withSignature(p, b64u(Buffer.concat([n, n]))));
    const real = Buffer.from((await signWith(signer, p)).split(".")[2] ?? "", "base64url");
    await expectRefused(withSignature(p, b64u(Buffer.concat([n, real.subarray(32)]))));
    await expectRefused(withSignature(p, b64u(Buffer.concat([real.subarray(0, 32), zero]))));
  });

  it("a DER-encoded signature of the right input is not a JWS signature", async () => {
    const { privateKey } = ecKey("P-256");
    const { sign } = await import("node:crypto");
    const p = parts();
    const input = `${b64u(p.header)}.${b64u(p.claims)}`;
    await expectRefused(withSignature(p, b64u(sign("sha256", Buffer.from(input), privateKey))));
  });

  it("signed by another P-256 key under the gateway's kid", async () => {
    await expectRefused(signWithKey(ecKey("P-256").privateKey, parts()));
  });

  it("wrong-curve keys under alg ES256: P-384, P-521, secp256k1", async () => {
    for (const curve of ["P-384", "P-521", "secp256k1"]) {
      await expectRefused(signWithKey(ecKey(curve).privateKey, parts()));
    }
  });

  it("JWS JSON serialization, JWE-shaped and five-part tokens", async () => {
    const signed = await signWith(signer, parts());
    const [h, p, s] = signed.split(".");
    await expectRefused(b64u(JSON.stringify({ protected: h, payload: p, signature: s })));
    await expectRefused(`${h}.${p}.${s}.${s}.${s}`);
    await expectRefused(`${h}..${s}`);
  });
});

describe("header members", () => {
  it("kid injection: path traversal, SQL, NUL, very long, unknown", async () => {
    for (const bad of [
      "../../etc/passwd",
      "/dev/null",
      "' OR '1'='1",
      "x'; DROP TABLE keys;--",
      `${kid}\u0000`,
      "a\u0000b",
      "k".repeat(5000),
      "",
      "unknown-kid",
    ]) {
      await expectRefused(await signWith(signer, parts(undefined, header(kid, { kid: bad }))));
    }
    for (const bad of [null, 1, ["x"], { kid }]) {
      await expectRefused(await signWith(signer, parts(undefined, header(kid, { kid: bad }))));
    }
  });

  it("a missing kid", async () => {
    await expectRefused(
      await signWith(signer, parts(undefined, JSON.stringify({ alg: "ES256", typ: "at+jwt" }))),
    );
  });

  it("jku and x5u pointing elsewhere, with a valid signature", async () => {
    for (const extra of [
      { jku: "https://attacker.example/jwks.json" },
      { x5u: "https://attacker.example/cert.pem" },
      { jku: `${ISSUER}/.well-known/jwks.json` },
    ]) {
      await expectRefused(await signWith(signer, parts(undefined, header(kid, extra))));
    }
  });

  it("an embedded jwk of the attacker's key, signed with it (kid the gateway's and its own)", async () => {
    const { privateKey, publicKey } = ecKey("P-256");
    const jwk = await exportJWK(publicKey);
    const own = await calculateJwkThumbprint(jwk);
    await expectRefused(signWithKey(privateKey, parts(undefined, header(kid, { jwk }))));
    await expectRefused(signWithKey(privateKey, parts(undefined, header(own, { jwk }))));
    // The gateway's own public key embedded, with a valid signature: still not allowed.
    await expectRefused(await signWith(signer, parts(undefined, header(kid, { jwk: publicJwk }))));
  });

  it("x5c, x5t, cty, b64 and zip headers", async () => {
    for (const extra of [
      { x5c: ["MIIB"] },
      { x5t: "abc" },
      { "x5t#S256": "abc" },
      { cty: "JWT" },
      { b64: false, crit: ["b64"] },
      { zip: "DEF" },
    ]) {
      await expectRefused(await signWith(signer, parts(undefined, header(kid, extra))));
    }
  });

  it("unknown crit, and crit naming a registered claim", async () => {
    for (const extra of [
      { crit: ["urn:example:unknown"], "urn:example:unknown": 1 },
      { crit: ["exp"], exp: 1 },
      { crit: [] },
    ]) {
      await expectRefused(await signWith(signer, parts(undefined, header(kid, extra))));
    }
  });

  it("typ missing, JWT, casing variants, application/at+jwt", async () => {
    for (const typ of [undefined, "JWT", "jwt", "AT+JWT", "application/at+jwt", "at+jwt "]) {
      const head =
        typ === undefined
          ? JSON.stringify({ alg: "ES256", kid })
          : JSON.stringify({ alg: "ES256", typ, kid });
      await expectRefused(await signWith(signer, parts(undefined, head)));
    }
  });

  it("the gateway's own backend tokens (typ gateway+jwt) are never access tokens", async () => {
    const now = t.gw.clock();
    const toBackend = await issueGatewayToken(
      signer,
      ISSUER,
      { aud: "some-partner", agreement: "agr-1", party: "other", purpose: null, action: "read" },
      300,
      now,
    );
    await expectRefused(toBackend.token);
    // Even with the gateway's audience and an admin scope, typ decides.
    await expectRefused(
      await signWith(signer, parts(undefined, header(kid, { typ: "gateway+jwt" }))),
    );
  });

  it("duplicate header members (alg, typ, kid), also spelt with escapes", async () => {
    const claims = JSON.stringify(accessClaims(ISSUER, nowS()));
    for (const head of [
      `{"alg":"ES256","typ":"at+jwt","kid":"${kid}","alg":"none"}`,
      `{"alg":"none","typ":"at+jwt","kid":"${kid}","alg":"ES256"}`,
      `{"alg":"ES256","typ":"gateway+jwt","kid":"${kid}","typ":"at+jwt"}`,
      `{"alg":"ES256","typ":"at+jwt","kid":"${kid}","kid":"${kid}"}`,
      `{"alg":"ES256","typ":"at+jwt","kid":"${kid}","\\u0061lg":"ES256"}`,
    ]) {
      await expectRefused(await signWith(signer, { header: head, claims }));
    }
  });

  it("a header that is not an object", async () => {
    for (const head of ["[]", "null", '"ES256"', "1", "{", ""]) {
      await expectRefused(await signWith(signer, { header: head, claims: "{}" }));
    }
  });
});

describe("claims", () => {
  it("expired beyond the leeway is refused; within the leeway accepted", async () => {
    const now = nowS();
    await expectRefused(
      await signWith(
        signer,
        parts(accessClaims(ISSUER, now - 300, { exp: now - CLOCK_TOLERANCE_SECONDS - 1 })),
      ),
    );
    await expectRefused(
      await signWith(
        signer,
        parts(accessClaims(ISSUER, now - 300, { exp: now - CLOCK_TOLERANCE_SECONDS })),
      ),
    );
    await expectAccepted(
      await signWith(
        signer,
        parts(accessClaims(ISSUER, now - 300, { exp: now - CLOCK_TOLERANCE_SECONDS + 2 })),
      ),
    );
  });

  it("a future nbf beyond the leeway is refused; within it accepted", async () => {
    const now = nowS();
    await expectRefused(
      await signWith(signer, parts(accessClaims(ISSUER, now, { nbf: now + 60 }))),
    );
    await expectRefused(
      await signWith(
        signer,
        parts(accessClaims(ISSUER, now, { nbf: now + CLOCK_TOLERANCE_SECONDS + 2 })),
      ),
    );
    await expectAccepted(
      await signWith(
        signer,
        parts(accessClaims(ISSUER, now, { nbf: now + CLOCK_TOLERANCE_SECONDS - 2 })),
      ),
    );
  });

  it("a future iat beyond the leeway is refused", async () => {
    const now = nowS();
    for (const iat of [now + 60, now + CLOCK_TOLERANCE_SECONDS + 2]) {
      await expectRefused(
        await signWith(signer, parts(accessClaims(ISSUER, iat, { exp: now + 300 }))),
      );
    }
  });

  for (const claim of ["exp", "iat", "sub", "jti", "iss", "aud"]) {
    it(`a missing ${claim}`, async () => {
      await expectRefused(
        await signWith(signer, parts(without(accessClaims(ISSUER, nowS()), claim))),
      );
    });
  }

  it("empty sub and jti", async () => {
    await expectRefused(await signWith(signer, parts(accessClaims(ISSUER, nowS(), { sub: "" }))));
    await expectRefused(await signWith(signer, parts(accessClaims(ISSUER, nowS(), { jti: "" }))));
  });

  it("exp, iat or nbf of 1e400 (Infinity once parsed)", async () => {
    const now = nowS();
    for (const [name, text] of [
      ["exp", "1e400"],
      ["exp", "-1e400"],
      ["iat", "1e400"],
      ["iat", "-1e400"],
      ["nbf", "-1e400"],
    ] as const) {
      const base = accessClaims(ISSUER, now);
      const claims = JSON.stringify({ ...base, [name]: 0 }).replace(
        `"${name}":0`,
        `"${name}":${text}`,
      );
      await expectRefused(await signWith(signer, { header: header(kid), claims }));
    }
  });

  it("non-numeric exp and iat", async () => {
    const now = nowS();
    for (const bad of [String(now + 300), null, true, [now + 300], { v: now + 300 }]) {
      await expectRefused(await signWith(signer, parts(accessClaims(ISSUER, now, { exp: bad }))));
      await expectRefused(
        await signWith(signer, parts(accessClaims(ISSUER, now, { iat: String(now) }))),
      );
    }
  });

  it("a lifetime over the maximum, and exp not after iat", async () => {
    const now = nowS();
    // The test gateway's maximum lifetime is its token TTL (900 s).
    const max = t.gw.settings.tokenTtlSeconds;
    await expectRefused(
      await signWith(signer, parts(accessClaims(ISSUER, now, { exp: now + max + 1 }))),
    );
    await expectRefused(await signWith(signer, parts(accessClaims(ISSUER, now, { exp: now }))));
    await expectAccepted(
      await signWith(signer, parts(accessClaims(ISSUER, now, { exp: now + max }))),
    );
    const long = await issueAccessToken(
      signer,
      { issuer: ISSUER, audience: ISSUER, maxLifetimeSeconds: max * 10 },
      { sub: "operator", scopes: ["admin"], ttlSeconds: max + 60 },
      t.gw.clock(),
    );
    await expectRefused(long.token);
  });

  it("wrong audience, wrong issuer", async () => {
    const now = nowS();
    for (const extra of [
      { aud: "http://other.test" },
      { aud: [] },
      { aud: ["http://other.test"] },
      { aud: `${ISSUER}/` },
      { iss: "http://other.test" },
      { iss: `${ISSUER}/` },
      { iss: ISSUER.toUpperCase() },
    ]) {
      await expectRefused(await signWith(signer, parts(accessClaims(ISSUER, now, extra))));
    }
  });

  it("duplicate claims, also spelt with escapes or nested", async () => {
    const now = nowS();
    const base = JSON.stringify(accessClaims(ISSUER, now, { scope: "agreement:agr-1" }));
    const body = base.slice(0, -1);
    for (const claims of [
      `${body},"scope":"admin"}`,
      `${body},"sub":"someone-else"}`,
      `${body},"s\\u0063ope":"admin"}`,
      `${body},"exp":${now + 10_000_000}}`,
      `${body},"bind":{"agr-1":["a","b","c"],"agr-1":["x","y","z"]}}`,
    ]) {
      await expectRefused(await signWith(signer, { header: header(kid), claims }));
    }
  });

  it("claims that are not an object, or not JSON", async () => {
    for (const claims of ["[]", "null", "1", '"x"', "{", "{'a':1}"]) {
      await expectRefused(await signWith(signer, { header: header(kid), claims }));
    }
  });

  it("a token over the size cap, even when validly signed", async () => {
    const big = await signWith(
      signer,
      parts(accessClaims(ISSUER, nowS(), { pad: "x".repeat(MAX_TOKEN_CHARS) })),
    );
    expect(big.length).toBeGreaterThan(MAX_TOKEN_CHARS);
    await expectRefused(big);
  });
});

describe("Authorization header", () => {
  it("strict Bearer parsing refuses every variant but `Bearer <token>`", async () => {
    const tok = await signWith(signer, parts());
    expect(bearerToken(`Bearer ${tok}`)).toBe(tok);
    for (const h of [
      `bearer ${tok}`,
      `BEARER ${tok}`,
      `Bearer  ${tok}`,
      `Bearer ${tok} `,
      ` Bearer ${tok}`,
      `Bearer\t${tok}`,
      `Bearer ${tok}\t`,
      `Bearer ${tok} ${tok}`,
      `Bearer ${tok},Bearer ${tok}`,
      `Bearer ${tok}, Bearer ${tok}`,
      `Basic ${tok}`,
      `Basic ${Buffer.from("operator:secret").toString("base64")}`,
      `Bearer ${tok}\r\n`,
      `Bearer ${tok}\nX-Other: 1`,
      `Bearer ${tok}\r`,
      `Bearer ${tok}\u0000`,
      `Bearer`,
      `Bearer `,
      "",
      `Token ${tok}`,
      `DPoP ${tok}`,
      `Bearer "${tok}"`,
      `Bearer ${tok}=`,
    ]) {
      expect(() => bearerToken(h), JSON.stringify(h.slice(0, 12))).toThrow(InvalidTokenError);
    }
    expect(() => bearerToken(undefined)).toThrow(InvalidTokenError);
  });

  it("through the app: every variant a client can send is 401 invalid_token", async () => {
    const tok = await signWith(signer, parts());
    for (const h of [
      `bearer ${tok}`,
      `Bearer  ${tok}`,
      `Bearer\t${tok}`,
      `Bearer ${tok} ${tok}`,
      `Bearer ${tok}, Bearer ${tok}`,
      `Basic ${tok}`,
      `Bearer ${tok}\u0001`,
      "Bearer",
    ]) {
      const res = await callAdmin(h);
      expect(res.status, h.slice(0, 12)).toBe(401);
      expect(await res.json()).toMatchObject({ code: "invalid_token" });
    }
    const none = await t.app.request("/admin/partners");
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: "invalid_token" });
  });

  it("an Authorization header over 8 KB is 401 before any parsing", async () => {
    const h = `Bearer ${"a".repeat(8 * 1024 + 1)}`;
    expect(() => bearerToken(h)).toThrow(/too large/);
    const res = await callAdmin(h);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "invalid_token" });
  });
});

describe("malleability, the verified-token cache and key rotation", () => {
  const settings = { issuer: ISSUER, audience: ISSUER, maxLifetimeSeconds: 900 };

  it("ECDSA s → n − s also verifies (decided: accepted) and names the same issuer and jti", async () => {
    // ES256 (RFC 7518) does not require low-S, and KMS does not produce it, so
    // both forms are valid signatures. The decision: accept both; nothing in
    // the gateway keys a replay, deny or revocation list on the token string.
    const token = await t.token("operator", ["admin"]);
    const twin = malleate(token);
    expect(twin).not.toBe(token);
    const verifier = new TokenVerifier(settings, t.gw.keys.publicJwks);
    const a = await verifier.verify(token, t.gw.clock());
    const b = await verifier.verify(twin, t.gw.clock());
    expect(b.jti).toBe(a.jti);
    expect(b.sub).toBe(a.sub);
    expect((await callAdmin(`Bearer ${twin}`)).status).toBe(200);
  });

  it("non-canonical base64url (padding bits set) is refused in every part", async () => {
    // JSON whitespace so that no part's length is a multiple of 3 bytes: then
    // every part's last base64url character carries unused bits.
    const spaced = (text: string) => {
      let out = text;
      while (Buffer.byteLength(out) % 3 === 0) out = out.replace("{", "{ ");
      return out;
    };
    const p0 = parts();
    const token = await signWith(signer, { header: spaced(p0.header), claims: spaced(p0.claims) });
    await expectAccepted(token);
    const [h, p, s] = token.split(".") as [string, string, string];
    // A fresh verifier, so a cache of the canonical form cannot decide.
    for (const variant of [
      `${h}.${p}.${nonCanonicalTail(s)}`,
      `${nonCanonicalTail(h)}.${p}.${s}`,
      `${h}.${nonCanonicalTail(p)}.${s}`,
    ]) {
      await expect(
        new TokenVerifier(settings, t.gw.keys.publicJwks).verify(variant, t.gw.clock()),
      ).rejects.toBeInstanceOf(InvalidTokenError);
      await expectRefused(variant);
    }
  });

  it("the cache keys on the verified token: a forgery reusing a cached token's jti is refused", async () => {
    const verifier = new TokenVerifier(settings, t.gw.keys.publicJwks);
    const now = new Date();
    const claims = accessClaims(ISSUER, Math.floor(now.getTime() / 1000), {
      scope: "agreement:agr-1",
    });
    const genuine = await signWith(signer, parts(claims));
    await verifier.verify(genuine, now);
    // Same iss and jti, elevated scope, signed by another key.
    const forged = signWithKey(ecKey("P-256").privateKey, parts({ ...claims, scope: "admin" }));
    await expect(verifier.verify(forged, now)).rejects.toBeInstanceOf(InvalidTokenError);
    // Same claims text, genuine header, signature of the genuine token moved onto other claims.
    const [h, , s] = genuine.split(".");
    const swapped = `${h}.${b64u(JSON.stringify({ ...claims, scope: "admin" }))}.${s}`;
    await expect(verifier.verify(swapped, now)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("the cache never keeps a token alive past exp (+ leeway)", async () => {
    const verifier = new TokenVerifier(settings, t.gw.keys.publicJwks);
    const start = new Date();
    const { token, exp } = await issueAccessToken(
      signer,
      settings,
      { sub: "operator", scopes: ["admin"], ttlSeconds: 60 },
      start,
    );
    await verifier.verify(token, start); // now cached
    const at = (s: number) => new Date(s * 1000);
    await expect(
      verifier.verify(token, at(exp + CLOCK_TOLERANCE_SECONDS - 1)),
    ).resolves.toBeTruthy();
    await expect(verifier.verify(token, at(exp + CLOCK_TOLERANCE_SECONDS))).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
    await expect(verifier.verify(token, at(exp + 3600))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("the cache answers as a fresh verification would when the clock is before iat", async () => {
    const verifier = new TokenVerifier(settings, t.gw.keys.publicJwks);
    const start = new Date();
    const { token } = await issueAccessToken(
      signer,
      settings,
      { sub: "operator", scopes: ["admin"], ttlSeconds: 60 },
      start,
    );
    const before = new Date(start.getTime() - 3600_000);
    const fresh = new TokenVerifier(settings, t.gw.keys.publicJwks);
    await expect(fresh.verify(token, before)).rejects.toBeInstanceOf(InvalidTokenError);
    await verifier.verify(token, start); // cached
    await expect(verifier.verify(token, before)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("the cache is bounded and stays correct when it evicts", async () => {
    const verifier = new TokenVerifier(settings, t.gw.keys.publicJwks, 2);
    const now = new Date();
    const tokens = await Promise.all(
      [1, 2, 3].map(
        async () =>
          (
            await issueAccessToken(
              signer,
              settings,
              { sub: "operator", scopes: ["admin"], ttlSeconds: 60 },
              now,
            )
          ).token,
      ),
    );
    const jtis = [];
    for (const tok of [...tokens, ...tokens]) jtis.push((await verifier.verify(tok, now)).jti);
    expect(new Set(jtis).size).toBe(3);
  });

  it("key rotation: the previous key verifies while published; once dropped, never (cache or not)", async () => {
    const { ephemeralKeys } = await import("../../functions/auth/local-keys.ts");
    const oldKeys = t.gw.keys;
    const newKeys = await ephemeralKeys();
    const during = new TokenVerifier(settings, [...newKeys.publicJwks, ...oldKeys.publicJwks]);
    const after = new TokenVerifier(settings, newKeys.publicJwks);
    const now = new Date();
    const oldToken = (
      await issueAccessToken(
        oldKeys.signer,
        settings,
        { sub: "operator", scopes: ["admin"], ttlSeconds: 60 },
        now,
      )
    ).token;
    const newToken = (
      await issueAccessToken(
        newKeys.signer,
        settings,
        { sub: "operator", scopes: ["admin"], ttlSeconds: 60 },
        now,
      )
    ).token;
    await expect(during.verify(oldToken, now)).resolves.toBeTruthy();
    await expect(during.verify(newToken, now)).resolves.toBeTruthy();
    await expect(after.verify(oldToken, now)).rejects.toBeInstanceOf(InvalidTokenError);
    await expect(after.verify(newToken, now)).resolves.toBeTruthy();
    // The retired key's tokens are refused by a verifier without it, whatever was cached elsewhere.
    await expect(after.verify(malleate(oldToken), now)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("the client-assertion replay list keys on client and jti: a malleated assertion is a replay", async () => {
    const partner = `p-${randomUUID().slice(0, 8)}`;
    const created = await t.admin("POST", "/admin/partners", {
      id: partner,
      name: "Assertion partner",
      jurisdiction: "SE",
      baseUrl: "http://127.0.0.1:9",
    });
    expect(created.status).toBe(201);
    const { privateKey, publicKey } = ecKey("P-256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    expect((await t.admin("PUT", `/admin/partners/${partner}/keys`, { keys: [jwk] })).status).toBe(
      200,
    );
    const assertion = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(partner)
        .setSubject(partner)
        .setAudience(`${ISSUER}/oauth/token`)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime("60s")
        .sign(privateKey);
    const exchange = (a: string) =>
      t.app.request("/oauth/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          scope: "agreement:none-such",
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: a,
        }).toString(),
      });
    const first = await assertion();
    // Client authentication passes (the scope is what fails): the jti is now used.
    const ok = await exchange(first);
    expect(ok.status).toBe(400);
    expect(await ok.json()).toMatchObject({ error: "invalid_scope" });
    for (const replay of [first, malleate(first)]) {
      const res = await exchange(replay);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: "invalid_client" });
    }
    const fresh = await exchange(await assertion());
    expect(fresh.status).toBe(400);
  });
});
