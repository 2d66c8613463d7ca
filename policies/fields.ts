/**
 * Field classification and release: which leaves of a record may leave the
 * gateway under an agreement. Pure, shared by the agreement rules (at creation)
 * and by the payload guard (on every exchange), so both apply the same rule.
 *
 * A leaf at path P is governed by the longest dataset field that is P or an
 * ancestor of P; a leaf with no such field counts as core. It is released when
 *  - its class is `shared` and some granted field is P or an ancestor of P, or
 *  - its class is `personal` and some granted field is P or an ancestor of P
 *    that is at least as specific as the governing personal field
 *    (a broad grant of `driver` never releases `driver.name` classified personal).
 * Core leaves are never released.
 */
import type { Classification } from "./model.ts";

export type Verdict = "release" | "drop" | "pseudonymize";

export interface FieldPlanInput {
  readonly classes: Readonly<Record<string, Classification>>;
  readonly granted: readonly string[];
  readonly pseudonymize?: readonly string[];
}

/** Splits a dot path; field paths are validated to have no empty segments. */
export const segmentsOf = (path: string): string[] => path.split(".");

/** The longest listed ancestor-or-self of `path`, with its class; undefined if none. */
export function governingField(
  classes: Readonly<Record<string, Classification>>,
  path: string,
): { readonly field: string; readonly cls: Classification } | undefined {
  let p = path;
  for (;;) {
    const cls = Object.hasOwn(classes, p) ? classes[p] : undefined;
    if (cls !== undefined) return { field: p, cls };
    const dot = p.lastIndexOf(".");
    if (dot < 0) return undefined;
    p = p.slice(0, dot);
  }
}

/** The class a path counts as: its governing field's class, or `core` if unlisted. */
export function classify(
  classes: Readonly<Record<string, Classification>>,
  path: string,
): Classification {
  return governingField(classes, path)?.cls ?? "core";
}

const isSelfOrAncestor = (ancestor: string, path: string): boolean =>
  path === ancestor || (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 46);

/** What happens to the leaf at `path` under the plan. */
export function verdictFor(plan: FieldPlanInput, path: string): Verdict {
  const gov = governingField(plan.classes, path);
  if (gov === undefined || gov.cls === "core") return "drop";
  let grant: string | undefined;
  for (const g of plan.granted) {
    if (!isSelfOrAncestor(g, path)) continue;
    if (gov.cls === "personal" && !isSelfOrAncestor(gov.field, g)) continue;
    grant = g;
    break;
  }
  if (grant === undefined) return "drop";
  if (gov.cls === "personal" && plan.pseudonymize?.some((p) => isSelfOrAncestor(p, path))) {
    return "pseudonymize";
  }
  return "release";
}

/**
 * Whether any leaf under `path` (a path to an object or array) could be
 * released; lets the guard skip whole subtrees without looking inside.
 */
export function mayReleaseUnder(plan: FieldPlanInput, path: string): boolean {
  return plan.granted.some((g) => isSelfOrAncestor(path, g) || isSelfOrAncestor(g, path));
}
