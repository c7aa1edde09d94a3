import { z } from 'zod';
import { IntegrationError } from '../../errors.js';
import type { ComponentStatus, IncidentStatus, StatusPage } from './types.js';

export const STATUSPAGE_DEFAULT_URL = 'https://api.statuspage.io/v1';
const TIMEOUT_MS = 5_000;
const incident = z.object({ id: z.string().min(1) });
const unresolved = z.array(
  z.object({
    id: z.string().min(1),
    metadata: z
      .object({ backout: z.object({ request_id: z.string() }).partial() })
      .partial()
      .nullish(),
  }),
);

/**
 * Atlassian Statuspage's REST API (developer.statuspage.io): `Authorization: OAuth <key>`,
 * `POST /pages/{page_id}/incidents` and `PATCH /pages/{page_id}/incidents/{incident_id}`, each
 * with an `incident` object. Every call has a deadline; retries belong to the caller.
 */
export class AtlassianStatusPage implements StatusPage {
  constructor(
    private readonly apiKey: string,
    private readonly baseUrl = STATUSPAGE_DEFAULT_URL,
  ) {}

  async create(i: {
    pageId: string;
    requestId: string;
    name: string;
    status: IncidentStatus;
    body: string;
    components: Record<string, ComponentStatus>;
  }): Promise<{ id: string }> {
    const res = await this.call('POST', `/pages/${encodeURIComponent(i.pageId)}/incidents`, {
      incident: {
        name: i.name,
        status: i.status,
        body: i.body,
        components: i.components,
        component_ids: Object.keys(i.components),
        // Statuspage keeps incident metadata as nested string pairs: the mark findOpen looks for.
        metadata: { backout: { request_id: i.requestId } },
      },
    });
    const parsed = incident.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success)
      throw new IntegrationError('statuspage', 'Statuspage answered the new incident without its id', {
        retryable: false,
      });
    return { id: parsed.data.id };
  }

  async findOpen(i: { pageId: string; requestId: string }): Promise<{ id: string } | undefined> {
    const path = `/pages/${encodeURIComponent(i.pageId)}/incidents/unresolved`;
    // A page that cannot list its incidents (an older or partial API): nothing to find.
    const res = await this.call('GET', path, undefined, [404]);
    if (res.status === 404) return undefined;
    const parsed = unresolved.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) return undefined;
    const mine = parsed.data.find((x) => x.metadata?.backout?.request_id === i.requestId);
    return mine ? { id: mine.id } : undefined;
  }

  async update(i: {
    pageId: string;
    incidentId: string;
    status: IncidentStatus;
    body: string;
    components?: Record<string, ComponentStatus>;
  }): Promise<void> {
    await this.call(
      'PATCH',
      `/pages/${encodeURIComponent(i.pageId)}/incidents/${encodeURIComponent(i.incidentId)}`,
      {
        incident: {
          status: i.status,
          body: i.body,
          ...(i.components ? { components: i.components, component_ids: Object.keys(i.components) } : {}),
        },
      },
    );
  }

  /** One call with its deadline; a refusal throws, except for the statuses in `accepted`. */
  private async call(
    method: string,
    path: string,
    body?: unknown,
    accepted: readonly number[] = [],
  ): Promise<Response> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `OAuth ${this.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new IntegrationError(
        'statuspage',
        `Statuspage did not answer ${method} ${path} (${(err as Error).message})`,
        {
          retryable: true,
          cause: err,
        },
      );
    }
    if (!res.ok && !accepted.includes(res.status)) {
      const text = (await res.text().catch(() => '')).slice(0, 200);
      throw new IntegrationError(
        'statuspage',
        `Statuspage answered ${res.status} to ${method} ${path}: ${text}`,
        {
          retryable: res.status === 429 || res.status >= 500,
        },
      );
    }
    return res;
  }
}
