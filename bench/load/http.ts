/**
 * A small node:http client for the load tools: one keep-alive Agent per
 * caller, no fetch (its pool and stream machinery cost more per request and
 * would not be the same for every target). Answers are read to the end.
 */
import http from "node:http";

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** performance.now() when the status line arrived (the server had answered). */
  readonly answeredAt: number;
}

/**
 * A keep-alive agent that drops idle sockets before the server does: with a
 * `timeout`, Node's agent honours the server's `Keep-Alive: timeout=5` hint
 * (less a second), so a request is never written to a socket the server is
 * closing (which fails with ECONNRESET, a client race, not a server fault).
 */
export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({
    keepAlive: true,
    maxSockets,
    maxFreeSockets: maxSockets,
    timeout: 60_000,
  });
}

export function httpRequest(
  agent: http.Agent,
  url: URL,
  options: {
    method?: "GET" | "POST" | "PUT" | "HEAD" | "PATCH";
    headers?: Record<string, string>;
    body?: string | Buffer;
    timeoutMs?: number;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === "string"
          ? Buffer.from(options.body)
          : options.body;
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: options.method ?? "GET",
        headers: {
          ...options.headers,
          ...(body === undefined ? {} : { "Content-Length": String(body.byteLength) }),
        },
      },
      (res) => {
        const answeredAt = performance.now();
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            answeredAt,
          }),
        );
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () =>
      req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)),
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The problem `code` of an error answer, or the OAuth `error`, or "". */
export function errorCode(answer: HttpAnswer): string {
  if (answer.status < 300) return "";
  try {
    const parsed = JSON.parse(answer.body.toString("utf8")) as { code?: unknown; error?: unknown };
    if (typeof parsed.code === "string") return parsed.code;
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON: no code
  }
  return "";
}

/** JSON calls with a bearer token; throws on any status other than the expected one. */
export class JsonApi {
  constructor(
    private readonly base: string,
    private readonly agent: http.Agent,
    public bearer: string | undefined = undefined,
  ) {}

  async call(
    method: "GET" | "POST" | "PUT" | "PATCH",
    path: string,
    body?: unknown,
  ): Promise<HttpAnswer> {
    return httpRequest(this.agent, new URL(path, this.base), {
      method,
      headers: {
        Accept: "application/json",
        ...(this.bearer === undefined ? {} : { Authorization: `Bearer ${this.bearer}` }),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async expect<T = unknown>(
    status: number,
    method: "GET" | "POST" | "PUT",
    path: string,
    body?: unknown,
  ): Promise<T> {
    const res = await this.call(method, path, body);
    if (res.status !== status) {
      throw new Error(
        `${method} ${path}: expected ${status}, got ${res.status} ${res.body.toString("utf8").slice(0, 300)}`,
      );
    }
    const text = res.body.toString("utf8");
    return (text === "" ? null : JSON.parse(text)) as T;
  }
}

/** client_credentials at the real token endpoint. */
export function tokenRequest(
  agent: http.Agent,
  base: string,
  clientId: string,
  secret: string,
  scope: string,
): Promise<HttpAnswer> {
  const basic = Buffer.from(
    `${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`,
  ).toString("base64");
  return httpRequest(agent, new URL("/oauth/token", base), {
    method: "POST",
    headers: {
      Authorization: `Basic ${basic}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
  });
}

export async function accessToken(
  agent: http.Agent,
  base: string,
  clientId: string,
  secret: string,
  scope: string,
): Promise<string> {
  const res = await tokenRequest(agent, base, clientId, secret, scope);
  if (res.status !== 200) {
    throw new Error(
      `token for ${clientId} (${scope}): ${res.status} ${res.body.toString("utf8").slice(0, 300)}`,
    );
  }
  return (JSON.parse(res.body.toString("utf8")) as { access_token: string }).access_token;
}
