/** What an alert-proposed request keeps for its job's lifecycle (rule, first audit seq), by request id. */
export const alertRequestKey = (prefix: string, requestId: string) => `${prefix}:alert-req:${requestId}`;
