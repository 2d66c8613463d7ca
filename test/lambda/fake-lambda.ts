/**
 * A Lambda endpoint on loopback for the bundled functions: the Invoke
 * operation of the Lambda REST API (`POST /2015-03-31/functions/{name}/invocations`)
 * routed to hosted functions by the ARN the template's environment names.
 * An `Event` invocation is answered 202 at once and run afterwards, as Lambda
 * queues it; `RequestResponse` answers with the result. It checks no SigV4
 * signature: who may invoke what is proven against the template's policies.
 */
import { createServer, type Server } from "node:http";
import type { HostedFunction } from "./host.ts";

export interface FakeLambdaRun {
  readonly functionName: string;
  readonly event: unknown;
  readonly result?: unknown;
  readonly error?: string;
}

export interface FakeLambda {
  readonly endpoint: string;
  /** Serves invocations of `arn` (an alias's ARN, as the environment names it) by `fn`. */
  addFunction(arn: string, fn: HostedFunction): void;
  /** Resolves when every run started so far (and any they started) has ended; then gives them. */
  settled(): Promise<FakeLambdaRun[]>;
  close(): Promise<void>;
}

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export async function startFakeLambda(): Promise<FakeLambda> {
  const functions = new Map<string, HostedFunction>();
  const running = new Set<Promise<void>>();
  let runs: FakeLambdaRun[] = [];
  const find = (name: string, qualifier: string | null): HostedFunction | undefined =>
    functions.get(qualifier === null ? name : `${name}:${qualifier}`);

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://lambda.local");
      const match = INVOKE.exec(url.pathname);
      const fail = (status: number, type: string, message: string) => {
        res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
        res.end(JSON.stringify({ Type: "User", message }));
      };
      if (req.method !== "POST" || match?.[1] === undefined)
        return fail(404, "UnknownOperationException", `${req.method} ${url.pathname}`);
      const name = decodeURIComponent(match[1]);
      const fn = find(name, url.searchParams.get("Qualifier"));
      if (fn === undefined)
        return fail(404, "ResourceNotFoundException", `Function not found: ${name}`);
      const raw = Buffer.concat(chunks).toString("utf8");
      let event: unknown;
      try {
        event = raw === "" ? {} : JSON.parse(raw);
      } catch {
        return fail(
          400,
          "InvalidRequestContentException",
          "Could not parse request body into json",
        );
      }
      const type = req.headers["x-amz-invocation-type"] ?? "RequestResponse";
      const run = fn.invoke(event).then(
        (result) => {
          runs.push({ functionName: fn.name, event, result });
          return result;
        },
        (error: unknown) => {
          runs.push({ functionName: fn.name, event, error: String(error) });
          throw error;
        },
      );
      if (type === "Event") {
        const tracked = run.then(
          () => undefined,
          () => undefined,
        );
        running.add(tracked);
        void tracked.finally(() => running.delete(tracked));
        res.writeHead(202, { "x-amzn-requestid": `fake-${runs.length}` });
        return res.end();
      }
      run.then(
        (result) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(result ?? null));
        },
        (error: unknown) => {
          res.writeHead(200, { "x-amz-function-error": "Unhandled" });
          res.end(JSON.stringify({ errorMessage: String(error) }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    addFunction(arn, fn) {
      functions.set(arn, fn);
    },
    async settled() {
      while (running.size > 0) await Promise.all([...running]);
      const done = runs;
      runs = [];
      return done;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
