/**
 * The gateway's business figures and spans, as a port: in Lambda, Powertools
 * Metrics (EMF, one dimension per flow) and Tracer (X-Ray subsegments);
 * locally nothing (finance reads the same figures from /metrics/flows).
 */

/** What one exchange did, for the flow's figures. */
export type FlowOutcome =
  | {
      readonly kind: "released";
      readonly records: number;
      readonly bytes: number;
      /** Micro-units of the agreement's currency. */
      readonly value: number;
      readonly currency: string;
    }
  /** Refused: by a decision or quota, a core marker, or an answer the gateway could not use. */
  | { readonly kind: "denied" | "blocked" | "failed" };

export interface Span {
  /** 16 hex digits: the parent id of what is sent from inside the span. */
  readonly id: string;
  annotate(key: string, value: string | number | boolean): void;
  fail(error: unknown): void;
  close(): void;
}

export interface Telemetry {
  flow(agreement: string, action: string, outcome: FlowOutcome): void;
  /** A span around an outgoing call (null: this gateway records none). */
  span(name: string): Span | null;
}

export const noTelemetry: Telemetry = {
  flow: () => {},
  span: () => null,
};
