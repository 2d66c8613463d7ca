/**
 * What the synthesized template says about each function, read the way AWS
 * reads it: its environment (tables and keys resolved to their local
 * stand-ins), the API routes that reach it, and what its role may do (IAM
 * identity policies with their conditions, and the KMS key policies that
 * name it).
 */

import type { Template } from "aws-cdk-lib/assertions";
import { describeRef, resources } from "../infra/helpers.ts";

type Json = Record<string, unknown>;

/** One permission: an action on a resource (a logical id, or `<table>/index/<name>`). */
export interface Grant {
  readonly action: string;
  readonly resource: string;
  /** `dynamodb:LeadingKeys` patterns the call's partition keys must all match, if conditioned. */
  readonly leadingKeys?: readonly string[];
  /** `s3:prefix` patterns a listing's prefix must match, if conditioned. */
  readonly prefixes?: readonly string[];
  /** Where the grant was read: `identity` (the role's policies) or `key` (a key policy). */
  readonly from: "identity" | "key";
}

const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * The `dynamodb:LeadingKeys` patterns (ForAllValues:StringLike) or the
 * `s3:prefix` patterns (StringLike) of a statement's condition; any other
 * condition is refused, so that a grant this reader cannot evaluate fails
 * the test instead of being read as unconditional.
 */
function conditionOf(condition: unknown): Pick<Grant, "leadingKeys" | "prefixes"> {
  if (condition === undefined) return {};
  const entries = Object.entries(condition as Json);
  const [op, body] = entries[0] ?? [];
  const keys = Object.entries((body ?? {}) as Json);
  const [name, values] = keys[0] ?? [];
  if (entries.length === 1 && keys.length === 1) {
    if (op === "ForAllValues:StringLike" && name === "dynamodb:LeadingKeys")
      return { leadingKeys: asArray(values as string | string[]) };
    if (op === "StringLike" && name === "s3:prefix")
      return { prefixes: asArray(values as string | string[]) };
  }
  throw new Error(`a condition the harness cannot evaluate: ${JSON.stringify(condition)}`);
}

/** Every grant of the role's identity policies and of the key policies that name it. */
export function grantsOf(template: Template, roleId: string): Grant[] {
  const out: Grant[] = [];
  for (const policy of Object.values(resources(template, "AWS::IAM::Policy"))) {
    const roles = asArray(policy.Properties?.Roles as unknown[]).map(describeRef);
    if (!roles.includes(roleId)) continue;
    const doc = policy.Properties?.PolicyDocument as { Statement: Json[] };
    for (const s of doc.Statement) {
      if (s.Effect !== "Allow") continue;
      const condition = conditionOf(s.Condition);
      for (const action of asArray(s.Action as string | string[]))
        for (const resource of asArray(s.Resource as unknown))
          out.push({ action, resource: describeRef(resource), ...condition, from: "identity" });
    }
  }
  for (const [keyId, key] of Object.entries(resources(template, "AWS::KMS::Key"))) {
    const doc = key.Properties?.KeyPolicy as { Statement: Json[] };
    for (const s of doc.Statement) {
      const principal = s.Principal as { AWS?: unknown } | undefined;
      if (s.Effect !== "Allow" || !asArray(principal?.AWS).map(describeRef).includes(roleId))
        continue;
      for (const action of asArray(s.Action as string | string[]))
        out.push({ action, resource: keyId, from: "key" });
    }
  }
  return out;
}

/** The function's environment variables as the template sets them. */
export function environmentOf(template: Template, functionId: string): Record<string, unknown> {
  const fn = resources(template, "AWS::Lambda::Function")[functionId];
  const env = fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
  return { ...env?.Variables };
}

/**
 * Resolves the template's environment: strings as they are, `Ref`/`GetAtt`
 * of a stand-in (a table's local name, a key's local ARN) to the stand-in.
 * Anything else must be overridden, or resolving fails.
 */
export function resolveEnvironment(
  variables: Record<string, unknown>,
  standIns: ReadonlyMap<string, string>,
  overrides: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (name in overrides) continue;
    if (typeof value === "string") {
      out[name] = value;
      continue;
    }
    const ref = describeRef(value);
    const standIn = standIns.get(ref);
    if (standIn === undefined)
      throw new Error(`${name} = ${JSON.stringify(value)}: no local stand-in and no override`);
    out[name] = standIn;
  }
  return { ...out, ...overrides };
}

/** An HTTP API route and the function its integration invokes. */
export interface Route {
  readonly routeKey: string;
  readonly functionId: string;
}

/** The API's routes, each to the logical id of the function it reaches (through an alias, if any). */
export function routesOf(template: Template): Route[] {
  const integrations = resources(template, "AWS::ApiGatewayV2::Integration");
  const aliases = resources(template, "AWS::Lambda::Alias");
  const functionOf = (uri: unknown): string => {
    const ref = describeRef(uri);
    const alias = aliases[ref];
    return alias === undefined ? ref : describeRef(alias.Properties?.FunctionName);
  };
  return Object.values(resources(template, "AWS::ApiGatewayV2::Route")).map((r) => {
    const target = String(
      (r.Properties?.Target as { "Fn::Join": [string, unknown[]] })?.["Fn::Join"]?.[1]
        ?.map(describeRef)
        .join(""),
    );
    const integration = integrations[target.replace(/^integrations\//, "")];
    if (integration === undefined) throw new Error(`route target ${target} not found`);
    return {
      routeKey: String(r.Properties?.RouteKey),
      functionId: functionOf(integration.Properties?.IntegrationUri),
    };
  });
}

/** The route API Gateway would pick for a request (exact paths before greedy ones, then $default). */
export function matchRoute(routes: readonly Route[], method: string, path: string): Route {
  let best: { route: Route; score: number } | undefined;
  for (const route of routes) {
    if (route.routeKey === "$default") continue;
    const [m = "", template = ""] = route.routeKey.split(" ");
    if (m !== "ANY" && m !== method) continue;
    const pattern = template
      .split("/")
      .map((seg) =>
        seg.endsWith("+}")
          ? ".+"
          : seg.startsWith("{")
            ? "[^/]+"
            : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("/");
    if (!new RegExp(`^${pattern}$`).test(path)) continue;
    const score = (template.includes("+}") ? 0 : 100) + template.length + (m === "ANY" ? 0 : 1);
    if (best === undefined || score > best.score) best = { route, score };
  }
  const fallback = routes.find((r) => r.routeKey === "$default");
  const chosen = best?.route ?? fallback;
  if (chosen === undefined) throw new Error(`no route for ${method} ${path} and no $default`);
  return chosen;
}
