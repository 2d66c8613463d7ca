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
 * need their action on `<bucket>/<key>`, as IAM reads object ARNs; the
 * multipart calls are authorised as s3:PutObject, HeadObject as s3:GetObject,
 * a copy as s3:GetObject on its source and s3:PutObject on its target, a
 * multi-object delete as s3:DeleteObject on each key. An invocation needs
 * lambda:InvokeFunction on the function (or alias) it names.
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
  /** The prefix a listing asks for (s3:ListBucket's `s3:prefix`). */
  readonly prefix?: string;
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
  /** A function's (or alias's) name or ARN to its logical id. */
  readonly function: (name: unknown) => string;
}

/** S3 object-level commands and the IAM action each needs on its object. */
const S3_OBJECT_ACTIONS: Readonly<Record<string, string>> = {
  GetObject: "s3:GetObject",
  HeadObject: "s3:GetObject",
  PutObject: "s3:PutObject",
  CreateMultipartUpload: "s3:PutObject",
  UploadPart: "s3:PutObject",
  CompleteMultipartUpload: "s3:PutObject",
  AbortMultipartUpload: "s3:AbortMultipartUpload",
  DeleteObject: "s3:DeleteObject",
};

function s3Needs(call: RecordedCall, bucket: Resolvers["bucket"]): Need[] {
  const input = call.input;
  const command = call.command.replace(/Command$/, "");
  const id = `s3:${call.command}`;
  const object = (b: unknown, k: unknown) => `${bucket(b)}/${String(k)}`;
  const action = S3_OBJECT_ACTIONS[command];
  if (action !== undefined)
    return [{ action, resource: object(input.Bucket, input.Key), call: id }];
  if (command === "CopyObject" || command === "UploadPartCopy") {
    const source = decodeURIComponent(String(input.CopySource));
    const slash = source.indexOf("/");
    return [
      {
        action: "s3:GetObject",
        resource: object(source.slice(0, slash), source.slice(slash + 1)),
        call: id,
      },
      { action: "s3:PutObject", resource: object(input.Bucket, input.Key), call: id },
    ];
  }
  if (command === "DeleteObjects") {
    const keys = (
      (input.Delete as { Objects?: { Key?: string }[] } | undefined)?.Objects ?? []
    ).map((o) => o.Key);
    return keys.map((k) => ({
      action: "s3:DeleteObject",
      resource: object(input.Bucket, k),
      call: id,
    }));
  }
  if (command === "ListObjectsV2" || command === "ListObjects")
    return [
      {
        action: "s3:ListBucket",
        resource: bucket(input.Bucket),
        ...(input.Prefix === undefined ? {} : { prefix: String(input.Prefix) }),
        call: id,
      },
    ];
  // Other bucket-level calls (creating, ...) need grants on the bucket itself.
  return [{ action: `s3:${command}`, resource: bucket(input.Bucket), call: id }];
}

/** The permissions one call needs. */
export function needsOf(
  call: RecordedCall,
  { table, key, bucket, function: fn }: Resolvers,
): Need[] {
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
  if (call.service === "s3") return s3Needs(call, bucket);
  if (call.service === "lambda") {
    const action = call.command === "InvokeCommand" ? "InvokeFunction" : call.command;
    return [
      {
        action: `lambda:${action.replace(/Command$/, "")}`,
        resource: fn(input.FunctionName),
        call: id,
      },
    ];
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
  // StringLike on a key the request does not carry matches nothing: a listing without a prefix is refused.
  if (grant.prefixes !== undefined)
    return need.prefix !== undefined && grant.prefixes.some((p) => glob(p).test(need.prefix ?? ""));
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
  `${n.action} on ${n.resource}${n.leadingKeys?.length ? ` (keys ${[...new Set(n.leadingKeys)].join(", ")})` : ""}${n.prefix === undefined ? "" : ` (prefix ${n.prefix})`} by ${n.call}`;
const describeGrant = (g: Grant) =>
  `${g.action} on ${g.resource}${g.leadingKeys ? ` if keys ~ ${g.leadingKeys.join("|")}` : ""}${g.prefixes ? ` if prefix ~ ${g.prefixes.join("|")}` : ""} (${g.from})`;

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
