/** Rendering a page, and what every route handler reads from its context. */
import type { ConsoleApi } from "./api.ts";
import { type ConsoleContext, csrfTokenOf } from "./http.ts";
import type { Viewer } from "./pages/layout.tsx";

/** A server-rendered page; hono/jsx escapes every value it interpolates. */
export async function render(
  c: ConsoleContext,
  page: { toString(): string | Promise<string> },
  status: 200 | 400 | 401 | 403 | 404 | 409 | 422 | 500 | 503 = 200,
): Promise<Response> {
  return c.html(`<!doctype html>${await page.toString()}`, status);
}

export function viewerOf(c: ConsoleContext): Viewer {
  const s = c.get("session");
  return {
    username: s.username,
    name: s.name,
    roles: s.roles,
    csrf: csrfTokenOf(c.get("sessionId")),
  };
}

export const apiOf = (c: ConsoleContext): ConsoleApi => c.get("api");

/** The posted form's fields (strings only; the guard parsed and checked it). */
export const formOf = (c: ConsoleContext): Readonly<Record<string, string>> => c.get("form");

/** An HTTP status the page can answer with, from an API status. */
export function pageStatus(status: number): 400 | 403 | 404 | 409 | 422 | 503 {
  if (status === 403 || status === 404 || status === 409 || status === 422 || status === 503)
    return status;
  return 400;
}

/** `2026-12-01T10:00` from a datetime-local field, read as UTC; undefined if it is not one. */
export function utcFromLocalField(value: string | undefined): string | undefined {
  if (value === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value))
    return undefined;
  const d = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
