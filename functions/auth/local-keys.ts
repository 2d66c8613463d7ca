/**
 * Local signing keys: an ES256 key pair generated once and kept under
 * DATA_DIR (file mode 0600), with the previous key kept through a rotation.
 */
import {
  createPrivateKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  sign,
} from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { calculateJwkThumbprint, type JWK } from "jose";
import type { Signer } from "./jws.ts";
import type { GatewayKeys } from "./keys.ts";

interface KeyFile {
  readonly current: JWK;
  readonly previous?: JWK | undefined;
}

export async function newPrivateJwk(): Promise<JWK> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" }) as JWK;
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: "ES256", use: "sig" };
}

const publicOf = ({ d: _d, ...pub }: JWK): JWK => pub;

export function localSigner(privateJwk: JWK): Signer {
  const key: KeyObject = createPrivateKey({ key: privateJwk as JsonWebKey, format: "jwk" });
  return {
    kid: privateJwk.kid ?? "",
    sign: async (input) => sign("sha256", input, { key, dsaEncoding: "ieee-p1363" }),
  };
}

/** One local key for every purpose (the contract's `SIGNING_JWK`); `typ` keeps them apart. */
export function keysFromFile(file: KeyFile): GatewayKeys {
  const signer = localSigner(file.current);
  const publicJwks = [file.current, ...(file.previous ? [file.previous] : [])].map(publicOf);
  return {
    signer,
    backendSigner: signer,
    eventSigner: signer,
    publicJwks,
    accessTokenJwks: publicJwks,
  };
}

async function writeKeyFile(path: string, file: KeyFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(file, null, 2), { mode: 0o600 });
  await rename(tmp, path);
}

/** Loads the key file at `path`, creating it with a fresh key the first time. */
export async function loadOrCreateLocalKeys(path: string): Promise<GatewayKeys> {
  let file: KeyFile;
  try {
    file = JSON.parse(await readFile(path, "utf8")) as KeyFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    file = { current: await newPrivateJwk() };
    await writeKeyFile(path, file);
  }
  return keysFromFile(file);
}

/** Makes a new current key; the old one stays published as the previous key. */
export async function rotateLocalKeys(path: string): Promise<GatewayKeys> {
  const old = JSON.parse(await readFile(path, "utf8")) as KeyFile;
  const file: KeyFile = { current: await newPrivateJwk(), previous: old.current };
  await writeKeyFile(path, file);
  return keysFromFile(file);
}

/** Fresh in-memory keys (tests, benchmarks). */
export async function ephemeralKeys(): Promise<GatewayKeys> {
  return keysFromFile({ current: await newPrivateJwk() });
}
