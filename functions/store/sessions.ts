/**
 * People's console sessions and sign-ins under way, as items of the
 * `credentials` table (its `expiresAt` TTL removes them). The browser holds
 * only an opaque random id; the store holds its SHA-256, never the id, and
 * the person's access token sealed (AES-256-GCM) under a key derived from
 * the id, so whoever reads the table can neither use a session nor read a
 * token. A session ends when the token it holds expires, or at sign-out.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { epochSeconds, type Item, key, N, num, S, str } from "./codec.ts";
import type { Db } from "./db.ts";

export interface SessionRecord {
  /** `person:<username>`. */
  readonly actor: string;
  readonly username: string;
  readonly name?: string | undefined;
  readonly roles: readonly string[];
  readonly createdAt: string;
  /** When the session ends: the access token's `exp`. */
  readonly expiresAt: string;
}

export interface Session extends SessionRecord {
  /** The person's access token, unsealed. */
  readonly accessToken: string;
}

/** What a sign-in under way must remember between the redirect and the callback. */
export interface LoginState {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** The console path to return to. */
  readonly returnTo: string;
}

/** How long a sign-in may take at the provider. */
export const LOGIN_TTL_SECONDS = 600;

/** A new opaque id for a cookie: 256 random bits. */
export const newOpaqueId = (): string => randomBytes(32).toString("base64url");

const digest = (id: string): string => createHash("sha256").update(id).digest("base64url");
const sessionKey = (id: string) => key(`S#${digest(id)}`, "S");
const loginKey = (id: string) => key(`L#${digest(id)}`, "L");

/** A key for `purpose` derived from the cookie's id: only the cookie's holder can derive it. */
export function derivedKey(id: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", id, "dsg-console", purpose, 32));
}

function seal(id: string, aad: string, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", derivedKey(id, "seal"), iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
}

function unseal(id: string, aad: string, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, "base64url");
  if (bytes.length < 12 + 16) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", derivedKey(id, "seal"), bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([
      decipher.update(bytes.subarray(12, bytes.length - 16)),
      decipher.final(),
    ]).toString("utf8");
  } catch {
    return undefined;
  }
}

export class Sessions {
  constructor(private readonly db: Db) {}

  /** Stores a new session under a fresh id; the id is returned for the cookie. */
  async create(record: SessionRecord, accessToken: string): Promise<string> {
    const id = newOpaqueId();
    const k = sessionKey(id);
    const result = await this.db.transact(
      [
        {
          Put: {
            TableName: this.db.name("credentials"),
            Item: {
              ...k,
              doc: S(JSON.stringify(record)),
              sealed: S(seal(id, str(k, "pk") ?? "", accessToken)),
              expiresAt: N(epochSeconds(new Date(record.expiresAt))),
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
      ],
      "store the session",
    );
    if (!result.ok) throw new Error("a fresh session id collided");
    return id;
  }

  /** The live session of a cookie's id, or undefined (unknown, ended, expired, tampered). */
  async get(id: string, now: Date): Promise<Session | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const k = sessionKey(id);
    const item = await this.db.get("credentials", k, "read the session");
    if (item === undefined || item.ended !== undefined) return undefined;
    const expiresAt = num(item, "expiresAt");
    if (expiresAt === undefined || expiresAt <= epochSeconds(now)) return undefined;
    const sealed = str(item, "sealed");
    const doc = str(item, "doc");
    if (sealed === undefined || doc === undefined) return undefined;
    const accessToken = unseal(id, str(k, "pk") ?? "", sealed);
    if (accessToken === undefined) return undefined;
    return { ...(JSON.parse(doc) as SessionRecord), accessToken };
  }

  /** Ends a session (sign-out): it is never answered again; the TTL removes it later. */
  async end(id: string, now: Date): Promise<void> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return;
    await this.db.transact(
      [
        {
          Update: {
            TableName: this.db.name("credentials"),
            Key: sessionKey(id),
            UpdateExpression: "SET ended = :now",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":now": S(now.toISOString()) },
          },
        },
      ],
      "end the session",
    );
  }

  /** Remembers a sign-in under way; the returned id goes into a short-lived cookie. */
  async startLogin(login: LoginState, now: Date): Promise<string> {
    const id = newOpaqueId();
    const k = loginKey(id);
    await this.db.transact(
      [
        {
          Put: {
            TableName: this.db.name("credentials"),
            Item: {
              ...k,
              sealed: S(seal(id, str(k, "pk") ?? "", JSON.stringify(login))),
              expiresAt: N(epochSeconds(now) + LOGIN_TTL_SECONDS),
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
      ],
      "remember the sign-in",
    );
    return id;
  }

  /**
   * Takes a sign-in under way, once: a second callback with the same cookie
   * (a replayed authorization response) finds nothing.
   */
  async takeLogin(id: string, now: Date): Promise<LoginState | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const k = loginKey(id);
    const item: Item | undefined = await this.db.get("credentials", k, "read the sign-in");
    const expiresAt = num(item, "expiresAt");
    const sealed = str(item, "sealed");
    if (item === undefined || item.used !== undefined || sealed === undefined) return undefined;
    if (expiresAt === undefined || expiresAt <= epochSeconds(now)) return undefined;
    const taken = await this.db.transact(
      [
        {
          Update: {
            TableName: this.db.name("credentials"),
            Key: k,
            UpdateExpression: "SET used = :now",
            ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(used)",
            ExpressionAttributeValues: { ":now": S(now.toISOString()) },
          },
        },
      ],
      "take the sign-in",
    );
    if (!taken.ok) return undefined;
    const plain = unseal(id, str(k, "pk") ?? "", sealed);
    return plain === undefined ? undefined : (JSON.parse(plain) as LoginState);
  }
}
