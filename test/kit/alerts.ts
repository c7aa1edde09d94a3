/** What the alert tests share: the webhook token and the rule that maps HighErrorRate to a rollback. */
export const WEBHOOK_TOKEN = 'alert-webhook-token-0123456789';

export const ALERT_RULES = `
alerts:
  rules:
    - name: checkout-errors
      match: { alertname: HighErrorRate, service: checkout-api }
      matchRe: { severity: "critical|page" }
      propose: rollback
`;
