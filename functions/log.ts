/**
 * Structured JSON logs, one line per event, with a stable `code` that log
 * metric filters (leak_blocked, metering_unavailable) match on. A line
 * written while a request runs carries its `requestId` and `traceId`. In
 * Lambda the same interface writes through Powertools Logger
 * (functions/lambda/powertools.ts), which adds the invocation's request id
 * and cold-start flag.
 */
import { currentTrace } from "./telemetry/context.ts";

export type Level = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(code: string, fields?: Record<string, unknown>): void;
  info(code: string, fields?: Record<string, unknown>): void;
  warn(code: string, fields?: Record<string, unknown>): void;
  error(code: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Readonly<Record<Level, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  options: { level?: Level; write?: (line: string) => void; base?: Record<string, unknown> } = {},
): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.base ?? {};
  const emit = (level: Level, code: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const trace = currentTrace();
    const request =
      trace === undefined ? {} : { requestId: trace.requestId, traceId: trace.traceId };
    write(
      JSON.stringify({
        ...base,
        ...request,
        ...fields,
        level,
        code,
        time: new Date().toISOString(),
      }),
    );
  };
  return {
    debug: (code, fields) => emit("debug", code, fields),
    info: (code, fields) => emit("info", code, fields),
    warn: (code, fields) => emit("warn", code, fields),
    error: (code, fields) => emit("error", code, fields),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests that assert on other things). */
export const silentLogger: Logger = createLogger({ write: () => {} });
