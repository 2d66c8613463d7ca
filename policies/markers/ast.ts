/**
 * The syntax tree of a supported marker pattern. Groups leave no node of their
 * own (captures do not matter for "does it match"); every node keeps its span
 * in the source so that messages can quote the part that is wrong.
 */
import type { CharSet } from "./charset.ts";

export interface Span {
  /** Offset of the first code unit in the pattern source. */
  readonly start: number;
  /** Offset just past the last code unit. */
  readonly end: number;
}

/** Matches the empty string: `(?:)`, an empty alternative, `x{0}`. */
export interface Empty extends Span {
  readonly kind: "empty";
}

/** One code unit out of a set: a literal, an escape, a class or `.`. */
export interface Chars extends Span {
  readonly kind: "chars";
  readonly set: CharSet;
}

export interface Seq extends Span {
  readonly kind: "seq";
  readonly items: readonly Node[];
}

export interface Alt extends Span {
  readonly kind: "alt";
  readonly branches: readonly Node[];
}

/** `body{min,max}`; `max` is Infinity for `*`, `+` and `{n,}`. Laziness is dropped. */
export interface Repeat extends Span {
  readonly kind: "repeat";
  readonly body: Node;
  readonly min: number;
  readonly max: number;
}

/** `^` (start of input) or `$` (end of input); there is no `m` flag. */
export interface Assert extends Span {
  readonly kind: "assert";
  readonly at: "start" | "end";
}

export type Node = Empty | Chars | Seq | Alt | Repeat | Assert;

/** Whether the node can match the empty string (assertions count as empty). */
export function nullable(node: Node): boolean {
  switch (node.kind) {
    case "empty":
    case "assert":
      return true;
    case "chars":
      return false;
    case "seq":
      return node.items.every(nullable);
    case "alt":
      return node.branches.some(nullable);
    case "repeat":
      return node.min === 0 || nullable(node.body);
  }
}

/** Calls `visit` on every node, children before their parent. */
export function walkPostOrder(node: Node, visit: (n: Node) => void): void {
  if (node.kind === "seq") for (const item of node.items) walkPostOrder(item, visit);
  if (node.kind === "alt") for (const branch of node.branches) walkPostOrder(branch, visit);
  if (node.kind === "repeat") walkPostOrder(node.body, visit);
  visit(node);
}
