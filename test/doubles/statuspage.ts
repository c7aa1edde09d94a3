/**
 * StatuspageDouble: Atlassian Statuspage's incidents API as developer.statuspage.io documents it.
 * `Authorization: OAuth <key>` (401 otherwise); `POST /v1/pages/{page_id}/incidents` and
 * `PATCH /v1/pages/{page_id}/incidents/{incident_id}` with a JSON `incident` object whose
 * `status` is a realtime incident status and whose `components` map component ids to a component
 * status, `component_ids` naming the same components (422 otherwise); 404 for an unknown page or
 * incident. `outage()` makes every call answer 503, as during a Statuspage incident of its own
 * (or another status: `outage(true, 422)` refuses every call as invalid). `GET
 * /v1/pages/{page_id}/incidents/unresolved` lists the open incidents with their `metadata`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const INCIDENT_STATUS = ['investigating', 'identified', 'monitoring', 'resolved'];
const COMPONENT_STATUS = [
  'operational',
  'under_maintenance',
  'degraded_performance',
  'partial_outage',
  'major_outage',
];

export interface StatuspageCall {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

export interface StoredIncident {
  id: string;
  name: string;
  status: string;
  metadata?: unknown;
  components: Record<string, string>;
  updates: { status: string; body: string }[];
}

export class StatuspageDouble {
  readonly calls: StatuspageCall[] = [];
  readonly incidents = new Map<string, StoredIncident>();
  private down: number | undefined;
  private lostCreates = 0;
  private url = '';

  private constructor(
    private readonly server: Server,
    readonly apiKey: string,
    readonly pageId: string,
  ) {}

  static async start(opts: { apiKey?: string; pageId?: string } = {}): Promise<StatuspageDouble> {
    const holder: { d?: StatuspageDouble } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const d = holder.d!;
        let body: unknown;
        try {
          body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
        } catch {
          body = Symbol.for('invalid');
        }
        const [status, answer] = d.handle(req.method ?? 'GET', req.url ?? '/', req.headers, body);
        d.calls.push({ method: req.method ?? 'GET', path: req.url ?? '/', status, body });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    holder.d = new StatuspageDouble(server, opts.apiKey ?? 'sp-test-key-0123', opts.pageId ?? 'pg0test1');
    holder.d.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    return holder.d;
  }

  get apiUrl(): string {
    return this.url;
  }

  outage(on = true, status = 503): void {
    this.down = on ? status : undefined;
  }

  /** The next `n` creates are stored, but answered 504 (a gateway that gave up on a backend that did not). */
  loseCreateAnswers(n = 1): void {
    this.lostCreates = n;
  }

  private handle(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    body: unknown,
  ): [number, unknown] {
    if (this.down !== undefined)
      return [this.down, { error: this.down === 503 ? 'Service Unavailable' : 'Refused' }];
    if (headers.authorization !== `OAuth ${this.apiKey}`) return [401, { error: 'Could not authenticate' }];
    const m = /^\/v1\/pages\/([^/]+)\/incidents(?:\/([^/?]+))?$/.exec(url);
    if (!m) return [404, { error: 'Not found' }];
    if (m[1] !== this.pageId) return [404, { error: 'Page not found' }];
    if (method === 'GET' && m[2] === 'unresolved') {
      return [
        200,
        [...this.incidents.values()]
          .filter((i) => i.status !== 'resolved')
          .map((i) => ({
            id: i.id,
            name: i.name,
            status: i.status,
            metadata: i.metadata ?? {},
            page_id: this.pageId,
          })),
      ];
    }
    if (!String(headers['content-type'] ?? '').startsWith('application/json'))
      return [415, { error: 'Content-Type must be application/json' }];
    const incident = (body as { incident?: Record<string, unknown> } | undefined)?.incident;
    if (!incident || typeof incident !== 'object') return [422, { error: 'incident is required' }];
    const problem = this.check(incident, method === 'POST');
    if (problem) return [422, { error: problem }];
    if (method === 'POST' && !m[2]) {
      const id = randomBytes(6).toString('hex');
      const stored: StoredIncident = {
        id,
        name: incident.name as string,
        status: incident.status as string,
        components: (incident.components as Record<string, string>) ?? {},
        updates: [{ status: incident.status as string, body: (incident.body as string) ?? '' }],
        ...(incident.metadata !== undefined ? { metadata: incident.metadata } : {}),
      };
      this.incidents.set(id, stored);
      if (this.lostCreates > 0) {
        this.lostCreates -= 1;
        return [504, { error: 'Gateway Timeout' }];
      }
      return [201, { id, name: stored.name, status: stored.status, page_id: this.pageId }];
    }
    if (method === 'PATCH' && m[2]) {
      const stored = this.incidents.get(m[2]);
      if (!stored) return [404, { error: 'Incident not found' }];
      if (incident.status) stored.status = incident.status as string;
      if (incident.components) Object.assign(stored.components, incident.components);
      stored.updates.push({ status: stored.status, body: (incident.body as string) ?? '' });
      return [200, { id: stored.id, name: stored.name, status: stored.status, page_id: this.pageId }];
    }
    return [405, { error: 'Method not allowed' }];
  }

  private check(i: Record<string, unknown>, creating: boolean): string | undefined {
    if (creating && (typeof i.name !== 'string' || i.name.length === 0)) return 'incident[name] is required';
    if (i.status !== undefined && !INCIDENT_STATUS.includes(i.status as string))
      return `incident[status] must be one of ${INCIDENT_STATUS.join(', ')}`;
    if (i.body !== undefined && typeof i.body !== 'string') return 'incident[body] must be a string';
    if (i.components !== undefined) {
      if (typeof i.components !== 'object' || i.components === null)
        return 'incident[components] must be an object';
      for (const v of Object.values(i.components)) {
        if (!COMPONENT_STATUS.includes(v as string))
          return `component status must be one of ${COMPONENT_STATUS.join(', ')}`;
      }
      const ids = i.component_ids;
      if (!Array.isArray(ids) || ids.slice().sort().join() !== Object.keys(i.components).sort().join())
        return 'incident[component_ids] must name the components whose status is given';
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
