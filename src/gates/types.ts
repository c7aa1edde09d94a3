/** One gate's verdict before a forward move, as the plan card lists it. */
export interface GateResult {
  gate: 'ci' | 'probe' | 'ticket' | 'window';
  ok: boolean;
  /** mrkdwn, with any text from GitHub or a probe already escaped ("build, test passed (required checks on `1.4.0`)"). */
  detail: string;
}

const LABEL: Record<GateResult['gate'], string> = {
  ci: 'CI',
  probe: 'Probe',
  ticket: 'Ticket',
  window: 'Window',
};

/** One line per gate for the plan card and the refusal. */
export function gateLine(r: GateResult): string {
  return `${r.ok ? ':white_check_mark:' : ':x:'} *${LABEL[r.gate]}* ${r.detail}`;
}
