import { z } from 'zod';

/** Every button backout puts on a card; one action id each, so routing is by id, not by string splitting. */
export const ACTION = {
  approve: 'backout_approve',
  breakGlass: 'backout_break_glass',
  reject: 'backout_reject',
  retry: 'backout_retry',
  abort: 'backout_abort',
  undo: 'backout_undo',
  promote: 'backout_promote',
  /** On a rollback's plan card: turn the service's kill switch off instead. */
  flagInstead: 'backout_flag_instead',
  /** In an alert proposal's thread: post the drafted status page incident now. */
  statusPage: 'backout_status_page',
} as const;

export type ActionName = keyof typeof ACTION;
export type ActionId = (typeof ACTION)[ActionName];

const valueSchema = z.object({
  /** Request id. */
  r: z.string().regex(/^[a-z]{2}-[a-z0-9]{8}$/),
  /** First 12 hex of the plan hash the card showed, so a click on an outdated card is caught. */
  h: z.string().regex(/^[0-9a-f]{12}$/),
});

export type ActionValue = { requestId: string; planHash: string };

export function encodeActionValue(requestId: string, planHash: string): string {
  return JSON.stringify({ r: requestId, h: planHash.slice(0, 12) });
}

export function decodeActionValue(value: string | undefined): ActionValue | undefined {
  if (!value) return undefined;
  try {
    const parsed = valueSchema.safeParse(JSON.parse(value));
    return parsed.success ? { requestId: parsed.data.r, planHash: parsed.data.h } : undefined;
  } catch {
    return undefined;
  }
}

export function actionName(actionId: string): ActionName | undefined {
  return (Object.keys(ACTION) as ActionName[]).find((k) => ACTION[k] === actionId);
}
