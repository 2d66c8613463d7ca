/**
 * The audit trail's shape: chains of hash-linked entries, each with a head
 * item naming its last entry, and a chain of anchors that each commit to
 * every chain's head at one moment.
 *
 * Layout in the `audit` table:
 * - entries of chain `c`: pk `CHAIN#<c>` (two digits), sk `E#<seq>`;
 *   the chain's head: pk `CHAIN#<c>`, sk `HEAD` (`seq`, `hash`);
 * - the single chain written before the trail was sharded (and by the
 *   `single` layout): pk `CHAIN`, the same sk; it is read, listed and
 *   verified like any other chain;
 * - anchors: pk `ANCHOR`, sk `A#<seq>`, `doc` = `{ seq, at, heads, prevHash, hash }`.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical.ts";
import { type Item, str } from "./codec.ts";

export const GENESIS_HASH = "0".repeat(64);
/** The partition of the one chain of the unsharded trail. */
export const LEGACY_CHAIN = "CHAIN";
export const ANCHOR_PARTITION = "ANCHOR";
export const HEAD_SK = "HEAD";

export const chainPk = (n: number): string => `CHAIN#${String(n).padStart(2, "0")}`;
export const entrySk = (seq: number): string => `E#${String(seq).padStart(12, "0")}`;
export const anchorSk = (seq: number): string => `A#${String(seq).padStart(12, "0")}`;

/** An entry's id: its chain and position (`03-000000000012`; legacy entries have no prefix). */
export function entryId(chain: string, seq: number): string {
  const position = String(seq).padStart(12, "0");
  return chain === LEGACY_CHAIN ? position : `${chain.slice("CHAIN#".length)}-${position}`;
}

export const anchorId = (seq: number): string => `anchor-${String(seq).padStart(12, "0")}`;

export interface AuditEntry {
  readonly id: string;
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly reason: string | null;
  readonly requestId: string | null;
  readonly partners: readonly string[];
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  readonly prevHash: string;
  readonly hash: string;
}

export interface Head {
  readonly seq: number;
  readonly hash: string;
}

/** A digest of the whole trail at one moment: every chain's head, chained to the anchor before. */
export interface Anchor {
  readonly seq: number;
  readonly at: string;
  readonly heads: Readonly<Record<string, Head>>;
  readonly prevHash: string;
  readonly hash: string;
}

const digest = (prevHash: string, body: unknown): string =>
  createHash("sha256").update(prevHash).update(canonicalJson(body)).digest("hex");

export function entryHash(entry: Omit<AuditEntry, "hash">): string {
  return digest(entry.prevHash, entry);
}

export function anchorHash(anchor: Omit<Anchor, "hash">): string {
  return digest(anchor.prevHash, anchor);
}

const isString = (v: unknown): v is string => typeof v === "string";
const isNullableString = (v: unknown) => v === null || typeof v === "string";
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function parseJson(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The stored doc as an entry, if it has an entry's shape. */
export function parseEntry(raw: string | undefined): AuditEntry | undefined {
  const e = parseJson(raw);
  if (e === undefined) return undefined;
  const ok =
    isString(e.id) &&
    typeof e.seq === "number" &&
    isString(e.at) &&
    isString(e.actor) &&
    isString(e.action) &&
    isString(e.target) &&
    isNullableString(e.reason) &&
    isNullableString(e.requestId) &&
    Array.isArray(e.partners) &&
    isString(e.prevHash) &&
    isString(e.hash);
  return ok ? (e as unknown as AuditEntry) : undefined;
}

export function parseAnchor(raw: string | undefined): Anchor | undefined {
  const a = parseJson(raw);
  if (a === undefined) return undefined;
  const heads = a.heads;
  const ok =
    typeof a.seq === "number" &&
    isString(a.at) &&
    isObject(heads) &&
    Object.values(heads).every(
      (h) => isObject(h) && typeof h.seq === "number" && isString(h.hash),
    ) &&
    isString(a.prevHash) &&
    isString(a.hash);
  return ok ? (a as unknown as Anchor) : undefined;
}

export type Link =
  | { readonly ok: true; readonly hash: string }
  | { readonly ok: false; readonly broken: string };

/**
 * Whether the item at this position continues its chain: it sits where the
 * chain's next entry must sit, its doc is an entry naming that position and
 * the hash before it, its stored `at` is the doc's, and its hash is the hash
 * of its content. A failure names the entry by its position.
 */
export function checkLink(item: Item, chain: string, prevHash: string, expectedSeq: number): Link {
  const id = entryId(chain, expectedSeq);
  if (str(item, "sk") !== entrySk(expectedSeq)) return { ok: false, broken: id };
  const entry = parseEntry(str(item, "doc"));
  if (entry === undefined) return { ok: false, broken: id };
  if (entry.seq !== expectedSeq || entry.id !== id) return { ok: false, broken: id };
  if (entry.prevHash !== prevHash || str(item, "at") !== entry.at) return { ok: false, broken: id };
  const { hash, ...body } = entry;
  return entryHash(body) === hash ? { ok: true, hash } : { ok: false, broken: id };
}

/** The same for an anchor: its position, its link to the anchor before, its own hash. */
export function checkAnchor(item: Item, prevHash: string, expectedSeq: number): Link {
  const id = anchorId(expectedSeq);
  if (str(item, "sk") !== anchorSk(expectedSeq)) return { ok: false, broken: id };
  const anchor = parseAnchor(str(item, "doc"));
  if (anchor === undefined || anchor.seq !== expectedSeq || anchor.prevHash !== prevHash)
    return { ok: false, broken: id };
  const { hash, ...body } = anchor;
  return anchorHash(body) === hash ? { ok: true, hash } : { ok: false, broken: id };
}
