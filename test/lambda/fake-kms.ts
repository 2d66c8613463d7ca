/**
 * A KMS endpoint on loopback for the bundled functions: the AWS JSON 1.1
 * protocol (`X-Amz-Target: TrentService.<Operation>`) for the three
 * operations the gateway calls, with real cryptography (ECDSA P-256 keys
 * whose signatures are DER, as KMS returns them; HMAC-SHA-256 keys). No
 * npm package emulates KMS, and the functions must run with KMS key ids to
 * show which key each one uses. It checks no SigV4 signature: who may use a
 * key is proven against the template's policies, not here.
 */
import { createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { createServer, type Server } from "node:http";

export type FakeKeySpec = "ECC_NIST_P256" | "HMAC_256";

interface FakeKey {
  readonly spec: FakeKeySpec;
  readonly privateKey?: KeyObject;
  readonly publicDer?: Buffer;
  readonly secret?: Buffer;
  enabled: boolean;
  throttled?: boolean;
}

export interface FakeKms {
  readonly endpoint: string;
  /** Adds a key under `arn` (its key id is the ARN's last segment). */
  addKey(arn: string, spec: FakeKeySpec): void;
  /** Disables a key: every use fails with DisabledException, as KMS answers. */
  setEnabled(arn: string, enabled: boolean): void;
  /** Throttles a key's signatures: ThrottlingException, as KMS answers over its quota. */
  setThrottled(arn: string, throttled: boolean): void;
  /** Operations served, in order (`Sign`, `GetPublicKey`, ...). */
  readonly served: { operation: string; keyId: string }[];
  close(): Promise<void>;
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeKms(): Promise<FakeKms> {
  const keys = new Map<string, FakeKey>();
  const served: { operation: string; keyId: string }[] = [];
  const find = (keyId: unknown): [string, FakeKey] => {
    if (typeof keyId !== "string") throw new KmsError("ValidationException", "KeyId is required");
    for (const [arn, key] of keys) {
      if (arn === keyId || arn.endsWith(`/${keyId}`)) {
        if (!key.enabled) throw new KmsError("DisabledException", `${arn} is disabled`);
        return [arn, key];
      }
    }
    throw new KmsError("NotFoundException", `Key '${keyId}' does not exist`);
  };
  const b64 = (v: unknown): Buffer => Buffer.from(String(v ?? ""), "base64");

  const operations: Record<string, (input: Record<string, unknown>) => Record<string, unknown>> = {
    GetPublicKey(input) {
      const [arn, key] = find(input.KeyId);
      if (key.publicDer === undefined)
        throw new KmsError("UnsupportedOperationException", `${arn} is not asymmetric`);
      return {
        KeyId: arn,
        PublicKey: key.publicDer.toString("base64"),
        KeySpec: key.spec,
        KeyUsage: "SIGN_VERIFY",
        SigningAlgorithms: ["ECDSA_SHA_256"],
      };
    },
    Sign(input) {
      const [arn, key] = find(input.KeyId);
      if (key.throttled) throw new KmsError("ThrottlingException", "Rate exceeded");
      if (key.privateKey === undefined || input.SigningAlgorithm !== "ECDSA_SHA_256")
        throw new KmsError("InvalidKeyUsageException", `${arn} cannot sign that way`);
      if (input.MessageType !== "RAW")
        throw new KmsError("ValidationException", "only RAW messages here");
      const signature = sign("sha256", b64(input.Message), key.privateKey);
      return {
        KeyId: arn,
        Signature: signature.toString("base64"),
        SigningAlgorithm: "ECDSA_SHA_256",
      };
    },
    GenerateMac(input) {
      const [arn, key] = find(input.KeyId);
      if (key.secret === undefined || input.MacAlgorithm !== "HMAC_SHA_256")
        throw new KmsError("InvalidKeyUsageException", `${arn} cannot MAC that way`);
      const mac = createHmac("sha256", key.secret).update(b64(input.Message)).digest();
      return { KeyId: arn, Mac: mac.toString("base64"), MacAlgorithm: "HMAC_SHA_256" };
    },
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const operation = target.startsWith("TrentService.") ? target.slice(13) : "";
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { "Content-Type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(body));
      };
      try {
        const handler = operations[operation];
        if (handler === undefined)
          throw new KmsError("UnknownOperationException", `${operation} is not served here`);
        const input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<
          string,
          unknown
        >;
        served.push({ operation, keyId: String(input.KeyId) });
        answer(200, handler(input));
      } catch (err) {
        const type = err instanceof KmsError ? err.type : "KMSInternalException";
        answer(400, { __type: type, message: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    served,
    addKey(arn, spec) {
      if (spec === "HMAC_256") {
        keys.set(arn, { spec, secret: randomBytes(32), enabled: true });
        return;
      }
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const publicDer = publicKey.export({ format: "der", type: "spki" });
      keys.set(arn, { spec, privateKey, publicDer, enabled: true });
    },
    setEnabled(arn, enabled) {
      const key = keys.get(arn);
      if (key === undefined) throw new Error(`no key ${arn}`);
      key.enabled = enabled;
    },
    setThrottled(arn, throttled) {
      const key = keys.get(arn);
      if (key === undefined) throw new Error(`no key ${arn}`);
      key.throttled = throttled;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
