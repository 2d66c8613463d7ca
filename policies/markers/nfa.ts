/**
 * Thompson construction: a syntax tree becomes an NFA with epsilon moves.
 * Bounded repetitions are unrolled (`x{2,4}` is `xx(?:x(?:x)?)?`, the shape a
 * backtracking engine's counted loop explores), so the automaton, and the
 * ambiguity analysis run on it, see exactly the choices a backtracker has.
 */
import type { Node, Span } from "./ast.ts";
import type { CharSet } from "./charset.ts";

export type NfaNodeKind = "eps" | "char" | "caret" | "dollar" | "accept";

export interface Nfa {
  readonly kind: readonly NfaNodeKind[];
  /** Successors of each node; a "char" node has exactly one. */
  readonly next: readonly (readonly number[])[];
  /** For "char" nodes: the code units it consumes, and where it came from. */
  readonly set: readonly (CharSet | undefined)[];
  readonly origin: readonly (Span | undefined)[];
  readonly start: number;
  readonly accept: number;
}

interface Fragment {
  readonly entry: number;
  readonly exit: number;
}

export function buildNfa(root: Node): Nfa {
  const b = new Builder();
  const body = b.fragment(root);
  const accept = b.add("accept");
  b.link(body.exit, accept);
  return { kind: b.kind, next: b.next, set: b.set, origin: b.origin, start: body.entry, accept };
}

class Builder {
  readonly kind: NfaNodeKind[] = [];
  readonly next: number[][] = [];
  readonly set: (CharSet | undefined)[] = [];
  readonly origin: (Span | undefined)[] = [];

  add(kind: NfaNodeKind, set?: CharSet, origin?: Span): number {
    this.kind.push(kind);
    this.next.push([]);
    this.set.push(set);
    this.origin.push(origin);
    return this.kind.length - 1;
  }

  link(from: number, to: number): void {
    this.next[from]?.push(to);
  }

  /** A node that consumes nothing, followed by a fresh exit. */
  private step(kind: NfaNodeKind, set?: CharSet, origin?: Span): Fragment {
    const entry = this.add(kind, set, origin);
    const exit = this.add("eps");
    this.link(entry, exit);
    return { entry, exit };
  }

  fragment(node: Node): Fragment {
    switch (node.kind) {
      case "empty": {
        const n = this.add("eps");
        return { entry: n, exit: n };
      }
      case "chars":
        return this.step("char", node.set, node);
      case "assert":
        return this.step(node.at === "start" ? "caret" : "dollar");
      case "seq":
        return this.sequence(node.items.map((item) => () => this.fragment(item)));
      case "alt":
        return this.alternation(node.branches);
      case "repeat":
        return this.repeat(node.body, node.min, node.max);
    }
  }

  private sequence(parts: readonly (() => Fragment)[]): Fragment {
    const entry = this.add("eps");
    let exit = entry;
    for (const part of parts) {
      const f = part();
      this.link(exit, f.entry);
      exit = f.exit;
    }
    return { entry, exit };
  }

  private alternation(branches: readonly Node[]): Fragment {
    const entry = this.add("eps");
    const exit = this.add("eps");
    for (const branch of branches) {
      const f = this.fragment(branch);
      this.link(entry, f.entry);
      this.link(f.exit, exit);
    }
    return { entry, exit };
  }

  private repeat(body: Node, min: number, max: number): Fragment {
    const copies = Array.from({ length: min }, () => () => this.fragment(body));
    const head = this.sequence(copies);
    const exit = this.add("eps");
    if (max === Infinity) {
      const loop = this.add("eps");
      const f = this.fragment(body);
      this.link(head.exit, loop);
      this.link(loop, f.entry);
      this.link(f.exit, loop);
      this.link(loop, exit);
      return { entry: head.entry, exit };
    }
    // Nested optionals: after each copy, either one more copy or leave.
    let cursor = head.exit;
    for (let k = min; k < max; k++) {
      const f = this.fragment(body);
      this.link(cursor, f.entry);
      this.link(cursor, exit);
      cursor = f.exit;
    }
    this.link(cursor, exit);
    return { entry: head.entry, exit };
  }
}
