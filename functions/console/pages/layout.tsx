/**
 * The console's page frame and the small pieces every page uses. Server
 * rendered (hono/jsx, which escapes every interpolated value); no inline
 * script or style, so the CSP can stay `default-src 'self'`.
 */
import type { Child } from "hono/jsx";
import type { Problem } from "../api.ts";

export type Section = "partners" | "agreements" | "flows" | "audit" | "finance";

export interface Viewer {
  readonly username: string;
  readonly name?: string | undefined;
  readonly roles: readonly string[];
  readonly csrf: string;
}

const SECTIONS: readonly { id: Section; label: string; href: string; role: string }[] = [
  { id: "partners", label: "Partners", href: "/console/partners", role: "admin" },
  { id: "agreements", label: "Agreements", href: "/console/agreements", role: "admin" },
  { id: "flows", label: "Flow map", href: "/console/flows", role: "admin" },
  { id: "audit", label: "Audit", href: "/console/audit", role: "admin" },
  { id: "finance", label: "Finance", href: "/console/finance", role: "metrics:read" },
];

/** The sections a person's roles open (the API still decides every call). */
export const sectionsFor = (roles: readonly string[]) =>
  SECTIONS.filter((s) => roles.includes(s.role));

export function Page(props: {
  title: string;
  viewer?: Viewer | undefined;
  section?: Section | undefined;
  scripts?: readonly string[];
  styles?: readonly string[];
  children?: Child;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Gateway console`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        {(props.styles ?? []).map((href) => (
          <link rel="stylesheet" href={href} />
        ))}
      </head>
      <body>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="top">
          <p class="brand">Data-sharing gateway · console</p>
          {props.viewer === undefined ? null : (
            <>
              <nav class="main" aria-label="Console sections">
                <ul>
                  {sectionsFor(props.viewer.roles).map((s) => (
                    <li>
                      <a href={s.href} aria-current={s.id === props.section ? "page" : undefined}>
                        {s.label}
                      </a>
                    </li>
                  ))}
                </ul>
              </nav>
              <div class="who">
                <span>
                  Signed in as <strong>{props.viewer.username}</strong>
                </span>
                <form method="post" action="/console/logout">
                  <input type="hidden" name="_csrf" value={props.viewer.csrf} />
                  <button type="submit" class="secondary">
                    Sign out
                  </button>
                </form>
              </div>
            </>
          )}
        </header>
        <main id="main">
          <h1>{props.title}</h1>
          {props.children}
        </main>
        {(props.scripts ?? []).map((src) => (
          <script src={src} defer />
        ))}
      </body>
    </html>
  );
}

export function Status(props: { value: string }) {
  return <span class={`status status-${props.value}`}>{props.value}</span>;
}

export function ProblemBox(props: { problem: Problem; doing?: string }) {
  return (
    <div class="error" role="alert">
      <p>
        <strong>
          {props.doing === undefined ? "The gateway refused" : `Could not ${props.doing}`}
        </strong>
        {`: ${props.problem.detail || props.problem.title}`}
      </p>
      <p class="muted">
        {`HTTP ${props.problem.status}, code `}
        <code>{props.problem.code}</code>
      </p>
    </div>
  );
}

export function Notice(props: { children?: Child }) {
  return (
    <div class="notice" role="status">
      {props.children}
    </div>
  );
}

/** A hidden CSRF field for a state-changing form. */
export function Csrf(props: { viewer: Viewer }) {
  return <input type="hidden" name="_csrf" value={props.viewer.csrf} />;
}

/** An exact decimal of a micro-unit amount: 2000 → "0.002", 5000000 → "5.00". */
export function money(micros: number): string {
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / 1_000_000);
  const frac = String(abs % 1_000_000)
    .padStart(6, "0")
    .replace(/0+$/, "");
  return `${sign}${whole}.${frac.padEnd(2, "0")}`;
}

/** An ISO time as `2026-11-01 14:05:09 UTC`. */
export const when = (iso: string | null | undefined): string =>
  iso === null || iso === undefined ? "—" : `${iso.slice(0, 19).replace("T", " ")} UTC`;
