/** Real HTTP servers on loopback standing in for partner backends. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

export type Handler = (req: Received, res: ServerResponse) => void | Promise<void>;

export interface TestBackend {
  readonly url: string;
  readonly received: Received[];
  handler: Handler;
  close(): Promise<void>;
}

export async function startBackend(
  handler: Handler = (_req, res) => {
    res.end();
  },
): Promise<TestBackend> {
  const received: Received[] = [];
  const backend = { received, handler } as { received: Received[]; handler: Handler };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(r);
      void Promise.resolve(backend.handler(r, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return Object.assign(backend, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

export const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
