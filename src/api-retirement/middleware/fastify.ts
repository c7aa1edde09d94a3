import type { DeprecationEngine } from './engine.js';

// Structural slices of Fastify's types, so the middleware never loads Fastify.
export interface FastifyLikeRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  ip: string;
}

export interface FastifyLikeReply {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload: Buffer): unknown;
}

export type FastifyOnRequestHook = (
  request: FastifyLikeRequest,
  reply: FastifyLikeReply,
  done: () => void,
) => void;

export interface FastifyLikeInstance {
  addHook(name: 'onRequest', hook: FastifyOnRequestHook): unknown;
}

export type FastifyDeprecationPlugin = (
  instance: FastifyLikeInstance,
  options: unknown,
  done: (err?: Error) => void,
) => void;

export function fastifyOnRequest(engine: DeprecationEngine): FastifyOnRequestHook {
  return (request, reply, done) => {
    const outcome = engine.evaluate({
      method: request.method,
      url: request.url,
      headers: request.headers,
      remoteAddress: request.ip,
    });
    if (outcome.kind === 'refuse') {
      reply.code(outcome.status);
      for (const [name, value] of Object.entries(outcome.headers)) reply.header(name, value);
      // Answering from onRequest: Fastify skips the route when the hook sends and does not call done.
      // A Buffer, because Fastify appends "; charset=utf-8" to the Content-Type of string payloads.
      reply.send(Buffer.from(outcome.body));
      return;
    }
    if (outcome.kind === 'pass') {
      for (const [name, value] of Object.entries(outcome.headers)) reply.header(name, value);
      if (outcome.delayMs > 0) {
        setTimeout(done, outcome.delayMs);
        return;
      }
    }
    done();
  };
}

/** `app.register(mw.fastify)`: an `onRequest` hook on the whole app (not encapsulated, as fastify-plugin would do). */
export function fastifyPlugin(engine: DeprecationEngine): FastifyDeprecationPlugin {
  const hook = fastifyOnRequest(engine);
  const plugin: FastifyDeprecationPlugin = (instance, _options, done) => {
    instance.addHook('onRequest', hook);
    done();
  };
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'backout-deprecation',
  });
}
