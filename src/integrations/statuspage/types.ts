/** Component impact, as Statuspage names it. */
export type ComponentStatus = 'operational' | 'degraded_performance' | 'partial_outage' | 'major_outage';
/** A realtime incident's status. */
export type IncidentStatus = 'investigating' | 'identified' | 'monitoring' | 'resolved';

/** A status page provider: open an incident with component impact, post updates, resolve it. */
export interface StatusPage {
  create(i: {
    pageId: string;
    name: string;
    status: IncidentStatus;
    body: string;
    components: Record<string, ComponentStatus>;
  }): Promise<{ id: string }>;
  update(i: {
    pageId: string;
    incidentId: string;
    status: IncidentStatus;
    body: string;
    components?: Record<string, ComponentStatus>;
  }): Promise<void>;
}
