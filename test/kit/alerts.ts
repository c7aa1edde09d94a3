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

/** An Alertmanager v4 webhook body for one HighErrorRate alert of checkout-api (or `service`). */
export function alertPayload(
  groupKey: string,
  status: 'firing' | 'resolved',
  env = 'production',
  service = 'checkout-api',
) {
  return JSON.stringify({
    version: '4',
    groupKey,
    truncatedAlerts: 0,
    status,
    receiver: 'backout',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: {
      alertname: 'HighErrorRate',
      severity: 'critical',
      service,
      environment: env,
    },
    commonAnnotations: { summary: '5xx above 5 %' },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status,
        labels: {
          alertname: 'HighErrorRate',
          severity: 'critical',
          service,
          environment: env,
        },
        annotations: { value: '0.12' },
        startsAt: '2026-12-06T03:00:00Z',
        endsAt: status === 'resolved' ? '2026-12-06T03:10:00Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: 'abc123',
      },
    ],
  });
}
