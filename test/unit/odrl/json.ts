/** Plain JSON documents for the tests: a deep copy, and reading or writing at a dot path. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The document as another party would receive it: through JSON text. */
export const viaJson = (value: unknown): Json => JSON.parse(JSON.stringify(value));

const step = (node: Json | undefined, key: string): Json | undefined => {
  if (Array.isArray(node)) return node[Number(key)];
  if (node !== null && typeof node === "object") return node[key];
  return undefined;
};

export function getAt(doc: Json, path: string): Json | undefined {
  return path.split(".").reduce<Json | undefined>(step, doc);
}

/** Writes `value` at `path` (the parent must exist); `undefined` deletes the member. */
export function setAt(doc: Json, path: string, value: Json | undefined): Json {
  const keys = path.split(".");
  const last = keys.pop() as string;
  const parent = keys.length === 0 ? doc : getAt(doc, keys.join("."));
  if (Array.isArray(parent)) {
    if (value === undefined) parent.splice(Number(last), 1);
    else parent[Number(last)] = value;
  } else if (parent !== null && typeof parent === "object" && parent !== undefined) {
    if (value === undefined) delete parent[last];
    else parent[last] = value;
  } else throw new Error(`no object at ${keys.join(".")}`);
  return doc;
}
