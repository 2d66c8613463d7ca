/**
 * The operator CLI: `npm run ops -- <command>` for the daily tasks against a
 * gateway URL. It authenticates as an operator client (client credentials),
 * calls the operators' API and prints tables (or the JSON with --json).
 *
 * Exit codes: 0 ok, 1 the gateway refused (4xx, or a broken audit chain),
 * 2 usage error, 3 gateway or network failure.
 *
 * `main(argv, env, io)` does all the work and returns the exit code, so it
 * runs in-process in tests; the last lines run it when this file is the
 * program.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatTable, keyValues, money } from "./format.ts";

export const EXIT = { ok: 0, refused: 1, usage: 2, failure: 3 } as const;

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The fetch to use (tests may pass their own); the global one by default. */
  readonly fetch?: typeof fetch;
}

export const DEFAULT_URL = "http://127.0.0.1:8787";
const TIMEOUT_MS = 30_000;

export const USAGE = `Usage: npm run ops -- <command> [options]

Commands:
  partners list                          the partners and their status
  partners show <id>                     one partner
  onboard <id> --name <name> --jurisdiction <CC> --base-url <url>
                                         register a partner (prints its client secret once)
  suspend <id> --reason <text>           stop a partner's flows until resumed
  resume <id> --reason <text>
  revoke <id> --reason <text>            cut a partner off (effective on the next request)
  reinstate <id> --reason <text>
  phase-out <id> --at <iso time> --reason <text>
                                         end a partner's agreements at a date
  rotate <id>                            issue a new client secret (the old one stops at once)
  exit <id>                              what a leaving partner received, attestations outstanding
  agreements list [--partner <id>]
  audit [--partner <id>] [--action <a.b>] [--from <iso>] [--to <iso>] [--limit <n>]
  audit verify                           recompute the audit hash chain
  flows [--mermaid]                      the data-flow map (as a Mermaid diagram with --mermaid)
  deliveries [--state pending|delivered|failed]
  requests list [--state requested|agreed|rejected|cancelled] [--partner <id>]
                                         agreement requests (partner self-service), newest first
  requests approve <id> [--reason <text>]
                                         approve one: its agreement is made, active, at once
  requests reject <id> --reason <text>

Options:
  --url <url>              the gateway (default $GATEWAY_URL or ${DEFAULT_URL})
  --client-id <id>         operator client id (default $OPERATOR_CLIENT_ID)
  --client-secret <secret> operator client secret (default $OPERATOR_CLIENT_SECRET;
                           write --client-secret=<secret> when it begins with "-")
  --json                   print the gateway's JSON instead of a table
  --help                   this text

Exit codes: 0 ok, 1 the gateway refused (or the audit chain is broken),
2 usage error, 3 gateway or network failure.
`;

class UsageError extends Error {}

/** A failure with its exit code, printed readably. */
class CliError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const OPTIONS = {
  url: { type: "string" },
  "client-id": { type: "string" },
  "client-secret": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  reason: { type: "string" },
  at: { type: "string" },
  name: { type: "string" },
  jurisdiction: { type: "string" },
  "base-url": { type: "string" },
  partner: { type: "string" },
  action: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  limit: { type: "string" },
  state: { type: "string" },
  mermaid: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parse>["values"];

const parse = (argv: readonly string[]) =>
  parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });

interface Context {
  readonly values: Values;
  readonly io: Io;
  readonly api: Api;
}

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0 || positionals[0] === "help") {
    (positionals.length === 0 && values.help !== true ? io.stderr : io.stdout)(USAGE);
    return positionals.length === 0 && values.help !== true ? EXIT.usage : EXIT.ok;
  }
  try {
    const command = resolve(positionals);
    const api = new Api(
      gatewayUrl(values.url ?? env.GATEWAY_URL ?? DEFAULT_URL),
      credentials(values, env),
      io.fetch ?? fetch,
    );
    return await command({ values, io, api });
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`error: ${err.message}\n(npm run ops -- --help for the commands)\n`);
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      io.stderr(`${err.message}\n`);
      return err.code;
    }
    io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failure;
  }
}

function gatewayUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url ${raw} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(`--url must be http or https, not ${url.protocol}`);
  return url.toString().replace(/\/+$/, "");
}

function credentials(values: Values, env: Readonly<Record<string, string | undefined>>) {
  const id = values["client-id"] ?? env.OPERATOR_CLIENT_ID;
  const secret = values["client-secret"] ?? env.OPERATOR_CLIENT_SECRET;
  if (id === undefined || id === "" || secret === undefined || secret === "") {
    throw new UsageError(
      "operator credentials are needed: --client-id and --client-secret, or $OPERATOR_CLIENT_ID and $OPERATOR_CLIENT_SECRET",
    );
  }
  return { id, secret };
}

// ------------------------------------------------------------------ HTTP

interface Problem {
  readonly status?: number;
  readonly title?: string;
  readonly detail?: string;
  readonly code?: string;
  readonly error?: string;
  readonly error_description?: string;
  readonly errors?: readonly { field: string; message: string }[];
  readonly violations?: readonly { code: string; message: string; field?: string }[];
}

/** The operators' API over HTTP, with a token fetched once per run. */
class Api {
  private token: string | undefined;

  constructor(
    readonly base: string,
    private readonly creds: { id: string; secret: string },
    private readonly fetchFn: typeof fetch,
  ) {}

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchFn(`${this.base}${path}`, {
        ...init,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(EXIT.failure, `error: cannot reach the gateway at ${this.base} (${why})`);
    }
  }

  private async authenticate(): Promise<string> {
    if (this.token !== undefined) return this.token;
    const basic = Buffer.from(
      `${encodeURIComponent(this.creds.id)}:${encodeURIComponent(this.creds.secret)}`,
    ).toString("base64");
    const res = await this.send("/oauth/token", {
      method: "POST",
      headers: {
        Authorization: `Basic ${basic}`,
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
      },
      body: "grant_type=client_credentials&scope=admin",
    });
    const body = await readBody(res);
    if (!res.ok) {
      throw new CliError(
        res.status >= 500 ? EXIT.failure : EXIT.refused,
        describeFailure(res, body, `the gateway refused the credentials of ${this.creds.id}`),
      );
    }
    const token = (body as { access_token?: unknown } | null)?.access_token;
    if (typeof token !== "string")
      throw new CliError(EXIT.failure, "error: the token endpoint answered without a token");
    this.token = token;
    return token;
  }

  /** Calls the API; a refusal or failure becomes a CliError with its exit code. */
  async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ data: unknown; text: string }> {
    const token = await this.authenticate();
    const res = await this.send(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: "application/json, text/plain;q=0.9",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let data: unknown = text;
    if ((res.headers.get("Content-Type") ?? "").includes("json") && text !== "") {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!res.ok) {
      throw new CliError(
        res.status >= 500 ? EXIT.failure : EXIT.refused,
        describeFailure(res, data, `${method} ${path} was refused`),
      );
    }
    return { data, text };
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A problem details (or OAuth error) body, readably. */
function describeFailure(res: Response, body: unknown, fallback: string): string {
  const p = (typeof body === "object" && body !== null ? body : {}) as Problem;
  const code = p.code ?? p.error;
  const detail = p.detail ?? p.error_description ?? (typeof body === "string" ? body.trim() : "");
  const title = p.title ?? res.statusText;
  const lines = [
    `error: ${res.status}${title ? ` ${title}` : ""}${code ? ` (${code})` : ""}`,
    `  ${detail || fallback}`,
  ];
  for (const e of p.errors ?? []) lines.push(`  - ${e.field}: ${e.message}`);
  for (const v of p.violations ?? [])
    lines.push(`  - ${v.code}${v.field ? ` (${v.field})` : ""}: ${v.message}`);
  const requestId = res.headers.get("X-Request-Id");
  if (requestId) lines.push(`  request id: ${requestId}`);
  return lines.join("\n");
}

// ------------------------------------------------------------------ commands

type Command = (ctx: Context) => Promise<number>;

const TRANSITIONS = ["suspend", "resume", "revoke", "reinstate"] as const;

function resolve(positionals: readonly string[]): Command {
  const [first, second, ...rest] = positionals;
  const grouped = first === "partners" || first === "agreements" || first === "requests";
  const one = (what: string): string => {
    const id = grouped ? rest[0] : second;
    const extra = grouped ? rest.slice(1) : rest;
    if (id === undefined)
      throw new UsageError(`${what} needs ${first === "requests" ? "a request" : "a partner"} id`);
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
    return id;
  };
  const none = (args: readonly (string | undefined)[]) => {
    const extra = args.filter((a) => a !== undefined);
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  };
  switch (first) {
    case "partners":
      if (second === "list") {
        none(rest);
        return partnersList;
      }
      if (second === "show") return partnersShow(one("partners show"));
      throw new UsageError("partners takes list or show <id>");
    case "onboard":
      return onboard(one("onboard"));
    case "suspend":
    case "resume":
    case "revoke":
    case "reinstate":
      return transition(first, one(first));
    case "phase-out":
      return phaseOut(one("phase-out"));
    case "rotate":
      return rotate(one("rotate"));
    case "exit":
      return exit(one("exit"));
    case "agreements":
      if (second !== "list") throw new UsageError("agreements takes list [--partner <id>]");
      none(rest);
      return agreementsList;
    case "audit":
      if (second === "verify") {
        none(rest);
        return auditVerify;
      }
      none([second, ...rest]);
      return auditList;
    case "flows":
      none([second, ...rest]);
      return flows;
    case "deliveries":
      none([second, ...rest]);
      return deliveries;
    case "requests":
      if (second === "list") {
        none(rest);
        return requestsList;
      }
      if (second === "approve" || second === "reject")
        return requestStep(second, one(`requests ${second}`));
      throw new UsageError("requests takes list, approve <id> or reject <id>");
    default:
      throw new UsageError(`unknown command ${first}`);
  }
}

function required(values: Values, name: keyof Values, command: string): string {
  const v = values[name];
  if (typeof v !== "string" || v.trim() === "")
    throw new UsageError(`${command} needs --${String(name)}`);
  return v;
}

function isoTime(value: string, option: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(Date.parse(value)))
    throw new UsageError(`--${option} must be an ISO 8601 time, e.g. 2026-07-01T00:00:00Z`);
  return new Date(value).toISOString();
}

/** Prints JSON with --json, or what `render` makes of it. */
function print(ctx: Context, data: unknown, render: () => string): number {
  ctx.io.stdout(ctx.values.json === true ? `${JSON.stringify(data, null, 2)}\n` : render());
  return EXIT.ok;
}

interface PartnerView {
  id: string;
  name: string;
  jurisdiction: string;
  baseUrl: string;
  status: string;
  statusReason?: string;
  phaseOutAt?: string;
  createdAt?: string;
  updatedAt?: string;
}

interface Page<T> {
  items: T[];
  next: string | null;
}

/** Every page of a list (the CLI shows whole lists). */
async function allPages<T>(api: Api, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const q: string = cursor === null ? "" : `${sep}cursor=${encodeURIComponent(cursor)}`;
    const { data } = await api.call("GET", `${path}${q}`);
    const page = data as Page<T>;
    items.push(...page.items);
    cursor = page.next;
  } while (cursor !== null);
  return items;
}

const partnerRows = (items: readonly PartnerView[]) =>
  formatTable(
    ["ID", "NAME", "JURISDICTION", "STATUS", "BASE URL", "PHASE-OUT"],
    items.map((p) => [p.id, p.name, p.jurisdiction, p.status, p.baseUrl, p.phaseOutAt ?? ""]),
  );

const partnersList: Command = async (ctx) => {
  const items = await allPages<PartnerView>(ctx.api, "/admin/partners?limit=1000");
  return print(ctx, { items }, () => (items.length === 0 ? "no partners\n" : partnerRows(items)));
};

const showPartner = (p: PartnerView) =>
  keyValues([
    ["id", p.id],
    ["name", p.name],
    ["jurisdiction", p.jurisdiction],
    ["base url", p.baseUrl],
    ["status", p.status],
    ["reason", p.statusReason],
    ["phase-out at", p.phaseOutAt],
    ["created", p.createdAt],
    ["updated", p.updatedAt],
  ]);

const partnersShow =
  (id: string): Command =>
  async (ctx) => {
    const { data } = await ctx.api.call("GET", `/admin/partners/${encodeURIComponent(id)}`);
    return print(ctx, data, () => showPartner(data as PartnerView));
  };

const onboard =
  (id: string): Command =>
  async (ctx) => {
    const body = {
      id,
      name: required(ctx.values, "name", "onboard"),
      jurisdiction: required(ctx.values, "jurisdiction", "onboard"),
      baseUrl: required(ctx.values, "base-url", "onboard"),
    };
    const { data } = await ctx.api.call("POST", "/admin/partners", body);
    const created = data as { partner: PartnerView; clientId: string; clientSecret: string };
    return print(
      ctx,
      data,
      () =>
        `${showPartner(created.partner)}\n` +
        `client id:     ${created.clientId}\n` +
        `client secret: ${created.clientSecret}\n` +
        "(the secret is shown this once: hand it to the partner now)\n",
    );
  };

const transition =
  (name: (typeof TRANSITIONS)[number], id: string): Command =>
  async (ctx) => {
    const reason = required(ctx.values, "reason", name);
    const { data } = await ctx.api.call(
      "POST",
      `/admin/partners/${encodeURIComponent(id)}/${name}`,
      { reason },
    );
    const p = data as PartnerView;
    return print(ctx, data, () => `${p.id}: ${p.status}\n`);
  };

const phaseOut =
  (id: string): Command =>
  async (ctx) => {
    const at = isoTime(required(ctx.values, "at", "phase-out"), "at");
    const reason = required(ctx.values, "reason", "phase-out");
    const { data } = await ctx.api.call(
      "POST",
      `/admin/partners/${encodeURIComponent(id)}/phase-out`,
      { at, reason },
    );
    const p = data as PartnerView;
    return print(
      ctx,
      data,
      () => `${p.id}: ${p.status}, phased out at ${p.phaseOutAt ?? at} (its agreements end then)\n`,
    );
  };

const rotate =
  (id: string): Command =>
  async (ctx) => {
    const { data } = await ctx.api.call(
      "POST",
      `/admin/partners/${encodeURIComponent(id)}/credentials`,
    );
    const c = data as { clientId: string; clientSecret: string };
    return print(
      ctx,
      data,
      () =>
        `client id:     ${c.clientId}\nclient secret: ${c.clientSecret}\n` +
        "(the old secret no longer works; the new one is shown this once)\n",
    );
  };

interface ExitView {
  partner: string;
  status: string;
  leaving: boolean;
  received: {
    agreement: string;
    dataset: string;
    provider: string;
    records: number;
    requests: number;
    retentionDays: number | null;
    attestation: { deletedAt: string; recordedBy: string } | null;
    outstanding: boolean;
  }[];
  outstanding: string[];
}

const exit =
  (id: string): Command =>
  async (ctx) => {
    const { data } = await ctx.api.call("GET", `/admin/partners/${encodeURIComponent(id)}/exit`);
    const e = data as ExitView;
    return print(ctx, data, () => {
      const head = `${e.partner}: ${e.status}${e.leaving ? " (leaving)" : ""}\n`;
      if (e.received.length === 0) return `${head}received nothing\n`;
      const table = formatTable(
        ["AGREEMENT", "DATASET", "PROVIDER", "RECORDS", "RETENTION", "ATTESTED"],
        e.received.map((r) => [
          r.agreement,
          r.dataset,
          r.provider,
          String(r.records),
          r.retentionDays === null ? "-" : `${r.retentionDays} days`,
          r.attestation === null
            ? r.outstanding
              ? "OUTSTANDING"
              : "not needed"
            : `deleted ${r.attestation.deletedAt} (by ${r.attestation.recordedBy})`,
        ]),
      );
      const tail =
        e.outstanding.length === 0
          ? "no attestation outstanding\n"
          : `attestations outstanding: ${e.outstanding.join(", ")}\n`;
      return `${head}${table}${tail}`;
    });
  };

interface AgreementView {
  id: string;
  provider: string;
  consumer: string;
  dataset: string;
  status: string;
  version: number;
  validUntil: string;
  actions: string[];
}

const agreementsList: Command = async (ctx) => {
  const partner = ctx.values.partner;
  const q = new URLSearchParams({ limit: "1000" });
  if (partner !== undefined) q.set("partner", partner);
  const items = await allPages<AgreementView>(ctx.api, `/admin/agreements?${q}`);
  return print(ctx, { items }, () =>
    items.length === 0
      ? "no agreements\n"
      : formatTable(
          ["ID", "PROVIDER", "CONSUMER", "DATASET", "STATUS", "VERSION", "ACTIONS", "VALID UNTIL"],
          items.map((a) => [
            a.id,
            a.provider,
            a.consumer,
            a.dataset,
            a.status,
            String(a.version),
            a.actions.join(","),
            a.validUntil,
          ]),
        ),
  );
};

interface AuditView {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  requestId: string | null;
}

const auditList: Command = async (ctx) => {
  const v = ctx.values;
  const q = new URLSearchParams();
  if (v.partner !== undefined) q.set("partner", v.partner);
  if (v.action !== undefined) q.set("action", v.action);
  if (v.from !== undefined) q.set("from", isoTime(v.from, "from"));
  if (v.to !== undefined) q.set("to", isoTime(v.to, "to"));
  const limit = v.limit === undefined ? 50 : Number(v.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new UsageError("--limit must be a whole number from 1 to 1000");
  q.set("limit", String(limit));
  const { data } = await ctx.api.call("GET", `/admin/audit?${q}`);
  const page = data as Page<AuditView>;
  return print(ctx, data, () => {
    if (page.items.length === 0) return "no audit entries\n";
    const table = formatTable(
      ["ENTRY", "AT", "ACTOR", "ACTION", "TARGET", "REASON", "REQUEST ID"],
      page.items.map((e) => [
        e.id,
        e.at,
        e.actor,
        e.action,
        e.target,
        e.reason ?? "",
        e.requestId ?? "",
      ]),
    );
    return page.next === null ? table : `${table}(more: narrow the window or raise --limit)\n`;
  });
};

const auditVerify: Command = async (ctx) => {
  const { data } = await ctx.api.call("GET", "/admin/audit/verify");
  const v = data as { valid: boolean; entries: number; firstBroken: string | null };
  print(ctx, data, () =>
    v.valid
      ? `audit chain valid: ${v.entries} entries\n`
      : `AUDIT CHAIN BROKEN: the first broken entry is ${v.firstBroken} (${v.entries} entries read)\n`,
  );
  return v.valid ? EXIT.ok : EXIT.refused;
};

interface FlowMapView {
  nodes: { id: string; name: string; jurisdiction: string; status: string; owns: string[] }[];
  edges: {
    agreement: string;
    from: string;
    to: string;
    dataset: string;
    status: string;
    fields: { shared: string[]; personal: string[] };
    value: Record<string, number>;
  }[];
}

const flows: Command = async (ctx) => {
  if (ctx.values.mermaid === true) {
    const { text } = await ctx.api.call("GET", "/admin/flows?format=mermaid");
    ctx.io.stdout(text.endsWith("\n") ? text : `${text}\n`);
    return EXIT.ok;
  }
  const { data } = await ctx.api.call("GET", "/admin/flows");
  const map = data as FlowMapView;
  return print(ctx, data, () => {
    const nodes = formatTable(
      ["PARTNER", "NAME", "JURISDICTION", "STATUS", "OWNS"],
      map.nodes.map((n) => [n.id, n.name, n.jurisdiction, n.status, n.owns.join(",")]),
    );
    const edges =
      map.edges.length === 0
        ? "no agreements\n"
        : formatTable(
            ["AGREEMENT", "FROM", "TO", "DATASET", "STATUS", "SHARED", "PERSONAL", "VALUE"],
            map.edges.map((e) => [
              e.agreement,
              e.from,
              e.to,
              e.dataset,
              e.status,
              e.fields.shared.join(","),
              e.fields.personal.join(","),
              money(e.value),
            ]),
          );
    return `${nodes}\n${edges}`;
  });
};

interface DeliveryView {
  id: string;
  recipient: string;
  state: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  event: { type: string; subject: { kind: string; id: string }; at: string };
}

const deliveries: Command = async (ctx) => {
  const state = ctx.values.state ?? "pending";
  if (!["pending", "delivered", "failed"].includes(state))
    throw new UsageError("--state must be pending, delivered or failed");
  const items = await allPages<DeliveryView>(
    ctx.api,
    `/admin/deliveries?state=${state}&limit=1000`,
  );
  return print(ctx, { items }, () =>
    items.length === 0
      ? `no ${state} deliveries\n`
      : formatTable(
          ["EVENT", "ABOUT", "RECIPIENT", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"],
          items.map((d) => [
            d.event.type,
            `${d.event.subject.kind}:${d.event.subject.id}`,
            d.recipient,
            d.state,
            String(d.attempts),
            d.nextAttemptAt ?? "",
            d.lastError ?? "",
          ]),
        ),
  );
};

interface RequestView {
  id: string;
  offer: string;
  dataset: string;
  provider: string;
  consumer: string;
  fields: string[];
  purposes: string[];
  state: string;
  createdAt: string;
  agreement: string | null;
  decidedBy: string | null;
  reason: string | null;
}

const REQUEST_STATES = ["requested", "agreed", "rejected", "cancelled"];

const requestsList: Command = async (ctx) => {
  const q = new URLSearchParams({ limit: "1000" });
  const state = ctx.values.state;
  if (state !== undefined) {
    if (!REQUEST_STATES.includes(state))
      throw new UsageError(`--state must be one of ${REQUEST_STATES.join(", ")}`);
    q.set("state", state);
  }
  if (ctx.values.partner !== undefined) q.set("partner", ctx.values.partner);
  const items = await allPages<RequestView>(ctx.api, `/admin/agreement-requests?${q}`);
  return print(ctx, { items }, () =>
    items.length === 0
      ? `no ${state ?? ""}${state === undefined ? "" : " "}agreement requests\n`
      : formatTable(
          [
            "REQUEST",
            "STATE",
            "CONSUMER",
            "PROVIDER",
            "DATASET",
            "OFFER",
            "FIELDS",
            "CREATED",
            "AGREEMENT",
          ],
          items.map((r) => [
            r.id,
            r.state,
            r.consumer,
            r.provider,
            r.dataset,
            r.offer,
            r.fields.join(","),
            r.createdAt,
            r.agreement ?? "",
          ]),
        ),
  );
};

const requestStep =
  (step: "approve" | "reject", id: string): Command =>
  async (ctx) => {
    const reason =
      step === "reject" ? required(ctx.values, "reason", "requests reject") : ctx.values.reason;
    const { data } = await ctx.api.call(
      "POST",
      `/admin/agreement-requests/${encodeURIComponent(id)}/${step}`,
      reason === undefined ? undefined : { reason },
    );
    const r = data as RequestView;
    return print(ctx, data, () =>
      r.state === "agreed"
        ? `${r.id}: agreed; agreement ${r.agreement ?? ""} is active (${r.consumer} may now get its scope)\n`
        : `${r.id}: ${r.state}\n`,
    );
  };

// ------------------------------------------------------------------ as a program

function isProgram(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isProgram()) {
  main(process.argv.slice(2), process.env, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${String(err)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
