/**
 * Public entry of the package's `./middleware` export: what a service embeds.
 *
 *   const mw = createDeprecationMiddleware({ redis: process.env.REDIS_URL, service: 'checkout' });
 *   http.createServer((req, res) => mw.node(req, res, () => handler(req, res)));  // Node http
 *   app.use(mw.express);                                                          // Express
 *   await fastify.register(mw.fastify);                                           // Fastify
 *   await mw.whenReady(2000); // optional: wait for the first registry load (false if it did not come)
 *   await mw.close();         // on shutdown: flushes the usage counts
 */
export { createDeprecationMiddleware } from './create.js';
export type { DeprecationMiddleware, DeprecationMiddlewareOptions } from './create.js';
export type { NodeMiddleware, NodeNext } from './node.js';
export type { Outcome } from './engine.js';
export type { ExpressMiddleware } from './express.js';
export type { FastifyDeprecationPlugin, FastifyOnRequestHook } from './fastify.js';
export type { ClientIdOption } from '../client-id.js';
export type { DeprecationEntry, BrownoutWindow } from '../entry.js';
export type { RequestFacts } from '../match.js';
export type { UsageStats } from '../usage-recorder.js';
export type { RetirementProblem } from '../decide.js';
export { PROBLEM_TYPES } from '../decide.js';
export { deprecationHeaders } from '../headers.js';
