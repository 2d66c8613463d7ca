import { beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES, type FunctionName } from "../../infra/bundling.ts";
import {
  dataPlane,
  keyPolicyGrants,
  logicalId,
  pairs,
  resources,
  roleId,
  rolePermissions,
  type Synthesized,
  sorted,
  synth,
} from "./helpers.ts";

// Written from the brief, independently of infra/access.ts.
const REGISTRY = "RegistryTable";
const REGISTRY_INDEX = "RegistryTable/index/byCollection";
const CREDENTIALS = "CredentialsTable";
const METER = "MeterTable";
const AUDIT = "AuditTable";
const OUTBOX = "OutboxTable";
const OUTBOX_INDEX = "OutboxTable/index/byCollection";
const SIGNING = "TokenSigningKey";
const PSEUDONYM = "PseudonymKey";
const d = (...actions: string[]) => actions.map((a) => `dynamodb:${a}`);

const EXPECTED_DATA_PLANE: Record<FunctionName, Record<string, string[]>> = {
  token: {
    [CREDENTIALS]: d("GetItem"),
    [REGISTRY]: d("GetItem", "BatchGetItem", "Query"),
    [AUDIT]: d("GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"),
    [SIGNING]: ["kms:Sign", "kms:GetPublicKey"],
  },
  exchange: {
    // The index: the catalog lists datasets (partner self-service).
    [REGISTRY]: d("GetItem", "BatchGetItem", "Query", "ConditionCheckItem", "PutItem"),
    [REGISTRY_INDEX]: d("Query"),
    [METER]: d("GetItem", "BatchGetItem", "PutItem", "UpdateItem", "ConditionCheckItem", "Query"),
    [AUDIT]: d("GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"),
    [OUTBOX]: d("PutItem"),
    [SIGNING]: ["kms:Sign", "kms:GetPublicKey"],
    [PSEUDONYM]: ["kms:GenerateMac"],
  },
  admin: {
    [REGISTRY]: d(
      "GetItem",
      "BatchGetItem",
      "Query",
      "PutItem",
      "UpdateItem",
      "ConditionCheckItem",
    ),
    [REGISTRY_INDEX]: d("Query"),
    [CREDENTIALS]: d("GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"),
    [AUDIT]: d("GetItem", "Query", "PutItem", "UpdateItem", "ConditionCheckItem"),
    [OUTBOX]: d("Query", "GetItem", "PutItem", "UpdateItem"),
    [OUTBOX_INDEX]: d("Query"),
    [METER]: d("Query", "GetItem", "BatchGetItem"),
    [SIGNING]: ["kms:GetPublicKey", "kms:Sign"],
  },
  metrics: {
    // The finance client's record: its credential generation ends rotated tokens.
    [CREDENTIALS]: d("GetItem"),
    [REGISTRY_INDEX]: d("Query"),
    [REGISTRY]: d("GetItem", "BatchGetItem"),
    [METER]: d("Query", "GetItem", "BatchGetItem"),
    [SIGNING]: ["kms:GetPublicKey"],
  },
  events: {
    // The brief's list plus what functions/events/deliver.ts needs: the outbox
    // index (new events, due deliveries), the parties' agreements (registry
    // Query + BatchGetItem) and the signing key's public key (the `kid`).
    [OUTBOX]: d("GetItem", "UpdateItem", "PutItem"),
    [OUTBOX_INDEX]: d("Query"),
    [REGISTRY]: d("GetItem", "BatchGetItem", "Query"),
    [SIGNING]: ["kms:Sign", "kms:GetPublicKey"],
    // Stream read for the event source mapping.
    "OutboxTable.StreamArn": d("DescribeStream", "GetRecords", "GetShardIterator"),
    "*": d("ListStreams"),
  },
};

let dev: Synthesized;
beforeAll(() => {
  dev = synth({ stage: "dev" });
});

describe("IAM: least privilege per function", () => {
  it.each(FUNCTION_NAMES)(
    "%s role has exactly the DynamoDB and KMS permissions of the brief",
    (name) => {
      const perms = rolePermissions(dev.template, roleId(dev, name));
      expect(sorted(dataPlane(perms))).toEqual(sorted(pairs(EXPECTED_DATA_PLANE[name])));
    },
  );

  it.each(FUNCTION_NAMES)("%s role has nothing else but its own logs and X-Ray", (name) => {
    const t = dev.template;
    const perms = rolePermissions(t, roleId(dev, name));
    const logs = logicalId(dev.stack.functions[name].logGroup);
    const expected = new Set([
      ...pairs(EXPECTED_DATA_PLANE[name]),
      ...pairs({ [logs]: ["logs:CreateLogStream", "logs:PutLogEvents"] }),
      ...pairs({ "*": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"] }),
      // Kept replay bodies: the exchange's own prefix of the objects bucket, nothing else.
      ...(name === "exchange"
        ? pairs({ "ObjectsBucket/replays/*": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"] })
        : []),
    ]);
    if (name === "events") {
      const queue = logicalId(
        dev.stack.node.findChild("OutboxEvents").node.findChild("FailedBatches"),
      );
      for (const p of pairs({
        [queue]: ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
      }))
        expected.add(p);
    }
    expect(sorted(perms)).toEqual(sorted(expected));
  });

  it("the exchange role cannot touch the credentials table at all", () => {
    const perms = rolePermissions(dev.template, roleId(dev, "exchange"));
    expect([...perms].filter((p) => p.includes(CREDENTIALS))).toEqual([]);
  });

  it("no role has a service wildcard, Scan, DeleteItem or a managed policy", () => {
    for (const name of FUNCTION_NAMES) {
      const perms = [...rolePermissions(dev.template, roleId(dev, name))];
      expect(
        perms.filter((p) => /^(\*|[a-z0-9-]+:\*) on /.test(p)),
        name,
      ).toEqual([]);
      expect(
        perms.filter((p) => /dynamodb:(Scan|DeleteItem|BatchWriteItem|PartiQL)/.test(p)),
      ).toEqual([]);
      expect(perms.filter((p) => p.startsWith("dynamodb:") && p.endsWith(" on *"))).toEqual([
        ...(name === "events" ? ["dynamodb:ListStreams on *"] : []),
      ]);
    }
    for (const role of Object.values(resources(dev.template, "AWS::IAM::Role"))) {
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe("KMS key policies", () => {
  const rolesFor = (spec: Partial<Record<FunctionName, string[]>>) =>
    Object.fromEntries(
      Object.entries(spec).map(([fn, actions]) => [
        roleId(dev, fn as FunctionName),
        sorted(actions),
      ]),
    );
  const usage = (keyId: string) =>
    Object.fromEntries(
      [...keyPolicyGrants(dev.template, keyId)]
        .filter(([principal]) => !principal.endsWith(":root"))
        .map(([principal, actions]) => [principal, sorted(actions)]),
    );

  it("only the named function roles can use the signing key", () => {
    expect(usage(SIGNING)).toEqual(
      rolesFor({
        token: ["kms:GetPublicKey", "kms:Sign"],
        exchange: ["kms:GetPublicKey", "kms:Sign"],
        admin: ["kms:GetPublicKey", "kms:Sign"],
        metrics: ["kms:GetPublicKey"],
        events: ["kms:GetPublicKey", "kms:Sign"],
      }),
    );
  });

  it("only the exchange role can derive pseudonym keys", () => {
    expect(usage(PSEUDONYM)).toEqual(rolesFor({ exchange: ["kms:GenerateMac"] }));
  });

  it.each([SIGNING, PSEUDONYM])("the account administers %s but cannot use it", (keyId) => {
    const root = [...keyPolicyGrants(dev.template, keyId)].find(([p]) => p.endsWith(":root"));
    expect(root).toBeDefined();
    const actions = [...(root?.[1] ?? [])];
    expect(actions).toContain("kms:PutKeyPolicy");
    expect(actions).toContain("kms:ScheduleKeyDeletion");
    for (const forbidden of [
      "kms:*",
      "kms:Sign",
      "kms:GenerateMac",
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:Encrypt",
    ]) {
      expect(actions).not.toContain(forbidden);
    }
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
  });
});
