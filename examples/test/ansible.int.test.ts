// examples/deploy/ansible/roll.yml run by a real ansible-playbook against a fleet of three
// local "hosts" (loopback addresses, local connection), each a supervisor serving examples/http
// with its release's config, behind HAProxy under keep-alive load.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../../packages/core/test/helpers/http.js';
import { stopAllOk } from '../../packages/core/test/helpers/load.js';
import { poll, sleep, tempDir } from '../../packages/core/test/helpers/process.js';
import { CLI, endAll, launchWith } from './examples.js';
import { Haproxy, FLEET_HOSTS as HOSTS, hasHaproxy } from './haproxy.js';
import { examplesFrom } from './test-selection.js';

const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;
const PLAYBOOK = new URL('../deploy/ansible/roll.yml', import.meta.url).pathname;

let haproxy: Haproxy | undefined;
afterEach(async () => {
  await haproxy?.stop();
  haproxy = undefined;
  await endAll();
});

/** `ansible-playbook` with `args`; resolves with its exit code and output. */
function playbook(args: string[], dir: string) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('ansible-playbook', args, {
      env: {
        ...process.env,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCAL_TEMP: `${dir}/ansible-local`,
        ANSIBLE_REMOTE_TEMP: `${dir}/ansible-remote`,
        ANSIBLE_RETRY_FILES_ENABLED: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    }
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe.skipIf(
  // Without the tools, except under CI (which installs them): there the test fails instead.
  ((!hasAnsible || !hasHaproxy) && !process.env['CI']) ||
    !examplesFrom(process.env['GR_EXAMPLES']).includes('http'),
)('examples/deploy/ansible/roll.yml, a fleet of 3 supervisors behind HAProxy', () => {
  it('rolls a release host by host under load with 0 failed requests; a broken release stops at the first host, which gets its release back, and every host serves on', async () => {
    const dir = tempDir('gr-ansible-');
    const port = await freePort(HOSTS[0]);
    const release = (name: string, config: string) => {
      mkdirSync(`${dir}/releases/${name}`, { recursive: true });
      writeFileSync(`${dir}/releases/${name}/config.json`, config);
      return `${dir}/releases/${name}`;
    };
    const one = release('one', '{"greeting":"release one"}');
    const two = release('two', '{"greeting":"release two"}');
    const broken = release('broken', '{"greeting":');
    const hosts = HOSTS.map((host, i) => {
      const home = `${dir}/host${i}`;
      mkdirSync(home);
      symlinkSync(one, `${home}/current`);
      const control = `${home}/control.sock`;
      launchWith('http', { CONFIG_FILE: `${home}/current/config.json` }, [
        process.execPath,
        CLI,
        'run',
        '--listen',
        `web=${host}:${port}`,
        '--control',
        control,
        '--',
      ]);
      return { host, home, control };
    });
    const greeting = async (host: string) => (await get({ host, port })).body;
    for (const { host } of hosts) {
      expect(
        await poll(async () => (await greeting(host)).includes('release one') || undefined, 10_000),
      ).toBe(true);
    }
    const inventory = `${dir}/inventory.yml`;
    writeFileSync(
      inventory,
      `app:
  hosts:
${hosts
  .map(
    ({ host, home, control }, i) => `    host${i}:
      app_address: "${host}:${port}"
      app_current: "${home}/current"
      control_socket: "${control}"`,
  )
  .join('\n')}
  vars:
    ansible_connection: local
    ansible_python_interpreter: /usr/bin/python3
`,
    );
    const fleet = await Haproxy.inFrontOfFleet(port);
    haproxy = fleet.haproxy;
    const { load } = fleet;
    await sleep(300);
    const roll = (to: string) =>
      playbook(
        [
          '-i',
          inventory,
          PLAYBOOK,
          '-e',
          `release=${to}`,
          '-e',
          `graceful_restart="${process.execPath} ${CLI}"`,
        ],
        dir,
      );

    const good = await roll(two);
    expect(good.code, good.output).toBe(0);
    for (const { host } of hosts) expect(await greeting(host)).toContain('release two');

    const bad = await roll(broken);
    expect(bad.code, bad.output).not.toBe(0);
    expect(bad.output).toContain('host0 did not take');
    // The roll stopped at the first host: the others were never asked.
    expect(bad.output).not.toMatch(/changed: \[host[12]\]/);
    expect(readlinkSync(`${hosts[0]?.home}/current`)).toBe(two);
    for (const { host } of hosts) expect(await greeting(host)).toContain('release two');
    await sleep(300);
    const stats = await stopAllOk(load);
    expect(stats.requests).toBeGreaterThan(500);
  });
});
