/**
 * Signing through KMS (no KMS here, so the KMS client is mocked; the
 * signatures it returns are real, made with a local key in KMS's DER form).
 */
import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import {
  GenerateMacCommand,
  GetPublicKeyCommand,
  KMSClient,
  SignCommand,
} from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { derToJose, kmsGatewayKeys, kmsPseudonymKeys } from "../../../functions/auth/kms-keys.ts";
import { derivationLabel } from "../../../functions/auth/pseudonyms.ts";
import { issueAccessToken, TokenVerifier } from "../../../functions/auth/tokens.ts";

const settings = {
  issuer: "https://gw.example",
  audience: "https://gw.example",
  maxLifetimeSeconds: 900,
};

function kmsWithKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kms = new KMSClient({
    region: "eu-north-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  const mock = mockClient(kms);
  mock
    .on(GetPublicKeyCommand)
    .resolves({ PublicKey: publicKey.export({ format: "der", type: "spki" }) });
  mock
    .on(SignCommand)
    .callsFake((input: { Message: Uint8Array; MessageType: string; SigningAlgorithm: string }) => {
      expect(input.MessageType).toBe("RAW");
      expect(input.SigningAlgorithm).toBe("ECDSA_SHA_256");
      return { Signature: sign("sha256", input.Message, { key: privateKey, dsaEncoding: "der" }) };
    });
  return { kms, mock };
}

describe("KMS keys", () => {
  it("converts DER signatures to JOSE r||s, padding short integers and dropping sign bytes", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`message ${i}`);
      const der = sign("sha256", data, { key: privateKey, dsaEncoding: "der" });
      const p1363 = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
      // ECDSA is randomised: compare r||s read from the same DER instead.
      const jose = derToJose(der);
      expect(jose).toHaveLength(64);
      expect(p1363).toHaveLength(64);
      const r = der.subarray(4, 4 + (der[3] ?? 0));
      expect(Buffer.from(jose.subarray(0, 32)).toString("hex")).toBe(
        r.toString("hex").replace(/^00/, "").padStart(64, "0"),
      );
    }
    expect(() => derToJose(Buffer.from([0x31, 0x00]))).toThrow();
  });

  it("signs tokens that verify against the JWKS built from the KMS public key", async () => {
    const { kms, mock } = kmsWithKey();
    const keys = await kmsGatewayKeys(kms, "arn:aws:kms:eu-north-1:1:key/current");
    expect(keys.publicJwks[0]).toMatchObject({
      kty: "EC",
      crv: "P-256",
      alg: "ES256",
      use: "sig",
      kid: keys.signer.kid,
    });
    expect(keys.publicJwks[0]?.d).toBeUndefined();
    const now = new Date();
    const { token } = await issueAccessToken(
      keys.signer,
      settings,
      { sub: "p-1", scopes: ["admin"], ttlSeconds: 60 },
      now,
    );
    expect(mock.commandCalls(SignCommand)).toHaveLength(1);
    const claims = await new TokenVerifier(settings, keys.publicJwks).verify(token, now);
    expect(claims.sub).toBe("p-1");
  });

  it("publishes the previous key during a rotation, so its tokens still verify", async () => {
    const old = kmsWithKey();
    const oldKeys = await kmsGatewayKeys(old.kms, "old");
    const { token } = await issueAccessToken(
      oldKeys.signer,
      settings,
      { sub: "p-2", scopes: [], ttlSeconds: 60 },
      new Date(),
    );
    const current = kmsWithKey();
    current.mock.on(GetPublicKeyCommand, { KeyId: "old" }).resolves({
      PublicKey: (await old.kms.send(new GetPublicKeyCommand({ KeyId: "old" }))).PublicKey,
    });
    const keys = await kmsGatewayKeys(current.kms, "current", "old");
    expect(keys.publicJwks.map((k) => k.kid)).toEqual([keys.signer.kid, oldKeys.signer.kid]);
    expect((await new TokenVerifier(settings, keys.publicJwks).verify(token, new Date())).sub).toBe(
      "p-2",
    );
  });

  it("derives one pseudonym key per agreement with KMS GenerateMac, once per process", async () => {
    const kms = new KMSClient({
      region: "eu-north-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const mock = mockClient(kms);
    const secret = Buffer.alloc(32, 9);
    mock
      .on(GenerateMacCommand)
      .callsFake((input: { Message: Uint8Array; MacAlgorithm: string }) => {
        expect(input.MacAlgorithm).toBe("HMAC_SHA_256");
        return { Mac: createHmac("sha256", secret).update(input.Message).digest() };
      });
    const keys = kmsPseudonymKeys(kms, "hmac-key");
    const a = await keys.forAgreement("agr-1");
    const again = await keys.forAgreement("agr-1");
    const b = await keys.forAgreement("agr-2");
    expect(Buffer.from(a).equals(Buffer.from(again))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(
      Buffer.from(a).equals(createHmac("sha256", secret).update(derivationLabel("agr-1")).digest()),
    ).toBe(true);
    expect(mock.commandCalls(GenerateMacCommand)).toHaveLength(2);
  });

  it("a KMS failure while deriving is not cached: the next call tries again", async () => {
    const kms = new KMSClient({
      region: "eu-north-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const mock = mockClient(kms);
    mock
      .on(GenerateMacCommand)
      .rejectsOnce(new Error("throttled"))
      .resolves({ Mac: Buffer.alloc(32, 1) });
    const keys = kmsPseudonymKeys(kms, "hmac-key");
    await expect(keys.forAgreement("agr-1")).rejects.toThrow("throttled");
    await expect(keys.forAgreement("agr-1")).resolves.toHaveLength(32);
  });
});
