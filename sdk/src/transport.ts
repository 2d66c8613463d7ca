/**
 * Every call to the gateway goes through here: the token for the call's
 * scope, one renewal when the gateway refuses a token (it expired or was
 * rotated), and retries of idempotent calls (GETs, and calls carrying an
 * Idempotency-Key, which the gateway serves again but meters once) on
 * network failures and on the answers that say "try again": 429 with a
 * Retry-After, 503, 504, and 502 upstream_error. Backoff is exponential
 * with full jitter; a Retry-After longer than the backoff is honoured, one
 * longer than `maxRetryAfterMs` ends the retries.
 */
import { asksForNonce, type DpopProver } from "./dpop.ts";
import { GatewayUnreachable, retryAfterMs } from "./problem.ts";
import type { TokenSource } from "./tokens.ts";

export interface RetryPolicy {
  /** Retries after the first attempt (0: none). Default 3. */
  readonly retries: number;
  /** The first backoff's ceiling; doubled on each retry. Default 200 ms. */
  readonly baseDelayMs: number;
  /** No backoff is longer. Default 5 s. */
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the problem is thrown. Default 30 s. */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 3,
  baseDelayMs: 200,
  maxDelayMs: 5000,
  maxRetryAfterMs: 30_000,
};

export interface SendOptions {
  /** The token scope the call needs ("" for the client's default). */
  readonly scope: string;
  /** Whether the call may be sent again (a GET, or one carrying an Idempotency-Key). */
  readonly idempotent: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Statuses worth another attempt; 502 only when the backend failed (not for a leak or bad content). */
async function transient(res: Response): Promise<boolean> {
  if (res.status === 429) return res.headers.get("Retry-After") !== null;
  if (res.status === 503 || res.status === 504) return true;
  if (res.status !== 502) return false;
  try {
    const body = (await res.clone().json()) as { code?: unknown };
    return body.code === "upstream_error";
  } catch {
    return false;
  }
}

export class Transport {
  constructor(
    private readonly tokens: TokenSource,
    private readonly fetchFn: typeof fetch,
    private readonly retry: RetryPolicy,
    private readonly timeoutMs: number,
    private readonly random: () => number = Math.random,
    /** With a DPoP key: a fresh proof on every attempt of a call made with a DPoP token. */
    private readonly dpop?: DpopProver,
  ) {}

  /** The backoff before retry `attempt` (0-based): full jitter, at least the Retry-After. */
  delayFor(attempt: number, retryAfter: number | undefined): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt);
    return Math.max(retryAfter ?? 0, Math.floor(this.random() * ceiling));
  }

  async send(request: Request, options: SendOptions): Promise<Response> {
    let renewed = false;
    let nonceRetried = false;
    for (let attempt = 0; ; ) {
      const { token, scheme } = await this.tokens.get(options.scope);
      const headers = new Headers(request.headers);
      headers.set("Authorization", `${scheme} ${token}`);
      if (scheme === "DPoP") {
        if (this.dpop === undefined) throw new TypeError("a DPoP token needs the client's dpopKey");
        headers.set("DPoP", await this.dpop.proof(request.method, request.url, token));
      }
      const attemptRequest = new Request(request.clone(), {
        headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      let res: Response | undefined;
      let failure: unknown;
      try {
        res = await this.fetchFn(attemptRequest);
      } catch (err) {
        failure = err;
      }
      if (res !== undefined && this.dpop !== undefined) {
        this.dpop.remember(request.url, res);
        // The gateway asks for its nonce (RFC 9449 §9): once more, with it, at once.
        if (!nonceRetried && (await asksForNonce(res))) {
          nonceRetried = true;
          await res.body?.cancel();
          continue;
        }
      }
      // A refused token is renewed once; the gateway checks it before doing anything else.
      if (res?.status === 401 && !renewed) {
        renewed = true;
        this.tokens.invalidate(options.scope, token);
        await res.body?.cancel();
        continue;
      }
      const again =
        options.idempotent &&
        attempt < this.retry.retries &&
        (res === undefined ? true : await transient(res));
      if (!again) {
        if (res !== undefined) return res;
        throw new GatewayUnreachable(
          `${request.method} ${new URL(request.url).pathname} failed: ${String(failure)}`,
          { cause: failure },
        );
      }
      const wait = retryAfterMs(res?.headers.get("Retry-After") ?? null);
      if (wait !== undefined && wait > this.retry.maxRetryAfterMs && res !== undefined) return res;
      await res?.body?.cancel();
      await sleep(this.delayFor(attempt, wait));
      attempt++;
    }
  }
}
