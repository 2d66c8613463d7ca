/**
 * One exchange, end to end: decide on fresh state, call the backend with the
 * gateway's own token, guard what comes back (or what is delivered), meter it
 * exactly once while re-checking every status and the versions of the terms
 * atomically, and only then release. Any failure on the way releases nothing.
 *
 * Idempotency-Key: a read's retry (same agreement, same request) answers the
 * body released the first time, kept sealed with the key's claim, without
 * calling the provider, after a fresh decision; if the terms changed since,
 * it is decided, fetched, cut and metered anew. Terms that change while an
 * exchange runs are caught by the metering transaction: the exchange is then
 * decided again and the buffered body cut again under the new terms (or refused).
 *
 * A DPoP proof's jti is claimed once per request: a read's beside its first
 * state read (before the provider is called), a deliver's in its metering
 * transaction, or on its own before a refusal is counted or a deliver's
 * retry is sent again, so a replayed proof is refused and counts nothing.
 */
import { createHash, createHmac, hash, randomUUID } from "node:crypto";
import { decide, type ExchangeState } from "../../policies/decide.ts";
import {
  type GuardResult,
  guardPayload,
  type MediaKind,
  mediaKindOf,
  type UninspectableDetail,
} from "../../policies/guard/index.ts";
import type { Action, Agreement, Dataset, Partner, TradeRules } from "../../policies/model.ts";
import type { VerifiedProof } from "../auth/dpop.ts";
import type { AccessClaims } from "../auth/tokens.ts";
import { GatewayError, StoreUnavailableError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { refuseIfRotated } from "../http/auth.ts";
import { replayedProof } from "../http/sender.ts";
import { str } from "../store/codec.ts";
import {
  claimOf,
  type IdempotencyClaim,
  type MeteringOutcome,
  type MeteringReceipt,
  type MeteringRequest,
  type RefusalKind,
  sameTerms,
  type TermsVersions,
} from "../store/meter.ts";
import { idempotencyKey } from "../store/meter-keys.ts";
import { BackendTokens } from "./backend-token.ts";
import { decodeBody } from "./content.ts";
import {
  denialError,
  meteringUnavailable,
  quotaExceeded,
  uninspectable,
  upstreamError,
  upstreamTimeout,
} from "./denials.ts";
import { upstreamUrl } from "./path.ts";
import { GuardPlans } from "./plans.ts";
import { type Released, ReplayBodies, type Stash } from "./replays.ts";
import type { UpstreamResponse } from "./upstream.ts";

export interface ExchangeInput {
  readonly action: Action;
  readonly agreementId: string;
  readonly segments: readonly string[];
  readonly rawQuery: string;
  readonly claims: AccessClaims;
  readonly purpose: string | undefined;
  readonly idempotencyKey: string | undefined;
  /** The gateway's own request id (never the caller's). */
  readonly requestId: string;
  readonly accept: string | undefined;
  /**
   * The request's DPoP proof, verified, its jti not yet claimed: a read
   * claims it beside its state read (before the provider is called), a
   * deliver in its metering transaction (before the consumer is called).
   */
  readonly proof?: VerifiedProof | undefined;
  /** The deliver body as received. */
  readonly body?: {
    bytes: Uint8Array;
    contentType: string | undefined;
    contentEncoding: string | undefined;
  };
  /** Aborted when the caller hung up (the local server; API Gateway never tells a function). */
  readonly signal?: AbortSignal | undefined;
}

/** What an exchange answers (a replay answers what its claim kept, the same shape). */
export type ExchangeOutput = Released;

interface Permitted {
  readonly agreement: Agreement;
  readonly dataset: Dataset;
  readonly provider: Partner;
  readonly consumer: Partner;
  readonly tradeRules: TradeRules;
  /** The registry copy the state was read from: metering re-checks that copy. */
  readonly replica: number | undefined;
  /** What was asked: an Idempotency-Key reused for another request is another exchange. */
  readonly fingerprint: string;
  /** The claim of this request's Idempotency-Key, read with the state (if it is in force). */
  readonly claim: IdempotencyClaim | undefined;
}

/** How an exchange settled with the meter. */
type Settled =
  | {
      readonly kind: "metered";
      readonly p: Permitted;
      readonly guarded: Cut;
      readonly request: MeteringRequest;
      readonly receipt: MeteringReceipt;
    }
  /** A deliver's retry under the same terms: sent again, not counted again. */
  | { readonly kind: "duplicate"; readonly p: Permitted; readonly guarded: Cut }
  /** A read's retry (a twin that committed first): what the twin released. */
  | { readonly kind: "replayed"; readonly output: ExchangeOutput };

type Cut = Extract<GuardResult, { ok: true }>;

/** The caller hung up before the release: nothing was metered, nothing is sent. */
export class CallerGone extends Error {
  override readonly name = "CallerGone";
}

/**
 * What an exchange uses of the gateway: the registry, the meter and the audit
 * trail, the object store (kept bodies), the transport to backends, keys,
 * settings, log, clock and the flows' figures. Never the raw store, the credentials or the outbox.
 */
export type ExchangeDeps = Pick<
  Gateway,
  | "registry"
  | "meter"
  | "audit"
  | "objects"
  | "transport"
  | "keys"
  | "pseudonyms"
  | "settings"
  | "log"
  | "clock"
  | "telemetry"
  | "dpop"
>;

const CONTENT_TYPES: Readonly<Record<MediaKind, string>> = {
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson",
  csv: "text/csv; charset=utf-8",
};
const USER_AGENT = "data-sharing-gateway/1";
const ACCEPT_ENCODING = "gzip, deflate, br";
const DEFAULT_ACCEPT = "application/json, application/x-ndjson;q=0.9, text/csv;q=0.8";
const ACCEPTABLE =
  /^(application\/(json|x-ndjson|[a-z0-9.-]+\+json)|text\/csv)(;\s*q=[01](\.\d{1,3})?)?$/i;

/**
 * Decisions one exchange may take while the flow changes under it (each
 * change is stored by an operator, so this bounds nothing a caller controls).
 */
const MAX_DECISIONS = 4;

/** Fixed phrases for answers the gateway cannot use: never a backend's own bytes. */
const UNINSPECTABLE_PHRASES: Readonly<Record<UninspectableDetail, string>> = {
  parse_error: "the provider's answer is not well-formed",
  duplicate_key: "the provider's answer names a key twice",
  too_deep: "the provider's answer nests too deep",
  not_records: "the provider's answer holds no records where the dataset says",
  not_utf8: "the provider's answer is not UTF-8",
  record_too_large: "a record of the provider's answer is over the size cap",
};

export class ExchangeService {
  private readonly plans: GuardPlans;
  private readonly backendTokens: BackendTokens;
  private readonly bodies: ReplayBodies;
  /** Exchanges whose DPoP proof is claimed already (by its own write or with the metering). */
  private readonly claimed = new WeakSet<ExchangeInput>();

  constructor(private readonly gw: ExchangeDeps) {
    this.plans = new GuardPlans(gw.pseudonyms);
    this.backendTokens = new BackendTokens(gw.keys.backendSigner, gw.settings.issuer);
    this.bodies = new ReplayBodies({
      objects: gw.objects,
      pseudonyms: gw.pseudonyms,
      inlineMaxBytes: gw.settings.replayInlineMaxBytes,
    });
  }

  /** The last Content-Type seen and its kind: a flow's backend answers the same one every time. */
  private lastMedia: { readonly type: string | null | undefined; readonly kind: MediaKind | null } =
    { type: undefined, kind: null };

  /** mediaKindOf, remembered for the last Content-Type (it is a pure function of the text). */
  private mediaKind(contentType: string | null | undefined): MediaKind | null {
    if (contentType === this.lastMedia.type) return this.lastMedia.kind;
    const kind = mediaKindOf(contentType);
    this.lastMedia = { type: contentType, kind };
    return kind;
  }

  async run(input: ExchangeInput): Promise<ExchangeOutput> {
    const permitted = await this.permit(input);
    return input.action === "read" ? this.read(input, permitted) : this.deliver(input, permitted);
  }

  private decideNow(input: ExchangeInput, state: ExchangeState) {
    const { claims, agreementId, action, purpose } = input;
    return decide(
      { caller: claims.sub, scopes: claims.scopes, agreementId, action, purpose },
      state,
      this.gw.clock(),
    );
  }

  /** The key of this request's Idempotency-Key claim, if it has one. */
  private claimKey(input: ExchangeInput, fingerprint: string) {
    return input.idempotencyKey === undefined
      ? undefined
      : idempotencyKey(input.agreementId, input.idempotencyKey, input.action, fingerprint);
  }

  /**
   * Reads the state (and the Idempotency-Key's claim) in one consistent round
   * trip and decides; a deny is counted on the flow. A token issued before
   * the caller's credentials were rotated ends here. A read's DPoP proof is
   * claimed at the same time as its first state read (two requests in
   * flight, no added wait), so a replayed proof is refused before the
   * provider is called and before anything is counted.
   */
  private async permit(input: ExchangeInput): Promise<Permitted> {
    const fingerprint = fingerprintOf(input);
    const claimKey = this.claimKey(input, fingerprint);
    let state: Awaited<ReturnType<ExchangeService["loadState"]>>;
    if (this.mustClaimBeforeRead(input)) state = await this.loadStateAndClaim(input, claimKey);
    else {
      // loadState, without a promise of its own (the common case, no proof to claim).
      try {
        state = await this.gw.registry.loadExchangeState(
          input.agreementId,
          input.claims.bind[input.agreementId],
          claimKey === undefined ? [] : [{ table: "meter", key: claimKey }],
        );
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw this.unavailable(input, err);
        throw err;
      }
    }
    const caller = [state.provider, state.consumer].find((x) => x?.id === input.claims.sub);
    refuseIfRotated(input.claims, caller?.credentialGeneration);
    const decision = this.decideNow(input, state);
    if (decision.decision === "deny") {
      if (state.agreement !== undefined) await this.count(input, state.agreement, "denied");
      throw denialError(decision.reasons);
    }
    const { agreement, dataset, provider, consumer, tradeRules } = state;
    if (!agreement || !dataset || !provider || !consumer)
      throw new Error("a permit without its state");
    return {
      agreement,
      dataset,
      provider,
      consumer,
      tradeRules,
      replica: state.replica,
      fingerprint,
      claim: claimOf(state.also[0], this.gw.clock()),
    };
  }

  /** A read's proof, claimed once (permit runs again when the flow changes under an exchange). */
  private mustClaimBeforeRead(input: ExchangeInput): boolean {
    return input.proof !== undefined && input.action === "read" && !this.claimed.has(input);
  }

  /** The state read and the proof's claim, both in flight; a refused claim wins over a read's fault. */
  private async loadStateAndClaim(
    input: ExchangeInput,
    claimKey: ReturnType<typeof idempotencyKey> | undefined,
  ) {
    const [loaded, claimed] = await Promise.allSettled([
      this.loadState(input, claimKey),
      input.proof === undefined ? undefined : this.claimProofAlone(input, input.proof),
    ]);
    if (claimed.status === "rejected") throw claimed.reason;
    if (loaded.status === "rejected") throw loaded.reason;
    return loaded.value;
  }

  /** The proof's own conditional write; a store fault refuses the exchange as metering does. */
  private async claimProofAlone(input: ExchangeInput, proof: VerifiedProof): Promise<void> {
    let claimed: boolean;
    try {
      claimed = await this.gw.dpop.replays.claim(proof, this.gw.clock());
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw this.unavailable(input, err);
      throw err;
    }
    if (!claimed) throw replayedProof();
    this.claimed.add(input);
  }

  /** Claims the request's proof on its own unless it is claimed already. */
  private async claimProofIfUnclaimed(input: ExchangeInput): Promise<void> {
    if (input.proof !== undefined && !this.claimed.has(input))
      await this.claimProofAlone(input, input.proof);
  }

  private async loadState(
    input: ExchangeInput,
    claimKey: ReturnType<typeof idempotencyKey> | undefined,
  ) {
    try {
      return await this.gw.registry.loadExchangeState(
        input.agreementId,
        input.claims.bind[input.agreementId],
        claimKey === undefined ? [] : [{ table: "meter", key: claimKey }],
      );
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw this.unavailable(input, err);
      throw err;
    }
  }

  private unavailable(input: ExchangeInput, err: unknown): GatewayError {
    this.gw.log.error("metering_unavailable", {
      requestId: input.requestId,
      message: String(err),
      cause: String((err as { cause?: unknown }).cause),
    });
    return meteringUnavailable(err);
  }

  private async read(input: ExchangeInput, p: Permitted): Promise<ExchangeOutput> {
    // Without an Idempotency-Key there is nothing to replay (and no promise to wait for).
    const replayed = input.idempotencyKey === undefined ? undefined : await this.replay(input, p);
    if (replayed !== undefined) return replayed;
    const url = upstreamUrl(p.provider.baseUrl, p.dataset.path, input.segments, input.rawQuery);
    const known = this.backendToken(input, p, p.provider, p.consumer);
    const token = typeof known === "string" ? known : await known;
    const accept =
      input.accept !== undefined && ACCEPTABLE.test(input.accept) ? input.accept : DEFAULT_ACCEPT;
    const res = await this.gw.transport({
      method: "GET",
      url,
      headers: Object.assign(this.commonHeaders(input, token), {
        Accept: accept,
        "Accept-Encoding": ACCEPT_ENCODING,
      }),
      timeoutMs: this.gw.settings.upstreamTimeoutMs,
      maxBytes: this.gw.settings.maxBodyBytes,
    });
    // A complete 200 is usable as it is (usableAnswer, without a promise of its own).
    const ok =
      res.ok && res.status === 200 ? res : await this.usableAnswer(input, p, res, "provider");
    const kind = this.mediaKind(ok.contentType);
    if (kind === null) {
      await this.count(input, p.agreement, "failed");
      throw uninspectable("the provider answered a content type the gateway cannot inspect");
    }
    const decoded = decodeBody(ok.body, ok.contentEncoding, this.gw.settings.maxBodyBytes);
    if (!decoded.ok) {
      await this.count(input, p.agreement, "failed");
      throw uninspectable(
        decoded.detail === "too_large"
          ? "the provider's answer is over the size cap once decoded"
          : "the provider's answer could not be decoded",
      );
    }
    const settled = await this.settle(input, p, decoded.text, kind);
    // A replay was counted in the figures when its twin was released.
    if (settled.kind === "replayed") return settled.output;
    if (settled.kind === "metered") this.released(settled.request, settled.receipt);
    return {
      body: settled.guarded.body,
      contentType: CONTENT_TYPES[kind],
      records: settled.guarded.records,
    };
  }

  private async deliver(input: ExchangeInput, p: Permitted): Promise<ExchangeOutput> {
    const body = input.body;
    const kind = this.mediaKind(body?.contentType);
    if (body === undefined || kind === null) {
      throw new GatewayError("unsupported_media_type", "deliver JSON, NDJSON or CSV in UTF-8");
    }
    await this.checkMetadata(input, p);
    const decoded = decodeBody(body.bytes, body.contentEncoding, this.gw.settings.maxBodyBytes);
    if (!decoded.ok) {
      if (decoded.detail === "too_large") {
        throw new GatewayError("payload_too_large", "the decoded body is over the size cap");
      }
      throw new GatewayError(
        "unsupported_media_type",
        `the body could not be decoded (${decoded.detail})`,
      );
    }
    // Everything that can fail before the send is done before metering, so a
    // metered deliver is either sent or reversed.
    const url = upstreamUrl(p.consumer.baseUrl, p.dataset.path, input.segments, "");
    const token = await this.backendToken(input, p, p.consumer, p.provider);
    const forwardedKey = await this.forwardedKey(input, p);
    const settled = await this.settle(input, p, decoded.text, kind);
    if (settled.kind === "replayed") throw new Error("a deliver is never replayed");
    const metered = settled.kind === "metered" ? settled : undefined;
    let res: UpstreamResponse;
    try {
      res = await this.gw.transport({
        method: "POST",
        url,
        headers: {
          ...this.commonHeaders(input, token),
          "Content-Type": CONTENT_TYPES[kind],
          ...(forwardedKey === undefined ? {} : { "Idempotency-Key": forwardedKey }),
        },
        body: Buffer.from(settled.guarded.body),
        timeoutMs: this.gw.settings.upstreamTimeoutMs,
        maxBytes: 64 * 1024,
      });
    } catch (err) {
      if (metered !== undefined) await this.reverse(metered.request, metered.receipt);
      throw err;
    }
    const accepted = res.ok && res.status >= 200 && res.status < 300;
    if (!accepted) {
      if (metered !== undefined) await this.reverse(metered.request, metered.receipt);
      // Refuses with the code of what happened (timeout, error), counted as failed.
      await this.usableAnswer(input, settled.p, res, "consumer");
    }
    // A retry sent again (duplicate) was counted when it was first metered.
    if (metered !== undefined) this.released(metered.request, metered.receipt);
    return {
      body: JSON.stringify({ delivered: true, records: settled.guarded.records }),
      contentType: CONTENT_TYPES.json,
      records: settled.guarded.records,
    };
  }

  /**
   * Cuts the body under the terms of `first`, keeps it for retries (a read
   * with an Idempotency-Key) and meters it. When the meter finds that a
   * status or the terms changed, or that a twin with the same key committed
   * first, the exchange is decided again on fresh state and cut again.
   */
  private async settle(
    input: ExchangeInput,
    first: Permitted,
    text: string,
    kind: MediaKind,
  ): Promise<Settled> {
    let p = first;
    for (let decisions = 1; ; decisions++) {
      // At once when the plan is compiled already and lets the body through (no promise).
      const now = this.guardNow(p, text, kind);
      const guarded =
        now?.ok === true ? now : await this.guard(input, p, text, kind, input.action, now);
      if (input.action === "deliver" && this.claimHolds(p)) {
        // Sent again without a metering transaction: its proof is claimed on its own.
        await this.claimProofIfUnclaimed(input);
        return { kind: "duplicate", p, guarded };
      }
      // The last moment before anything counts: a caller that hung up is not billed.
      if (input.action === "read" && input.signal?.aborted === true)
        throw new CallerGone("the caller disconnected before the release");
      const eventId = randomUUID();
      const stash =
        input.idempotencyKey === undefined
          ? undefined
          : await this.stash(input, p, eventId, guarded, kind);
      const request = this.meteringRequest(input, p, guarded, eventId, stash);
      let outcome: MeteringOutcome;
      try {
        outcome = await this.gw.meter.meter(request);
      } catch (err) {
        // A store fault refuses (releasing nothing).
        const refusal = this.unavailable(input, err);
        await this.bodies.discard(stash);
        throw refusal;
      }
      if (outcome.kind === "metered") {
        // The proof's claim (a deliver's) was written with the metering.
        // (Only a request with a proof is ever looked up in `claimed`.)
        if (input.proof !== undefined) this.claimed.add(input);
        // The claim this exchange replaced kept a body of its own: gone with it.
        if (request.replaces !== undefined) await this.bodies.discardClaim(p.claim);
        return { kind: "metered", p, guarded, request, receipt: outcome };
      }
      await this.bodies.discard(stash);
      if (outcome.kind === "proof_replayed") throw replayedProof();
      if (outcome.kind === "quota_exceeded") {
        await this.count(input, p.agreement, "denied");
        throw quotaExceeded(outcome.counter, outcome.retryAfter);
      }
      // A twin holds the key, or a status or the terms changed: decide again,
      // on fresh state (a deny is counted and thrown by permit).
      const next = await this.permit(input);
      if (outcome.kind === "duplicate") {
        const replayed = await this.replay(input, next);
        if (replayed !== undefined) return { kind: "replayed", output: replayed };
      }
      if (decisions >= MAX_DECISIONS) {
        await this.count(input, p.agreement, "denied");
        throw denialError([
          { code: "agreement_inactive", message: "the flow changed while it ran" },
        ]);
      }
      p = next;
    }
  }

  /** The claim of this request's key was made under the terms decided now (so it may answer). */
  private claimHolds(p: Permitted): boolean {
    return p.claim !== undefined && sameTerms(p.claim.terms, termsOf(p));
  }

  /**
   * A read's retry: the body released the first time, if the claim was made
   * under the terms decided now and keeps a body. Not metered again.
   */
  private async replay(input: ExchangeInput, p: Permitted): Promise<ExchangeOutput | undefined> {
    const claimKey = this.claimKey(input, p.fingerprint);
    if (input.action !== "read" || claimKey === undefined || p.claim === undefined)
      return undefined;
    if (!this.claimHolds(p)) return undefined;
    let released: Released | undefined;
    try {
      released = await this.bodies.open(p.agreement.id, str(claimKey, "pk") ?? "", p.claim);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw this.unavailable(input, err);
      throw err;
    }
    if (released === undefined) return undefined;
    this.gw.log.info("exchange_replayed", {
      requestId: input.requestId,
      agreement: p.agreement.id,
      eventId: p.claim.eventId,
    });
    return released;
  }

  /** Seals a read's cut body for its claim (a read with an Idempotency-Key only). */
  private async stash(
    input: ExchangeInput,
    p: Permitted,
    eventId: string,
    guarded: Cut,
    kind: MediaKind,
  ): Promise<Stash | undefined> {
    const claimKey = this.claimKey(input, p.fingerprint);
    if (input.action !== "read" || claimKey === undefined) return undefined;
    try {
      return await this.bodies.stash(p.agreement.id, str(claimKey, "pk") ?? "", eventId, {
        body: guarded.body,
        contentType: CONTENT_TYPES[kind],
        records: guarded.records,
      });
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw this.unavailable(input, err);
      throw err;
    }
  }

  /**
   * The Idempotency-Key the consumer's backend gets with a deliver: derived
   * by the gateway (a keyed hash of the claim), the same for every retry of
   * one request, never the provider's own bytes.
   */
  private async forwardedKey(input: ExchangeInput, p: Permitted): Promise<string | undefined> {
    const claimKey = this.claimKey(input, p.fingerprint);
    if (claimKey === undefined) return undefined;
    const key = await this.gw.pseudonyms.derive(`forwarded-idempotency-key:v1:${p.agreement.id}`);
    return createHmac("sha256", key)
      .update(str(claimKey, "pk") ?? "")
      .digest("base64url");
  }

  /**
   * What a provider controls besides the body of a deliver: the subpath and
   * the Idempotency-Key are matched against the dataset's core markers like
   * the body, and refused (422 leak_blocked) on a match, whatever `onMarker`.
   */
  private async checkMetadata(input: ExchangeInput, p: Permitted): Promise<void> {
    const matcher = this.plans.markersFor(p.dataset);
    if (matcher === null) return;
    const probes: [string, string][] = [
      ...input.segments.map((s): [string, string] => ["subpath", s]),
      ["subpath", input.segments.join("/")],
      ...(input.idempotencyKey === undefined
        ? []
        : [["Idempotency-Key", input.idempotencyKey] as [string, string]]),
    ];
    for (const [where, value] of probes) {
      const marker = matcher.firstMatch(value);
      if (marker < 0) continue;
      await this.recordLeak(input, p, "deliver", marker, `(${where})`);
      throw new GatewayError(
        "leak_blocked",
        `the request's ${where} holds data that must not leave`,
        { status: 422 },
      );
    }
  }

  /** Built by assignment: spreads into header literals took V8's slow path on every exchange. */
  private commonHeaders(input: ExchangeInput, token: string): Record<string, string> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      "User-Agent": USER_AGENT,
      "X-Request-Id": input.requestId,
    };
    if (input.purpose !== undefined) headers["Data-Purpose"] = input.purpose;
    return headers;
  }

  /** The token for a backend: at once when one is cached, else signed (a promise). */
  private backendToken(
    input: ExchangeInput,
    p: Permitted,
    audience: Partner,
    party: Partner,
  ): string | Promise<string> {
    const claims = {
      aud: audience.id,
      agreement: p.agreement.id,
      party: party.id,
      purpose: input.purpose ?? null,
      action: input.action,
    };
    const now = this.gw.clock();
    return this.backendTokens.cached(claims, now) ?? this.backendTokens.tokenFor(claims, now);
  }

  /**
   * A backend's answer the exchange can use: for a provider only a complete
   * 200, for a consumer any 2xx. Anything else is refused with a fixed phrase
   * (never the backend's own status text, headers or body) and counted as
   * `failed` on the flow.
   */
  private async usableAnswer(
    input: ExchangeInput,
    p: Permitted,
    res: UpstreamResponse,
    who: "provider" | "consumer",
  ): Promise<Extract<UpstreamResponse, { ok: true }>> {
    if (!res.ok) {
      await this.count(input, p.agreement, "failed");
      if (res.kind === "timeout")
        throw upstreamTimeout(`the ${who}'s backend did not answer in time`);
      if (res.kind === "too_large") throw uninspectable(`the ${who}'s answer is over the size cap`);
      this.gw.log.warn("upstream_error", { who, kind: res.kind, message: res.message });
      throw upstreamError(`the ${who}'s backend could not be reached`);
    }
    const usable = who === "provider" ? res.status === 200 : res.status >= 200 && res.status < 300;
    if (!usable) {
      await this.count(input, p.agreement, "failed");
      this.gw.log.warn("upstream_error", { who, kind: "status", status: res.status });
      throw upstreamError(`the ${who}'s backend did not answer with a complete success`);
    }
    return res;
  }

  /** The guard's result with a plan compiled already; undefined when it must be compiled first. */
  private guardNow(p: Permitted, text: string, kind: MediaKind): GuardResult | undefined {
    const plan = this.plans.compiled(p.agreement, p.dataset);
    return plan === undefined ? undefined : guardPayload(plan, text, kind);
  }

  private async guard(
    input: ExchangeInput,
    p: Permitted,
    text: string,
    kind: MediaKind,
    direction: Action,
    /** The result already had from guardNow, if any. */
    had?: GuardResult,
  ): Promise<Cut> {
    const result =
      had ?? guardPayload(await this.plans.planFor(p.agreement, p.dataset), text, kind);
    if (result.ok) return result;
    if (result.reason === "uninspectable") {
      if (direction === "deliver") throw new GatewayError("unsupported_media_type", result.message);
      await this.count(input, p.agreement, "failed");
      throw uninspectable(UNINSPECTABLE_PHRASES[result.detail]);
    }
    await this.recordLeak(input, p, direction, result.marker, result.path);
    const where = direction === "read" ? "the provider's answer" : "the delivered body";
    throw new GatewayError("leak_blocked", `${where} holds data that must not leave`, {
      status: direction === "read" ? 502 : 422,
    });
  }

  private async recordLeak(
    input: ExchangeInput,
    p: Permitted,
    direction: Action,
    marker: number,
    path: string,
  ) {
    const details = {
      dataset: p.dataset.id,
      agreement: p.agreement.id,
      direction,
      rule: "core_marker",
      marker,
      pattern: p.dataset.coreMarkers[marker] ?? null,
      path,
    };
    this.gw.log.warn("leak_blocked", { requestId: input.requestId, ...details });
    await this.count(input, p.agreement, "blocked");
    await this.gw.audit
      .append({
        actor: "gateway",
        action: "exchange.leak_blocked",
        target: `agreement:${p.agreement.id}`,
        requestId: input.requestId,
        partners: [p.agreement.provider, p.agreement.consumer],
        details,
      })
      .catch((err: unknown) => this.gw.log.error("audit_unavailable", { message: String(err) }));
  }

  /**
   * A refusal counted on the flow (finance's `/metrics/flows`) and in the
   * flow's figures, once the request's proof is claimed: a deliver refused
   * before its metering transaction (which would have claimed it) claims it
   * first, so a replayed proof is refused as such and counts nothing.
   */
  private async count(input: ExchangeInput, agreement: Agreement, kind: RefusalKind) {
    await this.claimProofIfUnclaimed(input);
    this.gw.telemetry.flow(agreement.id, "exchange", { kind });
    await this.gw.meter.countRefusal(agreement, kind, this.gw.clock());
  }

  /** An exchange metered now, in the flow's figures (a replay or a retry sent again is not). */
  private released(request: MeteringRequest, receipt: MeteringReceipt): void {
    this.gw.telemetry.flow(request.agreement.id, request.action, {
      kind: "released",
      records: request.records,
      bytes: request.bytes,
      value: receipt.value,
      currency: request.agreement.price.currency,
    });
  }

  /** What the meter counts for this exchange: built once, for the metering and any reversal. */
  private meteringRequest(
    input: ExchangeInput,
    p: Permitted,
    released: { readonly records: number; readonly body: string },
    eventId: string,
    stash: Stash | undefined,
  ): MeteringRequest {
    const now = this.gw.clock();
    return {
      agreement: p.agreement,
      action: input.action,
      requestKey: input.requestId,
      idempotencyKey: input.idempotencyKey,
      fingerprint: p.fingerprint,
      records: released.records,
      bytes: Buffer.byteLength(released.body),
      now,
      replica: p.replica,
      terms: termsOf(p),
      eventId,
      claim: stash?.attributes,
      // A claim in force that this exchange did not answer from: its terms changed.
      replaces: p.claim?.event,
      // A deliver's proof is claimed with the metering: one more item, no more round trips.
      proofClaim:
        input.action === "deliver" && input.proof !== undefined && !this.claimed.has(input)
          ? this.gw.dpop.replays.claimPut(input.proof, now)
          : undefined,
    };
  }

  /** Takes back a metered deliver the consumer did not accept; a failure is logged, never thrown. */
  private async reverse(request: MeteringRequest, receipt: MeteringReceipt): Promise<void> {
    const done = await this.gw.meter.reverse(request, receipt).catch(() => false);
    if (!done)
      this.gw.log.error("metering_reversal_failed", {
        requestId: request.requestKey,
        agreement: request.agreement.id,
      });
  }
}

const termsOf = (p: Permitted): TermsVersions => ({
  agreement: p.agreement.version,
  dataset: p.dataset.version,
  tradeRules: p.tradeRules.version,
});

/**
 * Fingerprints of bodiless requests (reads): the same few subpaths and
 * queries come again and again, and a hash per exchange is a measurable
 * share of the policy work (docs/perf/exchange-repeat.md).
 */
const fingerprints = new Map<string, string>();
/** Bounds: entries, and characters of the requests kept (a query may be 4 KiB). */
const MAX_FINGERPRINTS = 1000;
const MAX_FINGERPRINT_CHARS = 256 * 1024;
let fingerprintChars = 0;

/** What an exchange asked for: action, subpath, query and, for a deliver, the body. */
function fingerprintOf(input: ExchangeInput): string {
  const asked = `${input.action}\n${input.segments.join("/")}\n${input.rawQuery}\n`;
  if (input.body === undefined) {
    let known = fingerprints.get(asked);
    if (known === undefined) {
      known = hash("sha256", asked, "base64url");
      // Oldest out first when full (a Map: a hit allocates nothing).
      while (
        fingerprints.size > 0 &&
        (fingerprints.size >= MAX_FINGERPRINTS ||
          fingerprintChars + asked.length > MAX_FINGERPRINT_CHARS)
      ) {
        const oldest = fingerprints.keys().next().value as string;
        fingerprintChars -= oldest.length;
        fingerprints.delete(oldest);
      }
      fingerprints.set(asked, known);
      fingerprintChars += asked.length;
    }
    return known;
  }
  return createHash("sha256").update(asked).update(input.body.bytes).digest("base64url");
}
