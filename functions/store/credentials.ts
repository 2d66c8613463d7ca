/**
 * OAuth clients in the `credentials` table: partners (client id = partner id),
 * operators (`admin`) and finance (`metrics:read`). Secrets are kept only as
 * keyed hashes (functions/auth/secrets.ts); partners may also register public keys for RFC 7523
 * client assertions. One namespace: a client id is taken once.
 */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import type { JWK } from "jose";
import { docOf, epochSeconds, type Item, key, N, num, S } from "./codec.ts";
import type { Db } from "./db.ts";

export const CLIENT_ROLES = ["partner", "admin", "metrics:read", "metrics:close"] as const;
export type ClientRole = (typeof CLIENT_ROLES)[number];

export interface ClientRecord {
  readonly id: string;
  readonly role: ClientRole;
  readonly secretHash?: string | undefined;
  /** Public keys for private_key_jwt client authentication. */
  readonly jwks?: readonly JWK[] | undefined;
  /**
   * Raised by every credential rotation; tokens carry the generation they
   * were issued under, and those of an older one are refused.
   */
  readonly generation?: number | undefined;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const clientKey = (id: string) => key(`C#${id}`, "C");
const assertionKey = (client: string, jti: string) => key(`J#${client}`, jti);

export class Credentials {
  constructor(private readonly db: Db) {}

  async get(id: string): Promise<{ value: ClientRecord; rev: number } | undefined> {
    const item = await this.db.get("credentials", clientKey(id), "read the client");
    const value = docOf<ClientRecord>(item);
    return value === undefined ? undefined : { value, rev: num(item, "rev") ?? 0 };
  }

  /** A create when `rev` is null (the id must be free), else an update of that revision. */
  clientOps(client: ClientRecord, rev: number | null): TransactWriteItem[] {
    const attrs: Item = {
      ...clientKey(client.id),
      doc: S(JSON.stringify(client)),
      role: S(client.role),
      rev: N((rev ?? 0) + 1),
    };
    return [
      {
        Put: {
          TableName: this.db.name("credentials"),
          Item: attrs,
          ConditionExpression: rev === null ? "attribute_not_exists(pk)" : "rev = :rev",
          ...(rev === null ? {} : { ExpressionAttributeValues: { ":rev": N(rev) } }),
        },
      },
    ];
  }

  /**
   * Replaces the stored hash of a client read at `rev` by its keyed hash, if
   * nothing wrote the client since: `rev` stays, so a rotation that read the
   * same revision still succeeds (and wins), and one that came first makes
   * this write fail instead of undoing it. False when it did not apply.
   */
  async upgradeHash(client: ClientRecord, rev: number, secretHash: string): Promise<boolean> {
    const result = await this.db.transact(
      [
        {
          Put: {
            TableName: this.db.name("credentials"),
            Item: {
              ...clientKey(client.id),
              doc: S(JSON.stringify({ ...client, secretHash })),
              role: S(client.role),
              rev: N(rev),
            },
            ConditionExpression: "rev = :rev",
            ExpressionAttributeValues: { ":rev": N(rev) },
          },
        },
      ],
      "upgrade the client's secret hash",
    );
    return result.ok;
  }

  /** Asserts a client id is free inside a transaction. */
  absentCheck(id: string): TransactWriteItem {
    return {
      ConditionCheck: {
        TableName: this.db.name("credentials"),
        Key: clientKey(id),
        ConditionExpression: "attribute_not_exists(pk)",
      },
    };
  }

  /**
   * Remembers a client assertion's `jti` until it expires; false if it was
   * seen before (a replay). Keyed on issuer and jti, never on the token text.
   */
  async rememberAssertion(client: string, jti: string, expiresAt: Date): Promise<boolean> {
    const result = await this.db.transact(
      [
        {
          Put: {
            TableName: this.db.name("credentials"),
            Item: { ...assertionKey(client, jti), expiresAt: N(epochSeconds(expiresAt) + 60) },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
      ],
      "remember the client assertion",
    );
    return result.ok;
  }
}
