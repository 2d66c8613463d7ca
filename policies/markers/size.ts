/** How many character positions a pattern unrolls to (the automaton's raw size). */
import type { Node } from "./ast.ts";

export function positionCount(node: Node): number {
  switch (node.kind) {
    case "empty":
    case "assert":
      return 0;
    case "chars":
      return 1;
    case "seq":
      return node.items.reduce((sum, item) => sum + positionCount(item), 0);
    case "alt":
      return node.branches.reduce((sum, branch) => sum + positionCount(branch), 0);
    case "repeat": {
      // min copies, then max - min optional ones, or one looping copy when unbounded.
      const copies = node.max === Infinity ? node.min + 1 : node.max;
      return positionCount(node.body) * copies;
    }
  }
}
