import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Test helper: a webhook receiver on 127.0.0.1 that records every request and answers as told. */
export type ReceivedRequest = { path: string; headers: Record<string, string | string[] | undefined>; body: string; json: unknown };

export type TestReceiver = {
  url: (path: string) => string;
  port: number;
  received: ReceivedRequest[];
  /** Status codes for the next requests, in order; then 200. "hang" never answers. */
  answers: (number | "hang")[];
  /** Resolves once `count` requests arrived; rejects after timeoutMs. */
  waitFor: (count: number, timeoutMs?: number) => Promise<ReceivedRequest[]>;
  close: () => Promise<void>;
};

export async function startTestReceiver(): Promise<TestReceiver> {
  const received: ReceivedRequest[] = [];
  const answers: (number | "hang")[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      received.push({ path: request.url ?? "", headers: request.headers, body, json });
      const answer = answers.shift() ?? 200;
      if (answer === "hang") return;
      response.writeHead(answer, { "content-type": "text/plain" }).end(answer < 300 ? "ok" : "receiver says no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    answers,
    waitFor: async (count, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`the receiver got ${received.length} request(s) within ${timeoutMs} ms, expected ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return received;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 with nothing listening (taken, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
