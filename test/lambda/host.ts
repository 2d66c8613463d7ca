/**
 * Hosts bundled Lambda functions the way Lambda does, one container each: a
 * worker thread with the function's own environment, invoked with events,
 * and the AWS calls its handler made (see function-worker.mjs).
 */
import { Worker } from "node:worker_threads";
import { httpApiEvent } from "./events.ts";

export interface RecordedCall {
  /** The key of `awsClients` the call went through: `dynamodb`, `kms`, `s3`. */
  readonly service: string;
  /** The SDK command, e.g. `TransactWriteItemsCommand`. */
  readonly command: string;
  readonly input: Record<string, unknown>;
}

export interface HttpAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The body as JSON (undefined when it is not JSON). */
  readonly json: unknown;
}

export interface HostedFunction {
  readonly name: string;
  invoke(event: unknown, context?: Record<string, unknown>): Promise<unknown>;
  /** An HTTP API (payload 2.0) request through the handler. */
  http(
    method: string,
    target: string,
    options?: Parameters<typeof httpApiEvent>[2],
  ): Promise<HttpAnswer>;
  /** The calls made since the last take. */
  takeCalls(): Promise<RecordedCall[]>;
  /** What the function wrote to stdout since the last take, line by line. */
  takeLogs(): Promise<string[]>;
  close(): Promise<void>;
}

type Reply =
  | { id: number; result: unknown }
  | { id: number; error: { name: string; message: string } }
  | { id: number; calls: RecordedCall[] };

export async function hostFunction(
  name: string,
  bundleUrl: string,
  env: Record<string, string>,
): Promise<HostedFunction> {
  const worker = new Worker(new URL("./function-worker.mjs", import.meta.url), {
    env,
    workerData: { bundleUrl, functionName: name },
    // Kept, not printed: tests read what a function logs (takeLogs). Both
    // streams: Powertools writes warnings and errors to stderr (CloudWatch
    // takes both in Lambda).
    stdout: true,
    stderr: true,
  });
  let logs: string[] = [];
  for (const stream of [worker.stdout, worker.stderr]) {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      logs.push(...lines);
    });
  }
  const pending = new Map<number, (reply: Reply) => void>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", () => {
      worker.off("error", reject);
      resolve();
    });
  });
  worker.on("message", (reply: Reply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  const ask = (message: Record<string, unknown>): Promise<Reply> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage({ ...message, id });
    });

  const invoke = async (event: unknown, context?: Record<string, unknown>) => {
    const reply = await ask({ event, context });
    if ("error" in reply) throw new Error(`${name}: ${reply.error.name}: ${reply.error.message}`);
    return "result" in reply ? reply.result : undefined;
  };
  return {
    name,
    invoke,
    async http(method, target, options = {}) {
      const out = (await invoke(httpApiEvent(method, target, options))) as {
        statusCode: number;
        headers?: Record<string, string>;
        body?: string;
        isBase64Encoded?: boolean;
      };
      const body =
        out.isBase64Encoded === true
          ? Buffer.from(out.body ?? "", "base64").toString("utf8")
          : (out.body ?? "");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      return { statusCode: out.statusCode, headers: out.headers ?? {}, body, json };
    },
    async takeCalls() {
      const reply = await ask({ take: "calls" });
      return "calls" in reply ? reply.calls : [];
    },
    async takeLogs() {
      // stdout reaches this thread apart from the replies: let it catch up.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const taken = logs;
      logs = [];
      return taken;
    },
    close: async () => {
      await worker.terminate();
    },
  };
}
