/** Calls the operators' tests share: fresh tokens (the clock moves), the token endpoint, exchanges. */
import type { Ecosystem } from "../support/ecosystem.ts";
import type { TestGateway } from "../support/gateway.ts";

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

/** An operator call with a token minted at the gateway's current time (tests move the clock). */
export async function admin(t: TestGateway, method: string, path: string, body?: unknown) {
  return t.call(method, path, { token: await t.token("operator", ["admin"]), body });
}

export async function adminJson<T = Record<string, unknown>>(
  t: TestGateway,
  method: string,
  path: string,
  body?: unknown,
  status = 200,
): Promise<T> {
  const res = await admin(t, method, path, body);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export function tokenRequest(
  t: TestGateway,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(
    t.app.request("/oauth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(form).toString(),
    }),
  );
}

export function secretToken(t: TestGateway, id: string, secret: string, scope?: string) {
  return tokenRequest(
    t,
    { grant_type: "client_credentials", ...(scope === undefined ? {} : { scope }) },
    { Authorization: basic(id, secret) },
  );
}

export async function accessToken(res: Response): Promise<string> {
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || body.access_token === undefined)
    throw new Error(`no token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

export function read(t: TestGateway, eco: Ecosystem, token: string, path = "") {
  return t.call("GET", `/v1/exchange/${eco.agreement}${path}`, {
    token,
    headers: { "Data-Purpose": "insurance-pricing" },
  });
}

export async function codeOf(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { code?: string; error?: string };
  return body.code ?? body.error;
}

export interface AuditItem {
  id: string;
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  requestId: string | null;
  partners: string[];
  details?: Record<string, unknown>;
}

/** Every audit entry matching a query, through all pages. */
export async function auditAll(t: TestGateway, query: Record<string, string> = {}) {
  const out: AuditItem[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ ...query, ...(cursor === null ? {} : { cursor }) });
    const page = await adminJson<{ items: AuditItem[]; next: string | null }>(
      t,
      "GET",
      `/admin/audit?${q}`,
    );
    out.push(...page.items);
    cursor = page.next;
  } while (cursor !== null);
  return out;
}

export async function financeFlows(t: TestGateway, agreement: string) {
  const token = await t.token("finance", ["metrics:read"]);
  const now = t.gw.clock().getTime();
  const q = new URLSearchParams({
    granularity: "total",
    from: new Date(now - 86_400_000).toISOString(),
    to: new Date(now + 3_600_000).toISOString(),
  });
  const res = await t.call("GET", `/metrics/flows?${q}`, { token });
  const body = (await res.json()) as {
    items: {
      agreement: string;
      requests: number;
      denied: number;
      blocked: number;
      records: number;
      value: { currency: string; amount: number };
    }[];
  };
  return body.items.find((r) => r.agreement === agreement);
}
