/** An `application/problem+json` answer the proxy gives itself (upstream down or too slow). */
export function proxyProblem(
  status: 502 | 504,
  upstream: string,
  cause: string,
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    type: `tag:backout,2026:proxy/${status === 504 ? 'upstream-timeout' : 'upstream-unavailable'}`,
    title: status === 504 ? 'Upstream did not answer in time' : 'Upstream unavailable',
    status,
    detail: `backout proxy could not get an answer from ${upstream}: ${cause}`,
  });
  return {
    body,
    headers: {
      'Content-Type': 'application/problem+json',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
    },
  };
}
