import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App, Stack, Validations } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { type Synthesized, synth } from "./helpers.ts";

let dev: Synthesized;
let prod: Synthesized;
beforeAll(() => {
  // Both nag packs run as validation plugins: synth throws on any finding.
  // (`npm run synth` also runs CDK's CloudFormation schema validation; its
  // engine takes ~10 s to start, too slow for this suite.)
  dev = synth({ stage: "dev" });
  prod = synth({ stage: "prod" });
});

const acknowledgments = (root: IConstruct) =>
  root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^annotation::/i, ""),
          reason,
        })),
      ),
  );

describe("cdk-nag (AwsSolutions, Serverless)", () => {
  it("the full synth passes every validation plugin", () => {
    const report = JSON.parse(readFileSync(join(dev.outdir, "validation-report.json"), "utf8")) as {
      pluginReports: { summary?: { status?: string } }[];
    };
    for (const r of report.pluginReports) expect(r.summary?.status).not.toBe("failure");
  });

  it.each([
    ["dev", () => dev],
    ["prod", () => prod],
  ])("%s: no unacknowledged finding, error or warning", (_stage, get) => {
    const s = get();
    expect(s.nagPacks.map((p) => p.readPackName).sort()).toEqual(["AwsSolutions", "Serverless"]);
    for (const pack of s.nagPacks) {
      const result = pack.validateScope(s.stack);
      expect(result.violations.map((v) => `${v.ruleName} (${v.severity})`)).toEqual([]);
      expect(result.success).toBe(true);
    }
    const annotations = Annotations.fromStack(s.stack);
    expect(annotations.findError("*", Match.stringLikeRegexp("AwsSolutions-.*"))).toEqual([]);
    expect(annotations.findError("*", Match.stringLikeRegexp("Serverless-.*"))).toEqual([]);
    expect(annotations.findError("*", Match.anyValue())).toEqual([]);
    expect(annotations.findWarning("*", Match.anyValue())).toEqual([]);
  });

  it("acknowledges only the expected rules, each with a precise reason", () => {
    const acks = acknowledgments(dev.stack);
    expect([...new Set(acks.map((a) => a.id))].sort()).toEqual([
      "AwsSolutions-APIG4",
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
      "AwsSolutions-IAM5[Resource::*]",
      "AwsSolutions-IAM5[Resource::<ObjectsBucket.Arn>/replays/*]",
      // Transfer objects, one grant per kind of object (deletes: all of a transfer's).
      "AwsSolutions-IAM5[Resource::<ObjectsBucket.Arn>/transfers/*/body-*]",
      "AwsSolutions-IAM5[Resource::<ObjectsBucket.Arn>/transfers/*/staging-*]",
      "AwsSolutions-IAM5[Resource::<ObjectsBucket.Arn>/transfers/*/upload]",
      "AwsSolutions-IAM5[Resource::<ObjectsBucket.Arn>/transfers/*]",
      "AwsSolutions-L1",
      "AwsSolutions-S1",
      "AwsSolutions-SQS3",
      "Serverless-EventBusDLQ",
      "Serverless-LambdaAsyncFailureDestination",
      "Serverless-LambdaDLQ",
      "Serverless-LambdaLatestVersion",
      "Serverless-SQSRedrivePolicy",
    ]);
    // The front door's two, in prod (where it is): the origin secret, no geo restriction.
    expect(
      [...new Set(acknowledgments(prod.stack).map((a) => a.id))].filter(
        (id) => !acks.some((a) => a.id === id),
      ),
    ).toEqual(["AwsSolutions-SMG4", "AwsSolutions-CFR1"]);
    for (const a of acks) expect(a.reason.length, `${a.id} at ${a.path}`).toBeGreaterThan(100);
    // Wildcards are acknowledged per finding on the function roles only, never wholesale.
    const iam = acks.filter((a) => a.id === "AwsSolutions-IAM5[Resource::*]");
    expect(iam.map((a) => a.path.replace(/^[^/]+\//, "")).sort()).toEqual(
      [
        "admin",
        "catalog",
        "events",
        "exchange",
        "meta",
        "metrics",
        "token",
        "transferWorker",
        "transfers",
      ].map((n) => `${n}Function/Role`),
    );
    // The transfer objects' wildcards on the roles that touch them only.
    const transfers = acks.filter((a) => a.id.includes("/transfers/"));
    expect(new Set(transfers.map((a) => a.path.replace(/^[^/]+\//, "")))).toEqual(
      new Set(["transfersFunction/Role", "eventsFunction/Role", "transferWorkerFunction/Role"]),
    );
    // The failed jobs' queue is the worker's failure destination: acknowledged there only.
    const queues = acks.filter((a) => a.path.includes("TransferJobs"));
    expect(queues.map((a) => a.id).sort()).toEqual([
      "AwsSolutions-SQS3",
      "Serverless-SQSRedrivePolicy",
    ]);
    // The missing authorizer is acknowledged on the API only.
    const apig4 = acks.filter((a) => a.id === "AwsSolutions-APIG4").map((a) => a.path);
    expect(apig4).toEqual([`${dev.stack.stackName}/Api/HttpApi`]);
  });

  it("the packs do report findings (sanity check on a non-compliant stack)", () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, "Bad");
    new Queue(stack, "PlainQueue");
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(["AwsSolutions-SQS3", "AwsSolutions-SQS4"]));
    const serverless = new ServerlessChecks()
      .validateScope(stack)
      .violations.map((v) => v.ruleName);
    expect(serverless).toContain("Serverless-SQSRedrivePolicy");
  });
});
