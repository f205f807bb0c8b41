// A real HAProxy (Debian's package) in front of a fleet, as a Kubernetes Service, an ECS/ALB
// target group or a Consul-fed proxy is: active health checks on the readiness route, and no
// retry of a request whose connection was refused (`retries 0`). It runs in the foreground as
// this test's child and is stopped by its pid.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort, get } from '../../packages/core/test/helpers/http.js';
import { HttpLoad } from '../../packages/core/test/helpers/load.js';
import { poll, tempDir, waitForExit } from '../../packages/core/test/helpers/process.js';

export const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;

/** A fleet's three "hosts": loopback addresses, one instance each on the same port. */
export const FLEET_HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];

/** Health checks every 500 ms; a server is down after 2 failed, up after 2 passed. */
export const CHECK = { interMs: 500, fall: 2, rise: 2 } as const;

export class Haproxy {
  private constructor(
    readonly port: number,
    readonly child: ChildProcess,
    readonly output: string[],
    private readonly statsSocket: string,
  ) {}

  /** HAProxy on 127.0.0.1, balancing round robin over `servers` (host:port), checking `checkPath`. */
  static async start(servers: string[], checkPath = '/readyz'): Promise<Haproxy> {
    const dir = tempDir('gr-haproxy-');
    const port = await freePort();
    const lines = servers.map((address, i) => `  server s${i} ${address} check`).join('\n');
    writeFileSync(
      `${dir}/haproxy.cfg`,
      `global
  maxconn 4096
  stats socket ${dir}/stats.sock
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 0
  option redispatch 0
frontend web
  bind 127.0.0.1:${port}
  default_backend fleet
backend fleet
  balance roundrobin
  option httpchk GET ${checkPath}
  default-server inter ${CHECK.interMs} fall ${CHECK.fall} rise ${CHECK.rise}
${lines}
`,
    );
    const child = spawn('haproxy', ['-db', '-f', `${dir}/haproxy.cfg`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
    }
    const haproxy = new Haproxy(port, child, output, `${dir}/stats.sock`);
    const up = await poll(
      async () => ((await get({ host: '127.0.0.1', port })).status === 200 ? true : undefined),
      10_000,
    );
    if (!up) {
      await haproxy.stop();
      throw new Error(`haproxy did not serve: ${output.join('')}`);
    }
    return haproxy;
  }

  /**
   * HAProxy in front of FLEET_HOSTS on `port`, once it sends each one traffic, and keep-alive
   * load through it (20 clients, a few ms between requests: the test stops it).
   */
  static async inFrontOfFleet(port: number): Promise<{ haproxy: Haproxy; load: HttpLoad }> {
    const haproxy = await Haproxy.start(FLEET_HOSTS.map((host) => `${host}:${port}`));
    for (const host of FLEET_HOSTS) await haproxy.whenUp(`${host}:${port}`);
    const load = new HttpLoad({
      port: haproxy.port,
      connections: 20,
      keepAlive: true,
      thinkMs: [2, 8],
    });
    return { haproxy, load };
  }

  /** Each server's status as HAProxy sees it now (`UP`, `DOWN`, `UP 1/2`, ...), by address. */
  async statuses(): Promise<Map<string, string>> {
    const csv = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(this.statsSocket);
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text)).on('error', reject);
      socket.end('show servers state fleet\n');
    });
    // `show servers state`: be_id be_name srv_id srv_name srv_addr srv_op_state ... srv_port ...
    const states = new Map<string, string>();
    for (const line of csv.split('\n')) {
      const fields = line.split(' ');
      if (fields.length < 19 || line.startsWith('#')) continue;
      const [address, opState, port] = [fields[4], fields[5], fields[18]];
      states.set(`${address}:${port}`, opState === '2' ? 'UP' : `state ${opState}`);
    }
    return states;
  }

  /** Resolves once HAProxy sees `address` (host:port) as up, i.e. sends it traffic again. */
  async whenUp(address: string, timeoutMs = 10_000): Promise<void> {
    const up = await poll(
      async () => ((await this.statuses()).get(address) === 'UP' ? true : undefined),
      timeoutMs,
    );
    if (!up) throw new Error(`haproxy did not mark ${address} up: ${[...(await this.statuses())]}`);
  }

  /** Hard stop of the process this test started (SIGTERM: HAProxy's immediate stop). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.pid) process.kill(this.child.pid, 'SIGTERM');
    await waitForExit(this.child, 10_000);
  }
}
