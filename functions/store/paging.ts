/**
 * List paging: `limit` (default 100, at most 1000) and an opaque `cursor`
 * that carries DynamoDB's LastEvaluatedKey.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import * as z from "zod";
import { InvalidRequestError } from "../errors.ts";

export interface Page<T> {
  readonly items: T[];
  readonly next: string | null;
}

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(2048).optional(),
});

export function encodeCursor(key: Record<string, AttributeValue> | undefined): string | null {
  if (key === undefined) return null;
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(key)) {
    if (v.S === undefined) throw new TypeError(`cursor attribute ${k} is not a string`);
    plain[k] = v.S;
  }
  return Buffer.from(JSON.stringify(plain)).toString("base64url");
}

export function decodeCursor(
  cursor: string | undefined,
): Record<string, AttributeValue> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const plain: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof plain !== "object" || plain === null || Array.isArray(plain))
      throw new Error("not an object");
    const key: Record<string, AttributeValue> = {};
    for (const [k, v] of Object.entries(plain)) {
      if (typeof v !== "string" || !/^[a-z0-9]{1,8}$/i.test(k)) throw new Error("bad member");
      key[k] = { S: v };
    }
    return key;
  } catch {
    throw new InvalidRequestError("cursor", "is not a cursor this list returned");
  }
}

/** Every item of a paged list, page after page (1000 at a time). */
export async function allPages<T>(
  list: (limit: number, cursor?: string) => Promise<Page<T>>,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list(1000, cursor);
    out.push(...page.items);
    cursor = page.next ?? undefined;
  } while (cursor !== undefined);
  return out;
}
