/** Worker entry: runs closed-loop loads on request, one at a time. */
import { parentPort } from "node:worker_threads";
import { closedLoop, type LoadSpec } from "./closed-loop.ts";

const port = parentPort;
if (port === null) throw new Error("load-worker.ts runs as a worker thread");
port.on("message", (spec: LoadSpec | "stop") => {
  if (spec === "stop") {
    port.close();
    return;
  }
  closedLoop(spec).then(
    (result) => port.postMessage({ ok: true, result }, [result.latenciesUs.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ ok: false, error: String(err) }),
  );
});
port.postMessage("ready");
