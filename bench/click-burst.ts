/**
 * Sends signed Slack Ack clicks for the given incidents all at once, from a process of its own, and prints each
 * click's answer time in milliseconds as JSON. The clicks are signed beforehand and go over keep-alive connections
 * opened before, so that the figures are sloe's answer times, not the client's set-up.
 * Usage: tsx bench/click-burst.ts URL SECRET ID…
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';

const [url = '', secret = '', ...ids] = process.argv.slice(2);
if (!url || !secret) throw new Error('usage: click-burst URL SECRET ID…');
const { hostname, port } = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: ids.length + 1 });

function send(
  method: string,
  path: string,
  body = '',
  headers: Record<string, string> = {},
): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, method, path, agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('error', reject);
    const started = performance.now();
    req.end(body);
  });
}

function signed(id: string) {
  const payload = {
    type: 'block_actions',
    team: { id: 'T1', domain: 'example' },
    user: { id: 'U01ALICE', username: 'alice', name: 'alice', team_id: 'T1' },
    api_app_id: 'A1',
    trigger_id: '1.1.abc',
    actions: [{ action_id: 'sloe_ack', block_id: `sloe_${id}`, type: 'button', value: id, action_ts: '1.2' }],
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    },
  };
}

const clicks = ids.map(signed);
// Open one connection per click first.
await Promise.all(ids.map(() => send('GET', '/healthz')));
const results = await Promise.all(clicks.map((c) => send('POST', '/slack/events', c.body, c.headers)));
agent.destroy();
process.stdout.write(JSON.stringify(results) + '\n');
