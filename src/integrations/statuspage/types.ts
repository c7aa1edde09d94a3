/** Component impact, as Statuspage names it. */
export type ComponentStatus = 'operational' | 'degraded_performance' | 'partial_outage' | 'major_outage';
/** A realtime incident's status. */
export type IncidentStatus = 'investigating' | 'identified' | 'monitoring' | 'resolved';

/** A status page provider: open an incident with component impact, post updates, resolve it. */
export interface StatusPage {
  /** Opens an incident marked as this request's (so that `findOpen` can find it). */
  create(i: {
    pageId: string;
    requestId: string;
    name: string;
    status: IncidentStatus;
    body: string;
    components: Record<string, ComponentStatus>;
  }): Promise<{ id: string }>;
  /**
   * The unresolved incident this request opened, if any: asked before opening again when an
   * earlier attempt may have opened one without its answer arriving. Undefined when the page has
   * none, or cannot be asked.
   */
  findOpen(i: { pageId: string; requestId: string }): Promise<{ id: string } | undefined>;
  update(i: {
    pageId: string;
    incidentId: string;
    status: IncidentStatus;
    body: string;
    components?: Record<string, ComponentStatus>;
  }): Promise<void>;
}
