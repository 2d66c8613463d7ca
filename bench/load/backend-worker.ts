/**
 * Worker entry: a partner backend on loopback answering every GET with one
 * fixed JSON body and every POST (deliveries, gateway events) with 200 after
 * reading it, on a thread of its own.
 */
import { createServer } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const port = parentPort;
if (port === null) throw new Error("backend-worker.ts runs as a worker thread");
const body = Buffer.from((workerData as { body: string }).body);
const accepted = Buffer.from(JSON.stringify({ accepted: true }));
let gets = 0;
const server = createServer((req, res) => {
  if (req.method === "GET") {
    gets++;
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.byteLength });
    res.end(body);
    req.resume();
    return;
  }
  req.resume();
  req.on("end", () => {
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": accepted.byteLength,
    });
    res.end(accepted);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  port.postMessage({ port: typeof address === "object" && address !== null ? address.port : 0 });
});
port.on("message", (m: string) => {
  if (m === "count") port.postMessage({ gets });
  if (m === "stop") {
    server.closeAllConnections();
    server.close(() => port.close());
  }
});
