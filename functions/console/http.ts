/**
 * What every console request shares: security headers (a CSP that loads
 * nothing from elsewhere), the session cookie, and the guard of
 * state-changing requests (same origin, and the session's CSRF token: a
 * SameSite cookie alone does not stop another port of the same host).
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { sameBytes } from "../auth/secrets.ts";
import type { AppEnv } from "../http/env.ts";
import { derivedKey, type Session } from "../store/sessions.ts";
import type { ConsoleApi } from "./api.ts";

export interface ConsoleEnv extends AppEnv {
  Variables: AppEnv["Variables"] & {
    session: Session;
    sessionId: string;
    api: ConsoleApi;
    /** A posted form's string fields, once the cross-site guard passed it. */
    form: Readonly<Record<string, string>>;
  };
}

export type ConsoleContext = Context<ConsoleEnv>;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join("; ");

/** Headers on every console answer: nothing from elsewhere, no framing, no sniffing, no referrer to other origins (`same-origin`: with `no-referrer` Chromium sends `Origin: null` on same-origin forms). */
export function securityHeaders(): MiddlewareHandler {
  return async function consoleSecurityHeaders(c, next) {
    await next();
    c.res.headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    c.res.headers.set("Referrer-Policy", "same-origin");
    c.res.headers.set("X-Frame-Options", "DENY");
    c.res.headers.set("Cross-Origin-Opener-Policy", "same-origin");
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  };
}

/** Cookie names and attributes for a base URL: `__Host-` and Secure over https. */
export class ConsoleCookies {
  readonly secure: boolean;
  readonly session: string;
  readonly login: string;

  constructor(base: string) {
    this.secure = new URL(base).protocol === "https:";
    const prefix = this.secure ? "__Host-" : "";
    this.session = `${prefix}dsg_session`;
    this.login = `${prefix}dsg_login`;
  }

  private options(maxAge: number) {
    return {
      httpOnly: true,
      secure: this.secure,
      sameSite: "Lax" as const,
      path: "/",
      maxAge: Math.max(0, Math.floor(maxAge)),
    };
  }

  read(c: Context, name: string): string | undefined {
    return getCookie(c, name);
  }

  set(c: Context, name: string, value: string, maxAgeSeconds: number): void {
    setCookie(c, name, value, this.options(maxAgeSeconds));
  }

  clear(c: Context, name: string): void {
    deleteCookie(c, name, { path: "/", secure: this.secure, httpOnly: true, sameSite: "Lax" });
  }
}

/** The session's CSRF token: derived from its id, so the store holds nothing to steal. */
export const csrfTokenOf = (sessionId: string): string =>
  derivedKey(sessionId, "csrf").toString("base64url");

/**
 * Why a state-changing request is refused, or null. Another origin (another
 * site, or another port of this host) is refused by its `Origin` and
 * `Sec-Fetch-Site` headers; every request must also carry the session's
 * token, which no other origin can read.
 */
export function crossSiteProblem(
  c: Context,
  ownOrigin: string,
  sessionId: string,
  token: unknown,
): string | null {
  const origin = c.req.header("Origin");
  if (origin !== undefined && origin !== ownOrigin) return "the request came from another origin";
  const site = c.req.header("Sec-Fetch-Site");
  if (site !== undefined && site !== "same-origin" && site !== "none")
    return "the request came from another site";
  if (typeof token !== "string") return "the form carries no console token";
  const expected = Buffer.from(csrfTokenOf(sessionId));
  const given = Buffer.from(token);
  if (!sameBytes(given, expected)) return "the form's console token is not this session's";
  return null;
}

/** A path inside the console to return to after sign-in; anything else is the console's start. */
export function safeReturnPath(value: string | undefined): string {
  if (value === undefined || value.includes("..") || value.includes("//")) return "/console";
  if (!/^\/console(\/[A-Za-z0-9._~\-/]*)?(\?[A-Za-z0-9._~\-=&%:+,]*)?$/.test(value))
    return "/console";
  return value;
}
