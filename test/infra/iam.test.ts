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
const BACKEND_SIGNING = "BackendTokenSigningKey";
const EVENT_SIGNING = "EventSigningKey";
const PSEUDONYM = "PseudonymKey";
const CLIENT_SECRET = "ClientSecretKey";
const d = (...actions: string[]) => actions.map((a) => `dynamodb:${a}`);

// What test/lambda/permissions.test.ts proved each function calls, pinned
// here independently of infra/access.ts.
const EXPECTED_DATA_PLANE: Record<FunctionName, Record<string, string[]>> = {
  token: {
    // PutItem: the private_key_jwt replay list (was missing: every such client got 503).
    // BatchGetItem, no GetItem: the client is read with its partner and agreements.
    [CREDENTIALS]: d("BatchGetItem", "PutItem"),
    // UpdateItem: claims of DPoP proofs, in their own partitions (see "partition-scoped writes").
    [METER]: d("UpdateItem"),
    [REGISTRY]: d("BatchGetItem", "Query"),
    [AUDIT]: d("GetItem", "PutItem"),
    [SIGNING]: ["kms:Sign", "kms:GetPublicKey"],
    // The pepper client secrets are checked under, derived once per container.
    [CLIENT_SECRET]: ["kms:GenerateMac"],
  },
  exchange: {
    // PutItem only in attestation partitions (see "partition-scoped writes").
    [REGISTRY]: d("GetItem", "BatchGetItem", "Query", "ConditionCheckItem", "PutItem"),
    // No single-item reads of the meter (transfers are another function's);
    // ConditionCheckItem: closed-month markers (C#) only (see "partition-scoped").
    [METER]: d("BatchGetItem", "PutItem", "UpdateItem", "Query", "ConditionCheckItem"),
    [AUDIT]: d("GetItem", "PutItem"),
    // Verifies access tokens, never signs one; signs its JWTs to backends.
    [SIGNING]: ["kms:GetPublicKey"],
    [BACKEND_SIGNING]: ["kms:Sign", "kms:GetPublicKey"],
    [PSEUDONYM]: ["kms:GenerateMac"],
  },
  transfers: {
    // Who the parties are and how the agreement stands.
    [REGISTRY]: d("BatchGetItem"),
    // Only in transfers' partitions and DPoP proof claims' (see "partition-scoped").
    [METER]: d("PutItem", "GetItem", "BatchGetItem", "Query", "UpdateItem"),
    // Verifies access tokens; signs nothing (the worker calls the backends).
    [SIGNING]: ["kms:GetPublicKey"],
  },
  catalog: {
    // Self-service: the index lists datasets; offers, requests and the
    // agreements approvals make are Puts; their events go to the outbox.
    [REGISTRY]: d("GetItem", "BatchGetItem", "Query", "ConditionCheckItem", "PutItem"),
    [REGISTRY_INDEX]: d("Query"),
    [AUDIT]: d("GetItem", "PutItem"),
    [OUTBOX]: d("PutItem"),
    // UpdateItem: claims of DPoP proofs, in their own partitions.
    [METER]: d("UpdateItem"),
    [SIGNING]: ["kms:GetPublicKey"],
  },
  admin: {
    [REGISTRY]: d("GetItem", "BatchGetItem", "Query", "PutItem", "ConditionCheckItem"),
    [REGISTRY_INDEX]: d("Query"),
    // UpdateItem: the console's sign-out ends a session.
    [CREDENTIALS]: d("GetItem", "PutItem", "UpdateItem"),
    [AUDIT]: d("GetItem", "Query", "PutItem"),
    [OUTBOX]: d("PutItem"),
    [OUTBOX_INDEX]: d("Query"),
    // UpdateItem: claims of DPoP proofs, in their own partitions.
    [METER]: d("Query", "UpdateItem"),
    // No kms:Sign: operators' calls sign nothing.
    [SIGNING]: ["kms:GetPublicKey"],
    // Issues partners' and clients' secrets, hashed under the pepper.
    [CLIENT_SECRET]: ["kms:GenerateMac"],
  },
  metrics: {
    // The finance client's record: its credential generation ends rotated tokens.
    [CREDENTIALS]: d("GetItem"),
    [REGISTRY_INDEX]: d("Query"),
    // UpdateItem: claims of DPoP proofs, in their own partitions; GetItem,
    // PutItem, UpdateItem: closing a period (its markers and kept statement).
    [METER]: d("Query", "UpdateItem", "GetItem", "PutItem"),
    // The close is audited.
    [AUDIT]: d("GetItem", "PutItem"),
    [SIGNING]: ["kms:GetPublicKey"],
  },
  events: {
    // ConditionCheckItem: fan-out past 99 recipients (was missing).
    [OUTBOX]: d("UpdateItem", "PutItem", "ConditionCheckItem"),
    [OUTBOX_INDEX]: d("Query"),
    [REGISTRY]: d("GetItem", "BatchGetItem", "Query"),
    // Anchoring the audit trail (the ANCHOR partition and the chains' heads only: below).
    [AUDIT]: d("Query", "PutItem", "BatchGetItem"),
    // Revoking the transfers of a flow that stopped (their partitions only: below).
    [METER]: d("Query", "GetItem", "BatchGetItem", "PutItem"),
    [EVENT_SIGNING]: ["kms:Sign", "kms:GetPublicKey"],
    // Stream read for the event source mapping.
    "OutboxTable.StreamArn": d("DescribeStream", "GetRecords", "GetShardIterator"),
    "*": d("ListStreams"),
  },
  transferWorker: {
    // Re-checks parties, agreement and trade rules (ConditionCheckItem in its metering).
    [REGISTRY]: d("GetItem", "BatchGetItem", "ConditionCheckItem"),
    // Metering as the exchange does; GetItem only on transfer items (below),
    // ConditionCheckItem only on closed-month markers (C#).
    [METER]: d("PutItem", "UpdateItem", "GetItem", "ConditionCheckItem"),
    [AUDIT]: d("GetItem", "PutItem"),
    // The transfer.ready event, written with the transfer's change.
    [OUTBOX]: d("PutItem"),
    [BACKEND_SIGNING]: ["kms:Sign", "kms:GetPublicKey"],
    [PSEUDONYM]: ["kms:GenerateMac"],
  },
  meta: {
    // /health's read of the trade rules (only that partition: see below).
    [REGISTRY]: d("GetItem"),
    [SIGNING]: ["kms:GetPublicKey"],
    [BACKEND_SIGNING]: ["kms:GetPublicKey"],
    [EVENT_SIGNING]: ["kms:GetPublicKey"],
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
      // Transfers: presigned URLs of bodies and uploads, the upload looked for (a
      // listing), everything of a transfer revoked on read deleted; starting jobs
      // on the worker's alias.
      ...(name === "transfers"
        ? pairs({
            "ObjectsBucket/transfers/*/body-*": ["s3:GetObject"],
            "ObjectsBucket/transfers/*/upload": ["s3:PutObject"],
            "ObjectsBucket/transfers/*": ["s3:DeleteObject"],
            ObjectsBucket: ["s3:ListBucket"],
            [logicalId(dev.stack.functions.transferWorker.alias)]: ["lambda:InvokeFunction"],
          })
        : []),
      // Revoking a flow's transfers deletes their objects.
      ...(name === "events"
        ? pairs({
            "ObjectsBucket/transfers/*": ["s3:DeleteObject"],
            ObjectsBucket: ["s3:ListBucket"],
          })
        : []),
      // Transfer objects, by kind; listing (transfers' prefixes only: see transfers.test.ts);
      // the failed jobs' queue Lambda writes with the worker's role.
      ...(name === "transferWorker"
        ? pairs({
            "ObjectsBucket/transfers/*/staging-*": [
              "s3:PutObject",
              "s3:AbortMultipartUpload",
              "s3:GetObject",
              "s3:DeleteObject",
            ],
            "ObjectsBucket/transfers/*/body-*": ["s3:PutObject", "s3:DeleteObject"],
            "ObjectsBucket/transfers/*/upload": ["s3:GetObject", "s3:DeleteObject"],
            ObjectsBucket: ["s3:ListBucket"],
            [logicalId(dev.stack.transferJobs.failedJobs)]: ["sqs:SendMessage"],
          })
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
    // One managed policy in the stack: CodeDeploy's own, on the role only it assumes.
    for (const [id, role] of Object.entries(resources(dev.template, "AWS::IAM::Role"))) {
      if (id === logicalId(dev.stack.releases.role)) {
        expect(role.Properties?.ManagedPolicyArns).toEqual([
          {
            "Fn::Join": [
              "",
              [
                "arn:",
                { Ref: "AWS::Partition" },
                ":iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited",
              ],
            ],
          },
        ]);
        expect(JSON.stringify(role.Properties?.AssumeRolePolicyDocument)).toContain(
          "codedeploy.amazonaws.com",
        );
      } else expect(role.Properties?.ManagedPolicyArns, id).toBeUndefined();
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

  it("each signing key signs for one purpose only; the others read its public half", () => {
    expect(usage(SIGNING)).toEqual(
      rolesFor({
        token: ["kms:GetPublicKey", "kms:Sign"],
        exchange: ["kms:GetPublicKey"],
        transfers: ["kms:GetPublicKey"],
        catalog: ["kms:GetPublicKey"],
        admin: ["kms:GetPublicKey"],
        metrics: ["kms:GetPublicKey"],
        meta: ["kms:GetPublicKey"],
      }),
    );
    expect(usage(BACKEND_SIGNING)).toEqual(
      // A read transfer calls the provider's backend as a read exchange does.
      rolesFor({
        exchange: ["kms:GetPublicKey", "kms:Sign"],
        transferWorker: ["kms:GetPublicKey", "kms:Sign"],
        meta: ["kms:GetPublicKey"],
      }),
    );
    expect(usage(EVENT_SIGNING)).toEqual(
      rolesFor({ events: ["kms:GetPublicKey", "kms:Sign"], meta: ["kms:GetPublicKey"] }),
    );
  });

  it("only the exchange and transfer worker roles can derive pseudonym keys", () => {
    expect(usage(PSEUDONYM)).toEqual(
      rolesFor({ exchange: ["kms:GenerateMac"], transferWorker: ["kms:GenerateMac"] }),
    );
  });

  it("only the token and admin roles can derive the client-secret pepper", () => {
    expect(usage(CLIENT_SECRET)).toEqual(
      rolesFor({ token: ["kms:GenerateMac"], admin: ["kms:GenerateMac"] }),
    );
  });

  it.each([SIGNING, BACKEND_SIGNING, EVENT_SIGNING, PSEUDONYM, CLIENT_SECRET])(
    "the account administers %s but cannot use it",
    (keyId) => {
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
    },
  );
});

describe("partition-scoped writes", () => {
  const statements = (name: FunctionName) =>
    Object.values(resources(dev.template, "AWS::IAM::Policy"))
      .filter((p) =>
        ((p.Properties?.Roles as unknown[]) ?? []).some(
          (r) => (r as { Ref?: string }).Ref === roleId(dev, name),
        ),
      )
      .flatMap(
        (p) =>
          (p.Properties?.PolicyDocument as { Statement?: Record<string, unknown>[] } | undefined)
            ?.Statement ?? [],
      );

  it("the exchange role writes the registry only in attestation partitions (it cannot un-revoke)", () => {
    const writes = statements("exchange").filter((s) =>
      [s.Action].flat().some((a) => /dynamodb:(PutItem|UpdateItem|DeleteItem)/.test(String(a))),
    );
    const registryWrites = writes.filter((s) => JSON.stringify(s.Resource).includes(REGISTRY));
    expect(registryWrites).toEqual([
      {
        Effect: "Allow",
        Action: "dynamodb:PutItem",
        Resource: { "Fn::GetAtt": [REGISTRY, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["T#*"] } },
      },
    ]);
  });

  it("audit writers write only the chains' partitions; only the events role writes anchors", () => {
    const audit = (name: FunctionName) =>
      statements(name).filter((s) => JSON.stringify(s.Resource).includes(AUDIT));
    for (const name of ["token", "exchange", "catalog", "admin"] as const) {
      expect(
        audit(name).filter((s) => String(s.Action) !== "dynamodb:Query"),
        name,
      ).toEqual([
        {
          Effect: "Allow",
          Action: ["dynamodb:GetItem", "dynamodb:PutItem"],
          Resource: { "Fn::GetAtt": [AUDIT, "Arn"] },
          Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["CHAIN*"] } },
        },
      ]);
    }
    expect(audit("events")).toEqual([
      {
        Effect: "Allow",
        Action: ["dynamodb:PutItem", "dynamodb:Query"],
        Resource: { "Fn::GetAtt": [AUDIT, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["ANCHOR"] } },
      },
      {
        Effect: "Allow",
        Action: "dynamodb:BatchGetItem",
        Resource: { "Fn::GetAtt": [AUDIT, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["CHAIN*"] } },
      },
    ]);
  });

  it("the worker and the transfers role read single meter items only of transfers (and claims)", () => {
    const reads = (name: FunctionName) =>
      statements(name).filter(
        (s) =>
          JSON.stringify(s.Resource).includes(METER) && String(s.Action) === "dynamodb:GetItem",
      );
    const scoped = (keys: string[]) => [
      {
        Effect: "Allow",
        Action: "dynamodb:GetItem",
        Resource: { "Fn::GetAtt": [METER, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": keys } },
      },
    ];
    expect(reads("transferWorker")).toEqual(scoped(["X#*"]));
    expect(reads("transfers")).toEqual(scoped(["X#*", "XI#*"]));
    expect(reads("exchange")).toEqual([]);
  });

  it("the events role touches the meter only in transfers' partitions", () => {
    const meter = statements("events").filter((s) => JSON.stringify(s.Resource).includes(METER));
    expect(meter).toEqual([
      {
        Effect: "Allow",
        Action: "dynamodb:Query",
        Resource: { "Fn::GetAtt": [METER, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["XA#*"] } },
      },
      {
        Effect: "Allow",
        Action: ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"],
        Resource: { "Fn::GetAtt": [METER, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["X#*"] } },
      },
    ]);
  });

  it("the transfers role touches the meter only in transfers' and proof claims' partitions", () => {
    const meter = statements("transfers").filter((s) => JSON.stringify(s.Resource).includes(METER));
    const scoped = (Action: string, keys: string[]) => ({
      Effect: "Allow",
      Action,
      Resource: { "Fn::GetAtt": [METER, "Arn"] },
      Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": keys } },
    });
    const byAction = (x: { Action?: unknown }, y: { Action?: unknown }) =>
      String(x.Action).localeCompare(String(y.Action));
    expect([...meter].sort(byAction)).toEqual(
      [
        scoped("dynamodb:PutItem", ["X#*", "XA#*", "XI#*"]),
        scoped("dynamodb:GetItem", ["X#*", "XI#*"]),
        scoped("dynamodb:BatchGetItem", ["X#*"]),
        scoped("dynamodb:Query", ["XA#*"]),
        scoped("dynamodb:UpdateItem", ["DP#*"]),
      ].sort(byAction),
    );
  });

  it("metrics writes the meter only in DPoP claims', closed markers' and kept statements' partitions", () => {
    const meterWrites = statements("metrics").filter(
      (s) =>
        JSON.stringify(s.Resource).includes(METER) &&
        [s.Action].flat().some((a) => /dynamodb:(PutItem|UpdateItem|DeleteItem)/.test(String(a))),
    );
    expect(meterWrites.length).toBeGreaterThan(0);
    for (const s of meterWrites) {
      const keys = (s.Condition as Record<string, Record<string, string[]>> | undefined)?.[
        "ForAllValues:StringLike"
      ]?.["dynamodb:LeadingKeys"];
      expect(
        keys?.every((k) => ["DP#*", "C#*", "S#*"].includes(k)),
        JSON.stringify(s),
      ).toBe(true);
    }
  });

  it("token, catalog and admin write the meter only in DPoP proof claims' partitions", () => {
    for (const name of ["token", "catalog", "admin"] as const) {
      const meterWrites = statements(name).filter(
        (s) =>
          JSON.stringify(s.Resource).includes(METER) &&
          [s.Action].flat().some((a) => /dynamodb:(PutItem|UpdateItem|DeleteItem)/.test(String(a))),
      );
      expect(meterWrites, name).toEqual([
        {
          Effect: "Allow",
          Action: "dynamodb:UpdateItem",
          Resource: { "Fn::GetAtt": [METER, "Arn"] },
          Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["DP#*"] } },
        },
      ]);
    }
  });

  it("the meta role reads the trade rules item's partition and nothing else", () => {
    const dynamo = statements("meta").filter((s) => String(s.Action).startsWith("dynamodb:"));
    expect(dynamo).toEqual([
      {
        Effect: "Allow",
        Action: "dynamodb:GetItem",
        Resource: { "Fn::GetAtt": [REGISTRY, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["TRADE"] } },
      },
    ]);
  });
});
