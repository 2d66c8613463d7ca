/**
 * From recorded AWS calls to the IAM permissions they need, and the
 * comparison with what a role is granted: what is called but not granted
 * (AWS would answer AccessDenied), and what is granted but never called.
 *
 * IAM authorises DynamoDB's batch and transaction calls per item:
 * TransactWriteItems needs PutItem / UpdateItem / DeleteItem /
 * ConditionCheckItem for each of its items; BatchGetItem is an action of its
 * own, on every table it reads. Item-level calls also carry the partition
 * key values that `dynamodb:LeadingKeys` conditions test. S3 object calls
 * need their action on `<bucket>/<key>`, as IAM reads object ARNs.
 */

import type { RecordedCall } from "./host.ts";
import type { Grant } from "./template.ts";

type Json = Record<string, unknown>;

/** One permission a call needs. */
export interface Need {
  readonly action: string;
  readonly resource: string;
  /** Partition key values the call touches (item-level DynamoDB actions only). */
  readonly leadingKeys?: readonly string[];
  /** Which call needed it, for messages. */
  readonly call: string;
}

const pkOf = (key: unknown): string | undefined => {
  const pk = (key as Json | undefined)?.pk as { S?: string } | undefined;
  return pk?.S;
};

/** The partition key value a Query's key condition binds (`pk = :x`). */
function queryPartition(input: Json): string | undefined {
  const condition = String(input.KeyConditionExpression ?? "");
  const match = /(?:^|\s|\()#?pk\s*=\s*(:[A-Za-z0-9_]+)/.exec(condition);
  const values = input.ExpressionAttributeValues as Record<string, { S?: string }> | undefined;
  return match?.[1] === undefined ? undefined : values?.[match[1]]?.S;
}

const TRANSACT_ACTIONS: Readonly<Record<string, string>> = {
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  ConditionCheck: "ConditionCheckItem",
};

/** Physical names to logical ids, as the local deployment knows them. */
export interface Resolvers {
  /** A table's physical name to its logical id. */
  readonly table: (name: unknown) => string;
  /** A key id or ARN to the key's logical id. */
  readonly key: (id: unknown) => string;
  /** A bucket's name to its logical id. */
  readonly bucket: (name: unknown) => string;
}

const S3_OBJECT_COMMANDS = new Set(["GetObject", "PutObject", "DeleteObject"]);

/** The permissions one call needs. */
export function needsOf(call: RecordedCall, { table, key, bucket }: Resolvers): Need[] {
  const input = call.input;
  const id = `${call.service}:${call.command}`;
  const item = (action: string, tableName: unknown, pk: string | undefined): Need => ({
    action: `dynamodb:${action}`,
    resource: table(tableName),
    ...(pk === undefined ? {} : { leadingKeys: [pk] }),
    call: id,
  });
  if (call.service === "kms") {
    const action = call.command.replace(/Command$/, "");
    return [{ action: `kms:${action}`, resource: key(input.KeyId), call: id }];
  }
  if (call.service === "s3") {
    const action = call.command.replace(/Command$/, "");
    // Bucket-level calls (listing, creating) would need grants on the bucket itself.
    const resource = S3_OBJECT_COMMANDS.has(action)
      ? `${bucket(input.Bucket)}/${String(input.Key)}`
      : bucket(input.Bucket);
    return [{ action: `s3:${action}`, resource, call: id }];
  }
  if (call.service !== "dynamodb") throw new Error(`an unexpected AWS client: ${call.service}`);
  switch (call.command) {
    case "GetItemCommand":
      return [item("GetItem", input.TableName, pkOf(input.Key))];
    case "PutItemCommand":
      return [item("PutItem", input.TableName, pkOf(input.Item))];
    case "UpdateItemCommand":
      return [item("UpdateItem", input.TableName, pkOf(input.Key))];
    case "DeleteItemCommand":
      return [item("DeleteItem", input.TableName, pkOf(input.Key))];
    case "QueryCommand": {
      const base = table(input.TableName);
      const resource = input.IndexName === undefined ? base : `${base}/index/${input.IndexName}`;
      const pk = input.IndexName === undefined ? queryPartition(input) : undefined;
      return [
        {
          action: "dynamodb:Query",
          resource,
          ...(pk === undefined ? {} : { leadingKeys: [pk] }),
          call: id,
        },
      ];
    }
    case "BatchGetItemCommand":
      return Object.entries((input.RequestItems ?? {}) as Record<string, { Keys?: unknown[] }>).map(
        ([name, request]) => ({
          action: "dynamodb:BatchGetItem",
          resource: table(name),
          leadingKeys: (request.Keys ?? []).map((k) => pkOf(k) ?? ""),
          call: id,
        }),
      );
    case "TransactWriteItemsCommand":
      return ((input.TransactItems ?? []) as Json[]).flatMap((entry) =>
        Object.entries(entry).map(([kind, op]) => {
          const action = TRANSACT_ACTIONS[kind];
          if (action === undefined) throw new Error(`an unknown transaction item: ${kind}`);
          const o = op as Json;
          return item(action, o.TableName, pkOf(o.Key ?? o.Item));
        }),
      );
    case "TransactGetItemsCommand":
      return ((input.TransactItems ?? []) as { Get: Json }[]).map((e) =>
        item("GetItem", e.Get.TableName, pkOf(e.Get.Key)),
      );
    default:
      // A call this map does not know (Scan, BatchWriteItem, ...) is a need no grant matches.
      return [
        {
          action: `dynamodb:${call.command.replace(/Command$/, "")}`,
          resource: table(input.TableName),
          call: id,
        },
      ];
  }
}

/** An IAM pattern: `*` any run of characters, `?` one character, everything else literal. */
const glob = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .split("")
      .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
      .join("")}$`,
  );

/** Whether `grant` allows `need` (action, resource and any LeadingKeys condition). */
export function allows(grant: Grant, need: Need): boolean {
  if (!glob(grant.action).test(need.action) || !glob(grant.resource).test(need.resource))
    return false;
  if (grant.leadingKeys === undefined) return true;
  // ForAllValues over the request's keys: a request with no key values satisfies it
  // vacuously, as in IAM; every key must match one of the patterns.
  const patterns = grant.leadingKeys.map(glob);
  return (need.leadingKeys ?? []).every((k) => patterns.some((p) => p.test(k)));
}

export interface Verdict {
  /** Needed but not granted (per source of grant for KMS: both the role and the key must allow). */
  readonly missing: string[];
  /** Granted but never needed during the scenario. */
  readonly unused: string[];
}

const describeNeed = (n: Need) =>
  `${n.action} on ${n.resource}${n.leadingKeys?.length ? ` (keys ${[...new Set(n.leadingKeys)].join(", ")})` : ""} by ${n.call}`;
const describeGrant = (g: Grant) =>
  `${g.action} on ${g.resource}${g.leadingKeys ? ` if keys ~ ${g.leadingKeys.join("|")}` : ""} (${g.from})`;

/**
 * Compares what the calls needed with what the role is granted. KMS calls
 * need both the role's identity policy and the key policy (the gateway's key
 * policies do not delegate to IAM); DynamoDB calls need the identity policy.
 */
export function compare(needs: readonly Need[], grants: readonly Grant[]): Verdict {
  const missing = new Set<string>();
  const used = new Set<Grant>();
  for (const need of needs) {
    const sources: Grant["from"][] = need.action.startsWith("kms:")
      ? ["identity", "key"]
      : ["identity"];
    for (const from of sources) {
      const matching = grants.filter((g) => g.from === from && allows(g, need));
      if (matching.length === 0) missing.add(`${describeNeed(need)} [${from}]`);
      for (const g of matching) used.add(g);
    }
  }
  const unused = grants.filter((g) => !used.has(g)).map(describeGrant);
  return { missing: [...missing].sort(), unused: [...new Set(unused)].sort() };
}
