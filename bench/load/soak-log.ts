/**
 * What the soak records, kept out of the JavaScript heap it measures: every
 * exchange and token request in preallocated typed arrays (the count bound
 * of the run is their capacity), every status change in a short list.
 * Times are performance.now() milliseconds of this process.
 */

export const Kind = { read: 0, deliver: 1, token: 2, head: 3 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Status 0: no HTTP answer (the code then says why). */
export class ExchangeLog {
  readonly start: Float64Array;
  readonly end: Float64Array;
  readonly status: Uint16Array;
  readonly code: Uint16Array;
  readonly kind: Uint8Array;
  readonly agreement: Uint16Array;
  /** The partner that called (consumer for read, provider for deliver, client for token). */
  readonly caller: Uint16Array;
  /** Idempotency group (requests sharing one Idempotency-Key), or -1. */
  readonly group: Int32Array;
  /**
   * X-Records of a 200; for a token request, the secret generation it used;
   * for an exchange refused 401, the secret generation of the token it used.
   */
  readonly records: Int32Array;
  /** A 32-bit hash of a 200's body (a replay answers the same body; a new exchange another). */
  readonly bodyHash: Uint32Array;
  private readonly codeIds = new Map<string, number>([["", 0]]);
  readonly codes: string[] = [""];
  n = 0;

  constructor(readonly capacity: number) {
    this.start = new Float64Array(capacity);
    this.end = new Float64Array(capacity);
    this.status = new Uint16Array(capacity);
    this.code = new Uint16Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.agreement = new Uint16Array(capacity);
    this.caller = new Uint16Array(capacity);
    this.group = new Int32Array(capacity);
    this.records = new Int32Array(capacity);
    this.bodyHash = new Uint32Array(capacity);
  }

  get full(): boolean {
    return this.n >= this.capacity;
  }

  /** Reserves a slot at the start of a request; -1 when the log is full. */
  open(kind: Kind, agreement: number, caller: number, group: number, start: number): number {
    if (this.n >= this.capacity) return -1;
    const i = this.n++;
    this.kind[i] = kind;
    this.agreement[i] = agreement;
    this.caller[i] = caller;
    this.group[i] = group;
    this.start[i] = start;
    this.end[i] = Number.NaN;
    return i;
  }

  close(i: number, end: number, status: number, code: string, records: number, hash = 0): void {
    this.end[i] = end;
    this.status[i] = status;
    this.code[i] = this.codeId(code);
    this.records[i] = records;
    this.bodyHash[i] = hash;
  }

  codeOf(i: number): string {
    return this.codes[this.code[i] as number] ?? "";
  }

  private codeId(code: string): number {
    let id = this.codeIds.get(code);
    if (id === undefined) {
      // Codes are few (the contract's table); anything else is folded.
      const key = this.codes.length < 200 ? code : "other";
      id = this.codeIds.get(key) ?? this.codes.length;
      if (id === this.codes.length) {
        this.codes.push(key);
        this.codeIds.set(key, id);
      }
    }
    return id;
  }
}

/** "amend": a change of the agreement's terms (not of any status). */
export type Direction = "down" | "up" | "rotate" | "amend";

export interface StatusChange {
  /** "partner:<id>" or "agreement:<id>". */
  readonly entity: string;
  readonly op: string;
  readonly direction: Direction;
  readonly sentAt: number;
  readonly answeredAt: number;
  readonly status: number;
  readonly code: string;
  /** The status the answer reports (partners and agreements), if any. */
  readonly to: string | null;
  /** Injected by the self-check: never sent to the gateway. */
  readonly phantom?: boolean;
}

/** A check after a credential rotation: the old secret must be refused at once. */
export interface RotationCheck {
  readonly partner: string;
  readonly at: number;
  readonly status: number;
  readonly code: string;
}
