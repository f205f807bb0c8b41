// A successor that starts warm: before it says ready it sends the app's warm-up paths through its
// own handler (in memory, not through the listener it shares with the generation still serving).
// Real processes, a real port, real signals and keep-alive clients.
import { describe, expect, it } from 'vitest';
import { freePort, get, pidIn } from './helpers/http.js';
import { HttpLoad, stopAllOk } from './helpers/load.js';
import { Fixture, sleep, waitForExit } from './helpers/process.js';

const APP = new URL('./fixtures/warm-up-app.mjs', import.meta.url).pathname;

async function start(env: Record<string, string>) {
  const port = await freePort();
  const f = new Fixture(APP, { PORT: String(port), ...env });
  const ready = await f.waitFor((e) => e.event === 'ready');
  return { f, port, ready };
}

describe('warm-up before ready', () => {
  it('warmUp { paths, requests }: each generation answers them through its own handler before it says ready; the successor meets clients warm, none fails', async () => {
    const options = { warmUp: { paths: ['/', '/items?limit=1'], requests: 20 } };
    const { f, port, ready } = await start({ FIXTURE_OPTIONS: JSON.stringify(options) });
    expect(ready['warmUps']).toBe(40);
    // Apps that log or rate-limit by address see this process.
    expect(ready['warmUpAddress']).toBe('127.0.0.1');
    const load = new HttpLoad({ port, connections: 20, keepAlive: true, thinkMs: [1, 5] });
    await sleep(300);
    const next = await f.restart(ready.pid);
    // All 40 reached the successor's own handler: none went out through the shared listener.
    expect(next['warmUps']).toBe(40);
    await waitForExit(f.first, 10_000);
    const body = (await get({ host: '127.0.0.1', port })).body;
    expect(pidIn(body)).toBe(next.pid);
    // Its first request was a warm-up one, not a client's.
    expect(body).toContain('first=true');
    const stats = await stopAllOk(load);
    expect(stats.pids.has(next.pid)).toBe(true);
    expect(f.stderr.join('\n')).toContain('warmed up: 40 request(s) to /, /items?limit=1 in');
    await f.kill();
  });

  it('GRACEFUL_RESTART_WARM_UP: a path that fails and one that never answers are logged with the fix; ready comes once the hung one is cut at the limit, nothing is left open', async () => {
    const { f, port, ready } = await start({ GRACEFUL_RESTART_WARM_UP: '/, /fail,/hang' });
    const said = f.stderr.join('\n');
    expect(said).toMatch(/warm-up: \d+ request\(s\) to \/, \/fail, \/hang in \d+ ms/);
    expect(said).toContain('/fail (500), /hang (cut)');
    expect(said).toContain('Name paths that answer a GET without side effects');
    expect(pidIn((await get({ host: '127.0.0.1', port })).body)).toBe(ready.pid);
    // The cut warm-up connections are closed: the drain finds nothing of theirs to wait for.
    process.kill(ready.pid, 'SIGTERM');
    expect(await waitForExit(f.first, 10_000)).toEqual({ code: 0, signal: null });
    expect(f.stderr.join('\n')).toMatch(/drained in \d+ ms: .* 0 forced at the deadline/);
    await f.kill();
  });

  it('a bad GRACEFUL_RESTART_WARM_UP refuses the start with a typed error that names the fix; nothing listens', async () => {
    const port = await freePort();
    const f = new Fixture(APP, { PORT: String(port), GRACEFUL_RESTART_WARM_UP: 'items' });
    expect((await waitForExit(f.first, 10_000)).code).not.toBe(0);
    const said = f.stderr.join('\n');
    expect(said).toContain('ERR_GRACEFUL_INVALID_OPTION');
    expect(said).toContain('GRACEFUL_RESTART_WARM_UP must be paths starting with "/"');
    await expect(get({ host: '127.0.0.1', port })).rejects.toThrow(/ECONNREFUSED/);
    await f.kill();
  });
});
