/**
 * Powertools for AWS Lambda behind the gateway's own ports, built once per
 * container:
 * - Logger: the gateway's log lines (`code`, fields, the request's
 *   `requestId` and `traceId`) with the invocation's `function_request_id`,
 *   `cold_start` and `xray_trace_id`; `message` is the code too.
 * - Metrics: per-flow business figures as CloudWatch EMF (dimension `flow`:
 *   the agreement), flushed at the end of each invocation that has any.
 * - Tracer: X-Ray subsegments for every DynamoDB and KMS call (the SDK
 *   clients are captured) and for each call to a partner backend, whose
 *   subsegment id is the parent id of the traceparent the backend receives.
 *   Loaded only when tracing is on (`tracingOn`): importing the X-Ray SDK
 *   installs an async hook (cls-hooked) that makes every promise of the
 *   process several times dearer, and its module init is most of the
 *   Powertools init; where Powertools would not trace anyway (outside
 *   Lambda, POWERTOOLS_TRACE_ENABLED=false) neither cost is paid.
 * The service name and metrics namespace come from the standard
 * POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE variables.
 */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { Level, Logger } from "../log.ts";
import { currentTrace } from "../telemetry/context.ts";
import type { FlowOutcome, Span, Telemetry } from "../telemetry/telemetry.ts";

export interface Powertools {
  readonly logger: PowertoolsLogger;
  readonly metrics: Metrics;
  /** Present only when tracing is on (`loadTracer`). */
  readonly tracer: Tracer | undefined;
}

const LEVELS: Readonly<Record<Level, "DEBUG" | "INFO" | "WARN" | "ERROR">> = {
  debug: "DEBUG",
  info: "INFO",
  warn: "WARN",
  error: "ERROR",
};

export function createPowertools(level: Level = "info", tracer?: Tracer): Powertools {
  return {
    logger: new PowertoolsLogger({ logLevel: LEVELS[level] }),
    metrics: new Metrics(),
    tracer,
  };
}

/**
 * Whether Powertools Tracer would trace here: its own rule (Tracer's
 * setTracingEnabled): in a Lambda execution environment, not SAM local or
 * the Amplify mock, and POWERTOOLS_TRACE_ENABLED not `false`.
 */
export function tracingOn(env: NodeJS.ProcessEnv = process.env): boolean {
  const execution = env.AWS_EXECUTION_ENV ?? "";
  return (
    execution !== "" &&
    execution !== "AWS_Lambda_amplify-mock" &&
    (env.AWS_SAM_LOCAL ?? "") === "" &&
    (env.POWERTOOLS_TRACE_ENABLED ?? "").toLowerCase() !== "false"
  );
}

/** Powertools Tracer, imported on demand (the bundle evaluates the X-Ray SDK only then). */
export async function loadTracer(): Promise<Tracer> {
  const { Tracer } = await import("@aws-lambda-powertools/tracer");
  return new Tracer();
}

const REFUSALS = { denied: "Denied", blocked: "Blocked", failed: "Failed" } as const;

/** The gateway's Logger interface, written through Powertools Logger. */
export function powertoolsLogger(pt: PowertoolsLogger, base: Record<string, unknown> = {}): Logger {
  const emit = (level: Level, code: string, fields?: Record<string, unknown>) => {
    const trace = currentTrace();
    const request =
      trace === undefined ? {} : { requestId: trace.requestId, traceId: trace.traceId };
    pt[level](code, { ...base, ...request, ...fields, code });
  };
  return {
    debug: (code, fields) => emit("debug", code, fields),
    info: (code, fields) => emit("info", code, fields),
    warn: (code, fields) => emit("warn", code, fields),
    error: (code, fields) => emit("error", code, fields),
    child: (fields) => powertoolsLogger(pt, { ...base, ...fields }),
  };
}

/**
 * Figures per flow (EMF) and spans (X-Ray) through Powertools. The request
 * only notes its figures (a push onto an array: nothing on the exchange's
 * hot path); Powertools Metrics builds and publishes them when the
 * invocation ends, one EMF record per flow.
 */
export function powertoolsTelemetry(pt: Powertools): Telemetry & { flush(): void } {
  const noted: { agreement: string; action: string; outcome: FlowOutcome; traceId?: string }[] = [];
  return {
    flow(agreement, action, outcome) {
      const traceId = currentTrace()?.traceId;
      noted.push({ agreement, action, outcome, ...(traceId === undefined ? {} : { traceId }) });
    },
    span(name): Span | null {
      const tracer = pt.tracer;
      if (tracer === undefined || !tracer.isTracingEnabled()) return null;
      const parent = tracer.getSegment();
      if (parent === undefined) return null;
      const sub = parent.addNewSubsegment(`## ${name}`);
      tracer.setSegment(sub);
      return {
        id: sub.id,
        annotate: (key, value) => sub.addAnnotation(key, value),
        fail: (error) => sub.addError(error instanceof Error ? error : new Error(String(error))),
        close: () => {
          sub.close();
          tracer.setSegment(parent);
        },
      };
    },
    /** Publishes the invocation's figures (nothing when there are none). */
    flush() {
      const m = pt.metrics;
      for (const { agreement, action, outcome, traceId } of noted.splice(0)) {
        m.addDimension("flow", agreement);
        m.addMetadata("action", action);
        if (traceId !== undefined) m.addMetadata("traceId", traceId);
        if (outcome.kind === "released") {
          m.addMetric("Released", MetricUnit.Count, 1);
          m.addMetric("Records", MetricUnit.Count, outcome.records);
          m.addMetric("Bytes", MetricUnit.Bytes, outcome.bytes);
          // Micro-units of the flow's currency (one currency per agreement).
          m.addMetric("Value", MetricUnit.NoUnit, outcome.value);
          m.addMetadata("currency", outcome.currency);
        } else {
          m.addMetric(REFUSALS[outcome.kind], MetricUnit.Count, 1);
        }
        m.publishStoredMetrics();
      }
    },
  };
}
