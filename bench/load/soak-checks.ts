/**
 * The soak's checks, as pure functions of what it recorded (and of what
 * /metrics answered), so that the self-check can feed them violations.
 */
import { percentileOf, robustSlope, slope } from "./percentiles.ts";
import { type ExchangeLog, Kind, type RotationCheck, type StatusChange } from "./soak-log.ts";
import type { SoakWorld } from "./soak-world.ts";

export interface CheckResult {
  readonly check: string;
  readonly pass: boolean;
  readonly figures: Record<string, unknown>;
  /** The first violations, described. */
  readonly violations: readonly string[];
}

const MAX_LISTED = 20;
const STATUS_DENIALS = new Set(["partner_suspended", "partner_revoked", "agreement_inactive"]);

// ------------------------------------------------------------------ windows

export interface Windows {
  /** Surely down: from the answer of the change that took it down to the sending of the one that brought it back. */
  readonly down: readonly (readonly [number, number])[];
  /** Possibly down: from the sending of the first to the answer of the second. */
  readonly unsure: readonly (readonly [number, number])[];
}

export function windowsOf(changes: readonly StatusChange[]): Map<string, Windows> {
  const byEntity = new Map<string, StatusChange[]>();
  for (const c of changes) {
    if (c.direction === "rotate" || c.direction === "amend") continue;
    const list = byEntity.get(c.entity) ?? [];
    byEntity.set(c.entity, list);
    list.push(c);
  }
  const out = new Map<string, Windows>();
  for (const [entity, list] of byEntity) {
    list.sort((a, b) => a.sentAt - b.sentAt);
    const down: [number, number][] = [];
    const unsure: [number, number][] = [];
    let sureFrom: number | null = null;
    let unsureFrom: number | null = null;
    for (const c of list) {
      const ok = c.status === 200;
      if (c.direction === "down") {
        // A failed change may still have been stored: it is unsure from its sending on.
        if (unsureFrom === null) unsureFrom = c.sentAt;
        if (ok && sureFrom === null) sureFrom = c.answeredAt;
      } else if (ok && unsureFrom !== null) {
        if (sureFrom !== null && c.sentAt > sureFrom) down.push([sureFrom, c.sentAt]);
        unsure.push([unsureFrom, c.answeredAt]);
        sureFrom = null;
        unsureFrom = null;
      }
    }
    if (sureFrom !== null) down.push([sureFrom, Number.POSITIVE_INFINITY]);
    if (unsureFrom !== null) unsure.push([unsureFrom, Number.POSITIVE_INFINITY]);
    out.set(entity, { down, unsure });
  }
  return out;
}

const within = (t: number, ranges: readonly (readonly [number, number])[] | undefined) =>
  ranges?.some(([from, to]) => t >= from && t < to) ?? false;

const overlaps = (
  from: number,
  to: number,
  ranges: readonly (readonly [number, number])[] | undefined,
) => ranges?.some(([a, b]) => from <= b && to >= a) ?? false;

// ------------------------------------------------------------------ (a) revocation

export function checkRevocation(
  log: ExchangeLog,
  world: SoakWorld,
  changes: readonly StatusChange[],
  /** performance.now() of the start of the load: times in messages are seconds since. */
  origin = 0,
): CheckResult {
  const windows = windowsOf(changes);
  const rotationsOf = new Map<string, number[]>();
  for (const c of changes) {
    if (c.direction !== "rotate" || c.status !== 200) continue;
    const id = c.entity.slice("partner:".length);
    const list = rotationsOf.get(id) ?? [];
    rotationsOf.set(id, list);
    list.push(c.sentAt);
  }
  const violations: string[] = [];
  let servedInWindow = 0;
  let servedAcrossRestore = 0;
  let refusedInWindow = 0;
  let wronglyRefused = 0;
  let checkedExchanges = 0;
  const at = (t: number) => `${((t - origin) / 1000).toFixed(3)}s`;
  for (let i = 0; i < log.n; i++) {
    const a = world.agreements[log.agreement[i] as number];
    if (a === undefined) continue;
    const provider = world.partners[a.provider]?.id ?? "";
    const consumer = world.partners[a.consumer]?.id ?? "";
    const caller = world.partners[log.caller[i] as number]?.id ?? "";
    const kind = log.kind[i];
    const status = log.status[i] as number;
    const code = log.codeOf(i);
    const start = log.start[i] as number;
    const end = log.end[i] as number;
    const entities =
      kind === Kind.token
        ? [`partner:${caller}`, `agreement:${a.id}`]
        : [`partner:${provider}`, `partner:${consumer}`, `agreement:${a.id}`];
    // Served although every status read it made came before the change that
    // brought its party or agreement back was even sent: it saw the down state.
    const downBy = entities.find((e) =>
      windows.get(e)?.down.some(([from, to]) => start >= from && end < to),
    );
    const range =
      downBy === undefined
        ? undefined
        : windows.get(downBy)?.down.find(([from, to]) => start >= from && end < to);
    const startedDown = entities.some((e) => within(start, windows.get(e)?.down));
    if (kind !== Kind.token) checkedExchanges++;
    if (downBy !== undefined && status === 200) {
      servedInWindow++;
      if (violations.length < MAX_LISTED)
        violations.push(
          `${kind === Kind.token ? "token" : kind === Kind.read ? "read" : "deliver"} on ${a.id} from ${at(start)} to ${at(end)} was answered 200; ${downBy} was down from ${at(range?.[0] ?? Number.NaN)} (answer) to ${at(range?.[1] ?? Number.NaN)} (next change sent)`,
        );
      continue;
    }
    if (startedDown) {
      if (status === 200) servedAcrossRestore++;
      else refusedInWindow++;
      continue;
    }
    // Refused for a status while every status involved was surely up the whole time.
    const everyone = [`partner:${provider}`, `partner:${consumer}`, `agreement:${a.id}`];
    const unsure = everyone.some((e) => overlaps(start, end, windows.get(e)?.unsure));
    let wrongful = false;
    if (kind !== Kind.token) {
      wrongful = status === 403 && STATUS_DENIALS.has(code) && !unsure;
    } else if (status === 401 && code === "invalid_client") {
      const rotatedMeanwhile = (rotationsOf.get(caller) ?? []).filter((s) => s < end).length;
      wrongful =
        !overlaps(start, end, windows.get(`partner:${caller}`)?.unsure) &&
        rotatedMeanwhile <= (log.records[i] as number);
    } else if (status === 400 && code === "invalid_scope") {
      wrongful = !unsure;
    }
    if (wrongful) {
      wronglyRefused++;
      if (violations.length < MAX_LISTED)
        violations.push(
          `${kind === Kind.token ? "token" : "exchange"} on ${a.id} from ${at(start)} to ${at(end)} was refused ${status} ${code} while all its parties and the agreement were active`,
        );
    }
  }
  let windowCount = 0;
  for (const w of windows.values()) windowCount += w.down.length;
  return {
    check: "revocation",
    pass: servedInWindow === 0 && wronglyRefused === 0,
    figures: {
      statusChanges: changes.filter((c) => c.direction !== "rotate").length,
      downWindows: windowCount,
      exchangesChecked: checkedExchanges,
      refusedInWindow,
      servedInWindow,
      // Started while down, ended after the restoring change was sent: either answer is right.
      servedAcrossRestore,
      wronglyRefused,
    },
    violations,
  };
}

// ------------------------------------------------------------------ (b) counts

export interface ExpectedFlow {
  requests: number;
  records: number;
  value: number;
  quotaRefusals: number;
  minRefusedRecords: number;
}

/**
 * What finance must see per agreement: every 200, and within an
 * Idempotency-Key group every distinct body once. A retry answers the body
 * released the first time (the same bytes: not counted again); one decided
 * anew after an amendment calls the provider again, whose every answer
 * differs (counted again). A retry that released fresh data unmetered would
 * show here as a count finance does not have.
 */
export function expectedFlows(log: ExchangeLog, world: SoakWorld): Map<string, ExpectedFlow> {
  const out = new Map<string, ExpectedFlow>();
  for (const a of world.agreements)
    out.set(a.id, {
      requests: 0,
      records: 0,
      value: 0,
      quotaRefusals: 0,
      minRefusedRecords: Number.POSITIVE_INFINITY,
    });
  const seenGroups = new Set<string>();
  for (let i = 0; i < log.n; i++) {
    if (log.kind[i] === Kind.token || log.kind[i] === Kind.head) continue;
    const a = world.agreements[log.agreement[i] as number];
    const e = a === undefined ? undefined : out.get(a.id);
    if (a === undefined || e === undefined) continue;
    const status = log.status[i];
    if (status === 429 && log.codeOf(i) === "quota_exceeded") {
      e.quotaRefusals++;
      const r = log.kind[i] === Kind.read ? world.recordsPerRead : world.recordsPerDeliver;
      e.minRefusedRecords = Math.min(e.minRefusedRecords, r);
    }
    if (status !== 200) continue;
    const g = log.group[i] as number;
    if (g >= 0) {
      const answer = `${g}:${log.bodyHash[i]}`;
      if (seenGroups.has(answer)) continue;
      seenGroups.add(answer);
    }
    const records = log.records[i] as number;
    e.requests++;
    e.records += records;
    e.value += a.price.perRequest + a.price.perRecord * records;
  }
  return out;
}

export interface FlowRow {
  readonly agreement?: string;
  readonly requests: number;
  readonly records: number;
  readonly value: { readonly currency: string; readonly amount: number };
}

export interface Reconcile {
  readonly consistent: boolean;
  readonly events: number;
  readonly differences: readonly unknown[];
}

export function checkCounts(
  world: SoakWorld,
  expected: Map<string, ExpectedFlow>,
  rows: readonly FlowRow[],
  reconcile: Reconcile,
  options: { sameUtcDay: boolean },
): CheckResult {
  const violations: string[] = [];
  const seen = new Map<string, { requests: number; records: number; value: number }>();
  for (const r of rows) {
    if (r.agreement === undefined) continue;
    const s = seen.get(r.agreement) ?? { requests: 0, records: 0, value: 0 };
    s.requests += r.requests;
    s.records += r.records;
    s.value += r.value.amount;
    seen.set(r.agreement, s);
  }
  let served = 0;
  let metered = 0;
  let quotaChecked = 0;
  for (const a of world.agreements) {
    const e = expected.get(a.id);
    const m = seen.get(a.id) ?? { requests: 0, records: 0, value: 0 };
    if (e === undefined) continue;
    served += e.requests;
    metered += m.requests;
    for (const field of ["requests", "records", "value"] as const) {
      if (e[field] !== m[field] && violations.length < MAX_LISTED)
        violations.push(`${a.id}: ${field} served ${e[field]}, /metrics/flows says ${m[field]}`);
    }
    const perDay = a.quota.requestsPerDay;
    if (perDay !== undefined && options.sameUtcDay) {
      quotaChecked++;
      if (m.requests > perDay)
        violations.push(`${a.id}: ${m.requests} requests metered over a daily quota of ${perDay}`);
      if (e.quotaRefusals > 0 && m.requests !== perDay)
        violations.push(
          `${a.id}: refused for quota ${e.quotaRefusals} times with ${m.requests} of ${perDay} requests used`,
        );
    }
    const perMonth = a.quota.recordsPerMonth;
    if (perMonth !== undefined) {
      quotaChecked++;
      if (m.records > perMonth)
        violations.push(`${a.id}: ${m.records} records metered over a quota of ${perMonth}`);
      if (e.quotaRefusals > 0 && perMonth - m.records >= e.minRefusedRecords)
        violations.push(
          `${a.id}: refused for quota with ${perMonth - m.records} records left, enough for ${e.minRefusedRecords}`,
        );
    }
  }
  for (const id of seen.keys()) {
    if (!expected.has(id) && violations.length < MAX_LISTED)
      violations.push(`/metrics/flows names an agreement the soak did not make: ${id}`);
  }
  if (!reconcile.consistent)
    violations.push(
      `/metrics/reconcile is not consistent: ${JSON.stringify(reconcile.differences).slice(0, 500)}`,
    );
  if (reconcile.events !== served)
    violations.push(
      `/metrics/reconcile recounts ${reconcile.events} events, ${served} were served`,
    );
  return {
    check: "counts",
    pass: violations.length === 0,
    figures: {
      agreements: world.agreements.length,
      served,
      metered,
      reconcileEvents: reconcile.events,
      reconcileConsistent: reconcile.consistent,
      quotaAgreementsChecked: quotaChecked,
      quotaRefusals: [...expected.values()].reduce((n, e) => n + e.quotaRefusals, 0),
    },
    violations,
  };
}

// ------------------------------------------------------------------ (c) answers

const EXCHANGE_ANSWERS: Readonly<Record<number, ReadonlySet<string>>> = {
  200: new Set([""]),
  403: STATUS_DENIALS,
  429: new Set(["quota_exceeded"]),
  502: new Set(["upstream_error"]),
  503: new Set(["metering_unavailable"]),
  504: new Set(["upstream_timeout"]),
};
/** HEAD on an exchange: refused before anything (its answer has no body, so no code). */
const HEAD_ANSWERS: Readonly<Record<number, ReadonlySet<string>>> = { 405: new Set([""]) };
const TOKEN_ANSWERS: Readonly<Record<number, ReadonlySet<string>>> = {
  200: new Set([""]),
  400: new Set(["invalid_scope"]),
  401: new Set(["invalid_client"]),
};

export function checkAnswers(
  log: ExchangeLog,
  world: SoakWorld,
  changes: readonly StatusChange[],
  rotations: readonly RotationCheck[],
  extra: { chaosFailures: readonly string[]; gatewayErrorLogs: Readonly<Record<string, number>> },
): CheckResult {
  const violations: string[] = [];
  const byAnswer: Record<string, number> = {};
  const rotationsOf = new Map<string, number[]>();
  for (const c of changes) {
    if (c.direction !== "rotate") continue;
    const list = rotationsOf.get(c.entity) ?? [];
    rotationsOf.set(c.entity, list);
    list.push(c.sentAt);
  }
  let fiveHundreds = 0;
  let unexpected = 0;
  let contract5xx = 0;
  for (let i = 0; i < log.n; i++) {
    const status = log.status[i] as number;
    const code = log.codeOf(i);
    const kind = log.kind[i];
    const label = `${kind === Kind.token ? "token" : kind === Kind.head ? "head" : "exchange"} ${status}${code === "" ? "" : ` ${code}`}`;
    byAnswer[label] = (byAnswer[label] ?? 0) + 1;
    const allowed = (
      kind === Kind.token ? TOKEN_ANSWERS : kind === Kind.head ? HEAD_ANSWERS : EXCHANGE_ANSWERS
    )[status];
    let ok = allowed?.has(code) ?? false;
    if (kind !== Kind.token && kind !== Kind.head && status === 401 && code === "invalid_token") {
      // Only a token whose secret was rotated (before this call ended) may be refused.
      const caller = world.partners[log.caller[i] as number]?.id ?? "";
      const rotated = (rotationsOf.get(`partner:${caller}`) ?? []).filter(
        (sent) => sent < (log.end[i] as number),
      ).length;
      ok = rotated > (log.records[i] as number);
    }
    if (ok && status === 502) {
      // Only the flaky backend may fail, and only reads call a provider.
      const a = world.agreements[log.agreement[i] as number];
      ok = kind === Kind.read && a?.provider === world.flakyProvider;
    }
    if (status >= 500 && ok) contract5xx++;
    if (ok) continue;
    if (status === 500 || status === 0) fiveHundreds++;
    else unexpected++;
    if (violations.length < MAX_LISTED) {
      const a = world.agreements[log.agreement[i] as number];
      violations.push(`${label} on ${a?.id ?? "?"}`);
    }
  }
  for (const c of changes) {
    if (c.status === 200 || c.phantom) continue;
    // An amendment is checked against the agreement rules: a party suspended
    // or revoked by another episode meanwhile refuses it, as it should.
    if (c.direction === "amend" && c.status === 422 && c.code === "partner_not_active") continue;
    if (c.status >= 500 || c.status === 0) fiveHundreds++;
    else unexpected++;
    if (violations.length < MAX_LISTED)
      violations.push(`operator ${c.op} of ${c.entity} answered ${c.status} ${c.code}`);
  }
  for (const r of rotations) {
    if (r.status === 401 && r.code === "invalid_client") continue;
    unexpected++;
    if (violations.length < MAX_LISTED)
      violations.push(`the old secret of ${r.partner} got ${r.status} ${r.code} after a rotation`);
  }
  for (const f of extra.chaosFailures) if (violations.length < MAX_LISTED) violations.push(f);
  const internal = extra.gatewayErrorLogs.internal_error ?? 0;
  if (internal > 0) violations.push(`the gateway logged internal_error ${internal} times`);
  return {
    check: "answers",
    pass:
      fiveHundreds === 0 && unexpected === 0 && extra.chaosFailures.length === 0 && internal === 0,
    figures: {
      serverErrors: fiveHundreds,
      unexpectedAnswers: unexpected,
      contract5xx,
      rotationsChecked: rotations.length,
      byAnswer,
      gatewayErrorLogs: extra.gatewayErrorLogs,
    },
    violations,
  };
}

// ------------------------------------------------------------------ (d) memory

export interface HeapSample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly heapUsed: number;
  /** The part of heapUsed that is compiled code (V8's code spaces). */
  readonly codeUsed: number;
}

export function checkMemory(
  samples: readonly HeapSample[],
  thresholdMBPerMin: number,
  gc: string,
  servedPerSecond: number,
): CheckResult {
  const mb = samples.map((s) => s.heapUsed / 2 ** 20);
  const ts = samples.map((s) => s.t);
  // The verdict uses the robust slope; the least-squares one is printed beside it.
  const perSecond = robustSlope(ts, mb);
  const perMinute = perSecond * 60;
  const leastSquares = slope(ts, mb) * 60;
  const code = robustSlope(
    ts,
    samples.map((s) => s.codeUsed / 2 ** 20),
  );
  const enough = samples.length >= 10;
  return {
    check: "memory",
    pass: enough && perMinute <= thresholdMBPerMin,
    figures: {
      heapSlopeMBPerMin: Number(perMinute.toFixed(3)),
      thresholdMBPerMin,
      leastSquaresMBPerMin: Number(leastSquares.toFixed(3)),
      codeSpaceMBPerMin: Number((code * 60).toFixed(3)),
      bytesPerServedExchange:
        servedPerSecond > 0 ? Math.round((perSecond * 2 ** 20) / servedPerSecond) : Number.NaN,
      heapFirstMB: Number((mb[0] ?? Number.NaN).toFixed(1)),
      heapLastMB: Number((mb[mb.length - 1] ?? Number.NaN).toFixed(1)),
      heapMaxMB: Number(Math.max(...mb).toFixed(1)),
      samples: samples.length,
      gc,
    },
    violations: enough
      ? perMinute <= thresholdMBPerMin
        ? []
        : [`the heap grew ${perMinute.toFixed(2)} MB/min, over ${thresholdMBPerMin} MB/min`]
      : [`only ${samples.length} heap samples after warm-up: run longer`],
  };
}

// ------------------------------------------------------------------ (e) figures

export function throughput(log: ExchangeLog, seconds: number): Record<string, unknown> {
  const lat: number[][] = [[], [], []];
  let exchanges = 0;
  let served = 0;
  for (let i = 0; i < log.n; i++) {
    const kind = log.kind[i] as number;
    if (kind !== Kind.token) exchanges++;
    if (log.status[i] === 200 && kind !== Kind.token) served++;
    if (log.status[i] === 200) lat[kind]?.push((log.end[i] as number) - (log.start[i] as number));
  }
  const summary = (xs: number[]) => {
    const s = Float64Array.from(xs).sort();
    return {
      count: s.length,
      p50Ms: Number(percentileOf(s, 50).toFixed(2)),
      p90Ms: Number(percentileOf(s, 90).toFixed(2)),
      p99Ms: Number(percentileOf(s, 99).toFixed(2)),
      maxMs: Number((s[s.length - 1] ?? Number.NaN).toFixed(2)),
    };
  };
  return {
    seconds: Number(seconds.toFixed(1)),
    exchanges,
    exchangesPerSecond: Number((exchanges / seconds).toFixed(1)),
    servedPerSecond: Number((served / seconds).toFixed(1)),
    read200: summary(lat[Kind.read] ?? []),
    deliver200: summary(lat[Kind.deliver] ?? []),
    token200: summary(lat[Kind.token] ?? []),
  };
}

/** The run must have exercised what it checks, or its verdict means nothing. */
export function checkCoverage(
  log: ExchangeLog,
  revocation: CheckResult,
  counts: CheckResult,
  changes: readonly StatusChange[],
): CheckResult {
  let served = 0;
  let delivers = 0;
  let grouped = 0;
  let heads = 0;
  // Retries answered with a body seen before in their group (replays), and
  // groups whose retries got a new body (decided anew after an amendment).
  let replayed = 0;
  const bodies = new Map<number, Set<number>>();
  for (let i = 0; i < log.n; i++) {
    if (log.kind[i] === Kind.head) heads++;
    if (log.kind[i] === Kind.token || log.status[i] !== 200) continue;
    served++;
    if (log.kind[i] === Kind.deliver) delivers++;
    const g = log.group[i] as number;
    if (g < 0) continue;
    grouped++;
    const seen = bodies.get(g) ?? new Set<number>();
    bodies.set(g, seen);
    if (seen.has(log.bodyHash[i] as number)) replayed++;
    seen.add(log.bodyHash[i] as number);
  }
  let decidedAnew = 0;
  for (const s of bodies.values()) if (s.size > 1) decidedAnew++;
  const amendments = changes.filter((c) => c.direction === "amend" && c.status === 200).length;
  const refusedInWindow = Number(revocation.figures.refusedInWindow ?? 0);
  const rotations = changes.filter((c) => c.direction === "rotate" && c.status === 200).length;
  const quotaRefusals = Number(counts.figures.quotaRefusals ?? 0);
  const missing = [
    served === 0 ? "no exchange was served" : "",
    delivers === 0 ? "no deliver was served" : "",
    grouped === 0 ? "no Idempotency-Key retry was served" : "",
    replayed === 0 ? "no retry was answered with the body released the first time" : "",
    heads === 0 ? "no HEAD was sent" : "",
    amendments === 0 ? "no agreement was amended" : "",
    refusedInWindow === 0 ? "no exchange met a revoked or suspended party" : "",
    rotations === 0 ? "no credential was rotated" : "",
    quotaRefusals === 0 ? "no quota was used up (lower --quota)" : "",
  ].filter((m) => m !== "");
  return {
    check: "coverage",
    pass: missing.length === 0,
    figures: {
      served,
      delivers,
      idempotentServed: grouped,
      replayed,
      groupsDecidedAnew: decidedAnew,
      heads,
      amendments,
      refusedInWindow,
      rotations,
      quotaRefusals,
    },
    violations: missing,
  };
}
