/** Shared helpers of the infra tests: one synth per call, template queries. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CfnElement, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import type { FunctionName } from "../../infra/bundling.ts";
import { createGatewayApp, type GatewayApp } from "../../infra/gateway-app.ts";

export interface Synthesized extends GatewayApp {
  readonly template: Template;
  /** The cloud assembly directory (holds the bundled assets). */
  readonly outdir: string;
}

/**
 * Synthesises the real app (same code path as `npm run synth`) into a temp
 * directory. The cdk-nag packs run as validation plugins: a finding fails here.
 *
 * Template-only tests skip the asset bundling (`aws:cdk:bundling-stacks: []`),
 * which is most of a synth's time and does not change the template;
 * bundling.test.ts and nag.test.ts synthesise with it.
 */
export function synth(
  context: Record<string, unknown> = {},
  options: {
    bundle?: boolean;
    cloudFormationValidation?: boolean;
    entries?: Record<FunctionName, string>;
  } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), "gateway-cdk-"));
  const gateway = createGatewayApp({
    context: { ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }), ...context },
    outdir,
    cloudFormationValidation: options.cloudFormationValidation ?? false,
    ...(options.entries ? { entries: options.entries } : {}),
  });
  const assembly = gateway.app.synth();
  return { ...gateway, template: Template.fromStack(gateway.stack), outdir: assembly.directory };
}

export type Resource = {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

export function resources(template: Template, type?: string): Record<string, Resource> {
  const all = template.toJSON().Resources as Record<string, Resource>;
  return Object.fromEntries(
    Object.entries(all).filter(([, r]) => type === undefined || r.Type === type),
  );
}

/** Logical id of a construct's CloudFormation resource (its default child). */
export function logicalId(construct: IConstruct): string {
  const cfn = CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
  if (!cfn || !CfnElement.isCfnElement(cfn))
    throw new Error(`${construct.node.path} has no CFN resource`);
  return Stack.of(cfn).resolve(cfn.logicalId) as string;
}

export const functionId = (s: Synthesized, name: FunctionName): string =>
  logicalId(s.stack.functions[name].function);
export const roleId = (s: Synthesized, name: FunctionName): string =>
  logicalId(s.stack.functions[name].role);

/** A readable name for an IAM resource / principal expression. */
export function describeRef(value: unknown): string {
  if (typeof value === "string") return value;
  const v = value as Record<string, unknown>;
  const getAtt = v["Fn::GetAtt"] as [string, string] | undefined;
  if (getAtt) return getAtt[1] === "Arn" ? getAtt[0] : `${getAtt[0]}.${getAtt[1]}`;
  if (v.Ref) return String(v.Ref);
  const join = v["Fn::Join"] as [string, unknown[]] | undefined;
  if (join) return join[1].map(describeRef).join(join[0]);
  return JSON.stringify(value);
}

const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: { AWS?: unknown; Service?: unknown };
}

/** Every `action on resource` pair the role's identity policies allow. */
export function rolePermissions(template: Template, role: string): Set<string> {
  const out = new Set<string>();
  for (const policy of Object.values(resources(template, "AWS::IAM::Policy"))) {
    const roles = asArray(policy.Properties?.Roles as unknown[]).map(describeRef);
    if (!roles.includes(role)) continue;
    const doc = policy.Properties?.PolicyDocument as { Statement: Statement[] };
    for (const s of doc.Statement) {
      if (s.Effect !== "Allow") continue;
      for (const action of asArray(s.Action)) {
        for (const resource of asArray(s.Resource))
          out.add(`${action} on ${describeRef(resource)}`);
      }
    }
  }
  return out;
}

/** Actions each principal may take according to a KMS key policy. */
export function keyPolicyGrants(template: Template, keyId: string): Map<string, Set<string>> {
  const key = resources(template, "AWS::KMS::Key")[keyId];
  const doc = key?.Properties?.KeyPolicy as { Statement: Statement[] };
  const grants = new Map<string, Set<string>>();
  for (const s of doc.Statement) {
    if (s.Effect !== "Allow") continue;
    const principals = [...asArray(s.Principal?.AWS), ...asArray(s.Principal?.Service)];
    for (const p of principals.map(describeRef)) {
      const set = grants.get(p) ?? new Set<string>();
      for (const a of asArray(s.Action)) set.add(a);
      grants.set(p, set);
    }
  }
  return grants;
}

/** Expected `action on resource` pairs from `{ resource: actions }`. */
export function pairs(spec: Record<string, readonly string[]>): Set<string> {
  const out = new Set<string>();
  for (const [resource, actions] of Object.entries(spec)) {
    for (const a of actions) out.add(`${a} on ${resource}`);
  }
  return out;
}

/** The data-plane (DynamoDB, KMS) subset of a permission set. */
export const dataPlane = (perms: Set<string>): Set<string> =>
  new Set([...perms].filter((p) => p.startsWith("dynamodb:") || p.startsWith("kms:")));

export const sorted = (s: Iterable<string>): string[] => [...s].sort();
