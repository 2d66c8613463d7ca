/**
 * The console's only way to read or change anything: the gateway's own
 * admin and metrics routes, called in-process (`app.request`) with the
 * person's access token. So the pages apply exactly the rules, roles,
 * audit entries and problem codes of the API, and duplicate none of them.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";

export interface Problem {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
}

export type Answer<T> =
  | { readonly ok: true; readonly status: number; readonly value: T }
  | { readonly ok: false; readonly status: number; readonly problem: Problem };

/** The person's token no longer verifies (expired, or the provider rotated its keys): sign in again. */
export class SessionEndedError extends Error {
  override readonly name = "SessionEndedError";
}

export interface Page<T> {
  readonly items: T[];
  readonly next: string | null;
}

export class ConsoleApi {
  constructor(
    private readonly app: Hono<AppEnv>,
    private readonly accessToken: string,
    private readonly requestId: string,
  ) {}

  private async call(
    method: string,
    path: string,
    body?: unknown,
    accept = "application/json",
  ): Promise<Response> {
    const res = await this.app.request(path, {
      method,
      headers: {
        Authorization: `Bearer ${this.accessToken}`,
        Accept: accept,
        // The audit entries the call writes carry the console request's id.
        "X-Request-Id": this.requestId,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (res.status === 401) throw new SessionEndedError("the access token no longer verifies");
    return res;
  }

  private async answer<T>(res: Response): Promise<Answer<T>> {
    const text = await res.text();
    if (res.ok) return { ok: true, status: res.status, value: JSON.parse(text) as T };
    let problem: Problem = {
      status: res.status,
      code: "error",
      title: res.statusText,
      detail: text.slice(0, 500),
    };
    try {
      const p = JSON.parse(text) as Partial<Problem>;
      problem = {
        status: res.status,
        code: String(p.code ?? "error"),
        title: String(p.title ?? res.statusText),
        detail: String(p.detail ?? ""),
      };
    } catch {
      // not problem+json: keep the text
    }
    return { ok: false, status: res.status, problem };
  }

  async get<T>(path: string, accept?: string): Promise<Answer<T>> {
    return this.answer<T>(await this.call("GET", path, undefined, accept));
  }

  async post<T>(path: string, body?: unknown): Promise<Answer<T>> {
    return this.answer<T>(await this.call("POST", path, body ?? {}));
  }

  /** A text answer (CSV, JSON-LD) as the API sends it. */
  async text(
    path: string,
    accept: string,
  ): Promise<{ ok: boolean; status: number; body: string; type: string }> {
    const res = await this.call("GET", path, undefined, accept);
    return {
      ok: res.ok,
      status: res.status,
      body: await res.text(),
      type: res.headers.get("Content-Type") ?? "application/octet-stream",
    };
  }
}

/** A query string from defined values. */
export function query(params: Readonly<Record<string, string | number | undefined>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}
