/**
 * The guard plan: the dataset's classification and the agreement's grants
 * compiled once into a trie of path segments, each node carrying the verdict of
 * `verdictFor` for a leaf at that node and for leaves under keys the plan does
 * not name. Scanning a payload then costs one table probe per key.
 */

import { type FieldPlanInput, segmentsOf, type Verdict, verdictFor } from "../fields.ts";
import type { MarkerMatcher } from "../markers/index.ts";
import type { Classification } from "../model.ts";
import { Pseudonymizer } from "./pseudonym.ts";
import { ScanPool } from "./scan.ts";

export const DROP = 0;
export const RELEASE = 1;
export const PSEUDONYMIZE = 2;
export type VerdictCode = typeof DROP | typeof RELEASE | typeof PSEUDONYMIZE;

/**
 * Deepest nesting ever accepted, whatever the caller asks. The scanners recurse
 * once per level after checking the depth; at this ceiling they need about a
 * tenth of Node's default stack, however deep the caller already is.
 */
export const MAX_DEPTH_CEILING = 256;
const DEFAULT_MAX_DEPTH = 64;

/**
 * A segment no field path can hold (paths refuse control characters): a path
 * through it names a key the plan does not list, so its verdict is the verdict
 * of every unlisted key at that place.
 */
const UNLISTED = "\u0000";

export interface PlanNode {
  /** Dot path for reports; a key the plan does not name shows as `*` (it may be data). */
  readonly path: string;
  /** The key this node stands for (its last segment). */
  readonly segment: string;
  /** The segment as canonical JSON key text. */
  readonly keyJson: string;
  /** Dense index of the node in its plan: where a scan keeps its stamp and key order (ScanState). */
  readonly id: number;
  /** The segment is its own JSON text between quotes: a key token can be compared to it char by char. */
  readonly plain: boolean;
  /** `keyHash` of the segment, and the next kid in the same bucket of the parent's table. */
  readonly hash: number;
  bucketNext: PlanNode | null;
  /** A marker matching the segment itself (released keys are checked too), or -1. */
  keyMarker: number;
  /** Whether this node stands for keys the plan does not name. */
  readonly unlisted: boolean;
  children: Map<string, PlanNode> | null;
  /** The children by `keyHash` (a power-of-two table, `mask` = size - 1): no string is built to look a key up. */
  table: (PlanNode | null)[] | null;
  mask: number;
  unknown: PlanNode;
  /** Verdict for a scalar at this node. */
  leaf: VerdictCode;
  /** Something under an object here may leave. */
  liveObject: boolean;
  /** Something under an array here may leave (its scalar elements are leaves here). */
  liveArray: boolean;
}

export interface GuardPlanInput {
  readonly classes: Readonly<Record<string, Classification>>;
  readonly granted: readonly string[];
  readonly pseudonymize: readonly string[];
  readonly recordsAt: string;
  readonly markers: MarkerMatcher | null;
  readonly onMarker: "block" | "redact";
  readonly pseudonymKey: Uint8Array;
  readonly maxDepth?: number;
}

/**
 * A compiled plan; callers only pass it back to the guard. It never changes
 * after compilation: what a scan updates (stamps, the last key order, the key
 * stack) lives in the scan's own state, so one plan serves any number of
 * scans, in turn or interleaved.
 */
export interface GuardPlan {
  readonly root: PlanNode;
  /** Segments of `recordsAt`; empty when the body itself holds the records. */
  readonly recordsAt: readonly string[];
  /** The envelope rebuilt around the records: `{"a":{"b":` and `}}` for `a.b`. */
  readonly envelopeOpen: string;
  readonly envelopeClose: string;
  readonly markers: MarkerMatcher | null;
  readonly block: boolean;
  readonly maxDepth: number;
  readonly pseudonyms: Pseudonymizer;
  /** The release rule itself, for callers and tests that need the reference. */
  readonly fields: FieldPlanInput;
  /** Idle scan states sized for this plan's nodes. */
  readonly scans: ScanPool;
}

const codeOf = (v: Verdict): VerdictCode =>
  v === "release" ? RELEASE : v === "pseudonymize" ? PSEUDONYMIZE : DROP;

const join = (parent: string, seg: string): string => (parent === "" ? seg : `${parent}.${seg}`);

const markerIn = (markers: MarkerMatcher | null, value: string): number =>
  markers === null ? -1 : markers.firstMatch(value);

/** The hash the scanner computes while reading a key token (over its decoded chars). */
export function keyHash(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return h;
}

/** Bucket of a key hash in a table of `mask + 1` slots. */
export const bucketOf = (hash: number, mask: number): number => (hash ^ (hash >>> 11)) & mask;

function hashKids(node: PlanNode, kids: readonly PlanNode[]): void {
  let size = 8;
  while (size < kids.length * 4) size *= 2;
  const table: (PlanNode | null)[] = new Array(size).fill(null);
  for (const kid of kids) {
    const b = bucketOf(kid.hash, size - 1);
    kid.bucketNext = table[b] ?? null;
    table[b] = kid;
  }
  node.table = table;
  node.mask = size - 1;
}

/** Hands out node ids while one plan compiles. */
interface Ids {
  next: number;
}

function newNode(ids: Ids, path: string, seg: string, unlisted: boolean): PlanNode {
  const keyJson = JSON.stringify(seg);
  const node = {
    id: ids.next++,
    path,
    segment: seg,
    keyJson,
    plain: keyJson === `"${seg}"` && !/[\ud800-\udfff]/.test(seg),
    hash: keyHash(seg),
    bucketNext: null,
    keyMarker: -1,
    unlisted,
    children: null,
    table: null,
    mask: 0,
    leaf: DROP,
    liveObject: false,
    liveArray: false,
  } as Omit<PlanNode, "unknown"> as PlanNode;
  node.unknown = node;
  return node;
}

/** Builds the trie of every prefix of every classified, granted or pseudonymized path. */
function buildTrie(ids: Ids, paths: Iterable<string>): PlanNode {
  const root = newNode(ids, "", "", false);
  for (const path of paths) {
    let node = root;
    for (const seg of segmentsOf(path)) {
      node.children ??= new Map();
      let child = node.children.get(seg);
      if (child === undefined) {
        child = newNode(ids, join(node.path, seg), seg, false);
        node.children.set(seg, child);
      }
      node = child;
    }
  }
  return root;
}

/** Fills verdicts bottom-up from `verdictFor`, so the guard applies exactly the shared rule. */
function settle(
  ids: Ids,
  node: PlanNode,
  fields: FieldPlanInput,
  markers: MarkerMatcher | null,
): void {
  const real = node.path === "" ? UNLISTED : `${node.path}.${UNLISTED}`;
  const other = codeOf(verdictFor(fields, real));
  const unknown = newNode(ids, join(node.path, "*"), "", true);
  unknown.leaf = other;
  unknown.liveObject = unknown.liveArray = other !== DROP;
  node.unknown = unknown;
  node.leaf = node.path === "" ? DROP : codeOf(verdictFor(fields, node.path));
  let liveObject = other !== DROP;
  for (const [seg, child] of node.children ?? []) {
    settle(ids, child, fields, markers);
    child.keyMarker = markerIn(markers, seg);
    liveObject ||= child.liveArray;
  }
  if (node.children !== null) hashKids(node, [...node.children.values()]);
  node.liveObject = liveObject;
  node.liveArray = liveObject || node.leaf !== DROP;
}

export function compileGuardPlan(input: GuardPlanInput): GuardPlan {
  const fields: FieldPlanInput = {
    classes: input.classes,
    granted: input.granted,
    pseudonymize: input.pseudonymize,
  };
  const ids: Ids = { next: 0 };
  const paths = [...Object.keys(input.classes), ...input.granted, ...input.pseudonymize];
  const root = buildTrie(ids, paths);
  settle(ids, root, fields, input.markers);
  const depth = Math.floor(input.maxDepth ?? DEFAULT_MAX_DEPTH);
  const recordsAt = input.recordsAt === "" ? [] : segmentsOf(input.recordsAt);
  return {
    root,
    recordsAt,
    envelopeOpen: recordsAt.map((s) => `{${JSON.stringify(s)}:`).join(""),
    envelopeClose: "}".repeat(recordsAt.length),
    markers: input.markers !== null && input.markers.size > 0 ? input.markers : null,
    block: input.onMarker === "block",
    maxDepth: Math.min(Math.max(depth, 1), MAX_DEPTH_CEILING),
    pseudonyms: new Pseudonymizer(input.pseudonymKey),
    fields,
    scans: new ScanPool(ids.next),
  };
}
