// The deploy files in examples/deploy are valid for the tools that read them.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../packages/core/test/helpers/process.js';
import { endAll } from './examples.js';
import { hasNginx } from './nginx.js';

afterEach(endAll);

// .ci/run installs nginx and systemd-socket-activate (Debian packages); elsewhere these tests
// are skipped when the tool is missing, and fail under CI so a missing tool cannot pass unseen.
const inCi = Boolean(process.env['CI']);

describe.skipIf(!hasNginx && !inCi)('examples/deploy', () => {
  it('nginx.conf is a valid nginx configuration (nginx -t)', () => {
    const dir = tempDir('gr-nginx-t-');
    const deployed = new URL('../deploy/nginx.conf', import.meta.url).pathname;
    writeFileSync(
      `${dir}/nginx.conf`,
      `pid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n  include ${deployed};\n}\n`,
    );
    const test = spawnSync('nginx', ['-t', '-p', dir, '-c', `${dir}/nginx.conf`], {
      encoding: 'utf8',
    });
    expect(test.stderr).toContain('syntax is ok');
    expect(test.status).toBe(0);
  });
});
