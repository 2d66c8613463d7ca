/**
 * Worker threads running TypeScript modules: a worker does not inherit the
 * tsx loader in Node 20, so it registers tsx itself before importing the
 * module. The load generator and the backend run on threads of their own so
 * that neither shares the gateway's event loop.
 */
import { Worker } from "node:worker_threads";

export function startTsWorker(module: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); }).catch((err) => { setImmediate(() => { throw err; }); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** The next message of a worker, or its error. */
export function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      worker.off("error", onError);
      worker.off("exit", onExit);
      resolve(m);
    };
    const onError = (err: Error) => {
      worker.off("message", onMessage);
      worker.off("exit", onExit);
      reject(err);
    };
    const onExit = (code: number) => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      reject(new Error(`the worker exited (${code}) before answering`));
    };
    worker.once("message", onMessage);
    worker.once("error", onError);
    worker.once("exit", onExit);
  });
}
