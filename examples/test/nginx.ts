// A real nginx (Debian's package) as a reverse proxy with upstream keepalive, for the examples
// suite. It runs in the foreground as this test's child and is stopped by its pid.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { freePort, get } from '../../packages/core/test/helpers/http.js';
import { poll, tempDir, waitForExit } from '../../packages/core/test/helpers/process.js';

export const hasNginx = spawnSync('nginx', ['-v']).status === 0;

export class Nginx {
  private constructor(
    readonly port: number,
    readonly child: ChildProcess,
    readonly errors: string[],
  ) {}

  /** nginx on 127.0.0.1, proxying to 127.0.0.1:`upstreamPort` over kept-alive connections. */
  static async start(upstreamPort: number): Promise<Nginx> {
    const dir = tempDir('gr-nginx-');
    const port = await freePort();
    writeFileSync(
      `${dir}/nginx.conf`,
      `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
    );
    const child = spawn('nginx', ['-p', dir, '-c', `${dir}/nginx.conf`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const errors: string[] = [];
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => errors.push(chunk));
    const nginx = new Nginx(port, child, errors);
    const up = await poll(
      async () => ((await get({ host: '127.0.0.1', port })).status ? true : undefined),
      5000,
    );
    if (!up) {
      await nginx.stop();
      throw new Error(`nginx did not start: ${errors.join('')}`);
    }
    return nginx;
  }

  /** Graceful stop (SIGQUIT) of the master this test started; its workers follow. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.pid) process.kill(this.child.pid, 'SIGQUIT');
    await waitForExit(this.child, 10_000);
  }
}
