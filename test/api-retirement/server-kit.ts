import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import type { DeprecationMiddleware } from '../../src/api-retirement/middleware/index.js';

export type ServerKind = 'node' | 'express' | 'fastify';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const body = JSON.stringify({ ok: true });

/** A real server of the given kind whose every route answers 200 `{"ok":true}` behind the middleware. */
export async function startServer(kind: ServerKind, mw: DeprecationMiddleware): Promise<RunningServer> {
  if (kind === 'fastify') {
    const app = Fastify();
    await app.register(mw.fastify);
    app.all('*', async (_request, reply) => reply.header('content-type', 'application/json').send(body));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  }
  const server =
    kind === 'node'
      ? http.createServer((req, res) =>
          mw.node(req, res, () => {
            res.setHeader('content-type', 'application/json');
            res.end(body);
          }),
        )
      : http.createServer(
          express()
            .use(mw.express)
            .use((_req, res) => {
              res.type('application/json').send(body);
            }),
        );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Sends `count` requests, `concurrency` at a time, and returns their statuses. */
export async function hammer(
  url: string,
  count: number,
  init: RequestInit = {},
  concurrency = 25,
): Promise<number[]> {
  const statuses: number[] = [];
  let sent = 0;
  const worker = async () => {
    while (sent < count) {
      sent++;
      const response = await fetch(url, init);
      await response.arrayBuffer();
      statuses.push(response.status);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}
