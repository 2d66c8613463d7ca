/**
 * GatewayClient: what a partner backend calls. Consumers read and start
 * transfers, providers deliver and upload, both browse the catalog and
 * handle agreement requests. Tokens are fetched, cached and renewed per
 * scope; refusals are thrown as GatewayProblem; idempotent calls are
 * retried (see transport.ts) with an Idempotency-Key made once per call.
 */
import createClient from "openapi-fetch";
import { type DpopKeyPair, DpopProver } from "./dpop.ts";
import type { components, paths } from "./generated/gateway-api.ts";
import { GatewayProblem, GatewayUnreachable } from "./problem.ts";
import { TokenSource } from "./tokens.ts";
import { FINAL_STATES, type Transfer, type Upload, type UploadContentType } from "./transfers.ts";
import { DEFAULT_RETRY, type RetryPolicy, Transport } from "./transport.ts";

type Schemas = components["schemas"];
export type CatalogPage = Schemas["CatalogPage"];
export type CatalogEntry = Schemas["CatalogEntry"];
export type Offer = Schemas["Offer"];
export type OfferInput = Schemas["OfferInput"];
export type AgreementRequest = Schemas["AgreementRequest"];
export type AgreementRequestInput = Schemas["AgreementRequestInput"];
export type AgreementRequestList = Schemas["AgreementRequestList"];
export type PartnerAgreement = Schemas["PartnerAgreement"];

export interface GatewayClientOptions {
  /** The gateway, e.g. `https://gateway.example` (no trailing path). */
  readonly baseUrl: string;
  /** The partner's client id (its partner id). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Retries of idempotent calls; `{ retries: 0 }` turns them off. */
  readonly retry?: Partial<RetryPolicy>;
  /** Per attempt. Default 30 s. */
  readonly timeoutMs?: number;
  /** The fetch to use (default: the global one). */
  readonly fetch?: typeof fetch;
  /**
   * A key pair (WebCrypto: ECDSA P-256 or P-384, Ed25519, RSA with SHA-256)
   * for DPoP (RFC 9449): tokens are bound to it, and every call carries a
   * fresh proof signed with it. A token copied from this client is of no use
   * without the private key. Needed for a partner with `requireDpop`.
   */
  readonly dpopKey?: DpopKeyPair;
}

export interface ReadOptions {
  /** Under the dataset's path, e.g. `daily/2026-11-01` (each segment is encoded). */
  readonly subpath?: string;
  /** Passed on to the provider. */
  readonly query?: string | Readonly<Record<string, string>> | URLSearchParams;
  /** The `Data-Purpose` (required where the agreement names purposes). */
  readonly purpose?: string;
  /** Default: one made for this call, the same on every retry of it. */
  readonly idempotencyKey?: string;
  readonly accept?: string;
}

export interface ReadResult {
  /** `X-Records`: how many records the gateway released. */
  readonly records: number;
  readonly contentType: string;
  /** The body as released, byte for byte (as text). */
  readonly text: string;
  /** The key the read was sent (and retried) with. */
  readonly idempotencyKey: string;
  /** The body as JSON (throws if it is not JSON). */
  json<T = unknown>(): T;
}

export interface DeliverOptions {
  readonly subpath?: string;
  readonly purpose?: string;
  readonly idempotencyKey?: string;
}

/** A body as it is: bytes or text with its content type. */
export interface RawBody {
  readonly body: string | Uint8Array;
  readonly contentType: string;
}

export interface DeliverResult {
  readonly records: number;
  readonly idempotencyKey: string;
  /** The consumer's backend accepted it: the gateway's `{ delivered, records }`. */
  readonly response: unknown;
}

/**
 * A subpath as path segments, each percent-encoded. Dot segments are refused
 * here: URL parsing would resolve them away and send another path.
 */
function encodeSubpath(subpath: string | undefined): string {
  if (subpath === undefined || subpath === "") return "";
  const segments = subpath.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) {
    throw new TypeError(`subpath ${subpath} holds a dot segment`);
  }
  return segments.length === 0 ? "" : `/${segments.map(encodeURIComponent).join("/")}`;
}

const queryString = (query: ReadOptions["query"]): string => {
  if (query === undefined) return "";
  const text =
    typeof query === "string"
      ? query.replace(/^\?/, "")
      : new URLSearchParams(query as Record<string, string>).toString();
  return text === "" ? "" : `?${text}`;
};

const agreementScope = (id: string) => `agreement:${id}`;

export class GatewayClient {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly transport: Transport;
  private readonly api: ReturnType<typeof createClient<paths, "application/json">>;

  constructor(options: GatewayClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError("baseUrl must be an http(s) URL");
    }
    if (options.clientId === "" || options.clientSecret === "") {
      throw new TypeError("clientId and clientSecret are required");
    }
    this.baseUrl = url.toString().replace(/\/+$/, "");
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    const timeoutMs = options.timeoutMs ?? 30_000;
    const tokens = new TokenSource({
      baseUrl: this.baseUrl,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      fetch: this.fetchFn,
      timeoutMs,
      dpopKey: options.dpopKey,
    });
    this.transport = new Transport(
      tokens,
      this.fetchFn,
      { ...DEFAULT_RETRY, ...options.retry },
      timeoutMs,
      Math.random,
      options.dpopKey === undefined ? undefined : new DpopProver(options.dpopKey),
    );
    this.api = createClient<paths, "application/json">({ baseUrl: this.baseUrl });
  }

  /** A fetch for openapi-fetch that sends through the transport with `scope`. */
  private via(scope: string) {
    return (request: Request) =>
      this.transport.send(request, { scope, idempotent: request.method === "GET" });
  }

  /** The data of a typed call, or its problem thrown. */
  private async unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>) {
    const { data, error, response } = await call;
    if (response.ok && data !== undefined) return data;
    throw GatewayProblem.fromBody(
      response.status,
      typeof error === "object" && error !== null ? (error as Record<string, unknown>) : undefined,
      response.headers,
    );
  }

  private async raw(
    method: string,
    path: string,
    scope: string,
    init: { headers?: Record<string, string>; body?: string | Uint8Array; idempotent: boolean },
  ): Promise<Response> {
    const request = new Request(`${this.baseUrl}${path}`, {
      method,
      headers: init.headers ?? {},
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    const res = await this.transport.send(request, { scope, idempotent: init.idempotent });
    if (!res.ok) throw await GatewayProblem.from(res);
    return res;
  }

  // ------------------------------------------------------------ exchanges

  /** Read: the consumer pulls from the provider through the gateway. */
  async read(agreementId: string, options: ReadOptions = {}): Promise<ReadResult> {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    const res = await this.raw(
      "GET",
      `/v1/exchange/${encodeURIComponent(agreementId)}${encodeSubpath(options.subpath)}${queryString(options.query)}`,
      agreementScope(agreementId),
      {
        idempotent: true,
        headers: {
          Accept: options.accept ?? "application/json",
          "Idempotency-Key": idempotencyKey,
          ...(options.purpose === undefined ? {} : { "Data-Purpose": options.purpose }),
        },
      },
    );
    const text = await res.text();
    return {
      records: Number(res.headers.get("X-Records") ?? "0"),
      contentType: res.headers.get("Content-Type") ?? "",
      text,
      idempotencyKey,
      json: <T>() => JSON.parse(text) as T,
    };
  }

  /**
   * Deliver: the provider pushes to the consumer. Records (an array) go as
   * NDJSON, one per line, wherever the dataset keeps them; a plain object
   * goes as JSON; a RawBody as it is.
   */
  async deliver(
    agreementId: string,
    input:
      | readonly Readonly<Record<string, unknown>>[]
      | Readonly<Record<string, unknown>>
      | RawBody,
    options: DeliverOptions = {},
  ): Promise<DeliverResult> {
    const { body, contentType } = Array.isArray(input)
      ? {
          body: input.map((r) => JSON.stringify(r)).join("\n"),
          contentType: "application/x-ndjson",
        }
      : isRawBody(input)
        ? input
        : { body: JSON.stringify(input), contentType: "application/json" };
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    const res = await this.raw(
      "POST",
      `/v1/exchange/${encodeURIComponent(agreementId)}${encodeSubpath(options.subpath)}`,
      agreementScope(agreementId),
      {
        idempotent: true,
        body,
        headers: {
          "Content-Type": contentType,
          "Idempotency-Key": idempotencyKey,
          ...(options.purpose === undefined ? {} : { "Data-Purpose": options.purpose }),
        },
      },
    );
    return {
      records: Number(res.headers.get("X-Records") ?? "0"),
      idempotencyKey,
      response: await res.json(),
    };
  }

  /** The agreements the partner is party to (with quota used); needs at least one active one. */
  async agreements(): Promise<PartnerAgreement[]> {
    const page = await this.unwrap(this.api.GET("/v1/agreements", { fetch: this.via("") }));
    return page.items;
  }

  // ------------------------------------------------------------ transfers

  /** The consumer starts a read transfer (202 running; the same key gives the same transfer). */
  async startTransfer(
    agreementId: string,
    options: Omit<ReadOptions, "accept" | "query"> & { query?: string } = {},
  ): Promise<Transfer> {
    const res = await this.raw("POST", "/v1/transfers", agreementScope(agreementId), {
      idempotent: true,
      body: JSON.stringify({
        agreement: agreementId,
        ...(options.subpath === undefined ? {} : { subpath: encodeSubpath(options.subpath) }),
        ...(options.query === undefined ? {} : { query: options.query }),
      }),
      headers: {
        "Content-Type": "application/json",
        "Idempotency-Key": options.idempotencyKey ?? crypto.randomUUID(),
        ...(options.purpose === undefined ? {} : { "Data-Purpose": options.purpose }),
      },
    });
    return (await res.json()) as Transfer;
  }

  async transfer(agreementId: string, transferId: string): Promise<Transfer> {
    const res = await this.raw(
      "GET",
      `/v1/transfers/${encodeURIComponent(transferId)}`,
      agreementScope(agreementId),
      { idempotent: true },
    );
    return (await res.json()) as Transfer;
  }

  async transfers(
    agreementId: string,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<{ items: Transfer[]; next: string | null }> {
    const q = new URLSearchParams({ agreement: agreementId });
    if (page.limit !== undefined) q.set("limit", String(page.limit));
    if (page.cursor !== undefined) q.set("cursor", page.cursor);
    const res = await this.raw("GET", `/v1/transfers?${q}`, agreementScope(agreementId), {
      idempotent: true,
    });
    return (await res.json()) as { items: Transfer[]; next: string | null };
  }

  /** Polls until the transfer leaves `awaiting_upload` / `running`. */
  async waitForTransfer(
    agreementId: string,
    transferId: string,
    options: { intervalMs?: number; timeoutMs?: number } = {},
  ): Promise<Transfer> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    for (;;) {
      const t = await this.transfer(agreementId, transferId);
      if (FINAL_STATES.has(t.state)) return t;
      if (Date.now() >= deadline) {
        throw new GatewayUnreachable(`transfer ${transferId} is still ${t.state}`);
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
    }
  }

  /** The body of a ready transfer, from its short-lived URL (no token needed there). */
  async download(transfer: Transfer): Promise<Response> {
    if (typeof transfer.url !== "string") {
      throw new TypeError(`transfer ${transfer.id} has no URL (state ${transfer.state})`);
    }
    const res = await this.fetchFn(transfer.url);
    if (!res.ok) throw await GatewayProblem.from(res);
    return res;
  }

  /**
   * The provider delivers a large body: asks for an upload, PUTs the body to
   * its URL with the headers given, and completes it (202 running).
   */
  async upload(
    agreementId: string,
    body: string | Uint8Array,
    options: { contentType: UploadContentType; contentEncoding?: "gzip"; purpose?: string },
  ): Promise<Transfer> {
    const created = await this.raw("POST", "/v1/uploads", agreementScope(agreementId), {
      idempotent: false,
      body: JSON.stringify({
        agreement: agreementId,
        contentType: options.contentType,
        ...(options.contentEncoding === undefined
          ? {}
          : { contentEncoding: options.contentEncoding }),
      }),
      headers: {
        "Content-Type": "application/json",
        ...(options.purpose === undefined ? {} : { "Data-Purpose": options.purpose }),
      },
    });
    const upload = (await created.json()) as Upload;
    const put = await this.fetchFn(upload.uploadUrl, {
      method: "PUT",
      headers: upload.headers,
      body,
    });
    if (!put.ok) throw await GatewayProblem.from(put);
    await put.body?.cancel();
    const completed = await this.raw(
      "POST",
      `/v1/transfers/${encodeURIComponent(upload.id)}/complete`,
      agreementScope(agreementId),
      { idempotent: true },
    );
    return (await completed.json()) as Transfer;
  }

  // ------------------------------------------------------------ catalog and offers

  /** One page of the catalog: the datasets the partner may ask for, with their offers. */
  catalog(page: { limit?: number; cursor?: string } = {}): Promise<CatalogPage> {
    return this.unwrap(
      this.api.GET("/v1/catalog", { params: { query: page }, fetch: this.via("catalog") }),
    );
  }

  /** Every catalog entry, page after page. */
  async *catalogEntries(pageSize = 100): AsyncGenerator<CatalogEntry> {
    let cursor: string | undefined;
    do {
      const page = await this.catalog({
        limit: pageSize,
        ...(cursor === undefined ? {} : { cursor }),
      });
      yield* page.items;
      cursor = page.next ?? undefined;
    } while (cursor !== undefined);
  }

  /** One page of the catalog as DCAT 3 JSON-LD (a `dcat:Catalog`). */
  async catalogJsonLd(page: { limit?: number; cursor?: string } = {}): Promise<unknown> {
    const q = new URLSearchParams();
    if (page.limit !== undefined) q.set("limit", String(page.limit));
    if (page.cursor !== undefined) q.set("cursor", page.cursor);
    const res = await this.raw("GET", `/v1/catalog${q.size > 0 ? `?${q}` : ""}`, "catalog", {
      idempotent: true,
      headers: { Accept: "application/ld+json" },
    });
    return res.json();
  }

  /** Publishes an offer on one of the partner's own datasets. */
  publishOffer(dataset: string, offer: OfferInput): Promise<Offer> {
    return this.unwrap(
      this.api.POST("/v1/datasets/{id}/offers", {
        params: { path: { id: dataset } },
        body: offer,
        fetch: this.via("catalog"),
      }),
    );
  }

  async offers(dataset: string, status?: "active" | "withdrawn"): Promise<Offer[]> {
    const page = await this.unwrap(
      this.api.GET("/v1/datasets/{id}/offers", {
        params: { path: { id: dataset }, query: status === undefined ? {} : { status } },
        fetch: this.via("catalog"),
      }),
    );
    return page.items;
  }

  withdrawOffer(dataset: string, offer: string, reason?: string): Promise<Offer> {
    return this.unwrap(
      this.api.DELETE("/v1/datasets/{id}/offers/{offer}", {
        params: { path: { id: dataset, offer } },
        ...(reason === undefined ? {} : { body: { reason } }),
        fetch: this.via("catalog"),
      }),
    );
  }

  // ------------------------------------------------------------ agreement requests

  /** Asks for an offer (all of it, or some of its actions, fields and purposes). */
  requestAgreement(input: AgreementRequestInput): Promise<AgreementRequest> {
    return this.unwrap(
      this.api.POST("/v1/agreement-requests", { body: input, fetch: this.via("catalog") }),
    );
  }

  agreementRequests(
    filter: {
      state?: AgreementRequest["state"];
      role?: "provider" | "consumer";
      limit?: number;
      cursor?: string;
    } = {},
  ): Promise<AgreementRequestList> {
    return this.unwrap(
      this.api.GET("/v1/agreement-requests", {
        params: { query: filter },
        fetch: this.via("catalog"),
      }),
    );
  }

  agreementRequest(id: string): Promise<AgreementRequest> {
    return this.unwrap(
      this.api.GET("/v1/agreement-requests/{id}", {
        params: { path: { id } },
        fetch: this.via("catalog"),
      }),
    );
  }

  /** The provider approves: the agreement exists (active) when this resolves; see `.agreement`. */
  approveRequest(id: string, reason?: string): Promise<AgreementRequest> {
    return this.unwrap(
      this.api.POST("/v1/agreement-requests/{id}/approve", {
        params: { path: { id } },
        ...(reason === undefined ? {} : { body: { reason } }),
        fetch: this.via("catalog"),
      }),
    );
  }

  rejectRequest(id: string, reason: string): Promise<AgreementRequest> {
    return this.unwrap(
      this.api.POST("/v1/agreement-requests/{id}/reject", {
        params: { path: { id } },
        body: { reason },
        fetch: this.via("catalog"),
      }),
    );
  }

  /** The consumer withdraws its own request while it waits. */
  cancelRequest(id: string, reason?: string): Promise<AgreementRequest> {
    return this.unwrap(
      this.api.POST("/v1/agreement-requests/{id}/cancel", {
        params: { path: { id } },
        ...(reason === undefined ? {} : { body: { reason } }),
        fetch: this.via("catalog"),
      }),
    );
  }
}

function isRawBody(v: unknown): v is RawBody {
  return (
    typeof v === "object" &&
    v !== null &&
    "contentType" in v &&
    typeof (v as RawBody).contentType === "string" &&
    "body" in v &&
    (typeof (v as RawBody).body === "string" || (v as RawBody).body instanceof Uint8Array)
  );
}
