import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
function maps() { const out = {}; let cur = null;
  for (const line of readFileSync('/proc/self/smaps','utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) { const name = m[2] || 'anon'; cur = name.startsWith('/') ? (name.includes('node') ? 'binary' : 'file') : name; continue; }
    const r = /^Rss:\s+(\d+) kB/.exec(line); if (r && cur) out[cur] = (out[cur] ?? 0) + Number(r[1]); }
  return Object.entries(out).filter(([k,v])=>v>500).map(([k,v])=>`${k}=${(v/1e3).toFixed(1)}`).join(' ') + ` rss=${(process.memoryUsage().rss/1e6).toFixed(1)} heap=${(process.memoryUsage().heapUsed/1e6).toFixed(1)} ext=${(process.memoryUsage().external/1e6).toFixed(1)}`; }
const dep = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', namespace: 'n', uid: 'u', resourceVersion: '1', generation: 1, annotations: {a:'b'}, managedFields: [{manager:'m', operation:'Update', time: '2024-01-01T00:00:00Z', fieldsV1: {'f:spec': {}}}] }, spec: { replicas: 1, selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } }, status: { replicas: 1 } });
const server = createServer((req, res) => { res.writeHead(200, {'content-type':'application/json'}); res.end(dep); });
await new Promise(r => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const gcr = async () => { await new Promise(r=>setTimeout(r,300)); globalThis.gc(); globalThis.gc(); };
await gcr(); console.log('start      ', maps());
const k = await import('@kubernetes/client-node');
await gcr(); console.log('imported   ', maps());
const kc = new k.KubeConfig();
kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
if (process.argv[2]==='cache') { const orig = kc.createDispatcher.bind(kc); let d; kc.createDispatcher = (c, o) => (d ??= orig(c, o)); }
const apps = kc.makeApiClient(k.AppsV1Api);
await apps.readNamespacedDeployment({ name: 'x', namespace: 'n' });
await gcr(); console.log('1 call     ', maps());
for (let r = 0; r < 10; r++) await Promise.all(Array.from({ length: 100 }, () => apps.readNamespacedDeployment({ name: 'x', namespace: 'n' })));
await gcr(); console.log('1000 calls ', maps());
for (let r = 0; r < 50; r++) await Promise.all(Array.from({ length: 100 }, () => apps.readNamespacedDeployment({ name: 'x', namespace: 'n' })));
await gcr(); console.log('6000 calls ', maps());
await new Promise(r=>setTimeout(r,6000)); await gcr(); console.log('6 s later ', maps()); server.close();
