// A minimal graceful app that timestamps its own startup phases, for bench/phases.mjs. Prints
// {"event":"listening",pid,marks} once ready (marks: epoch ms of process start, first
// instruction, imports done, createGraceful, listen, ready), and in the generation that restarts,
// {"event":"sighup",at} when its SIGHUP listener runs and {"event":"spawned",before,after} around
// each child_process.spawn call. LISTENERS=N adds N - 1 listeners on ephemeral ports.
import childProcess from 'node:child_process';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';

const now = () => performance.timeOrigin + performance.now();
const marks = { origin: performance.timeOrigin, first: now() };
const say = (event, extra) =>
  process.stdout.write(`${JSON.stringify({ event, pid: process.pid, ...extra })}\n`);

// Timed spawn calls (the library imports spawn by name: the built-in's ESM exports are synced).
const spawn = childProcess.spawn;
childProcess.spawn = function timedSpawn(...args) {
  const before = now();
  const child = spawn.apply(this, args);
  say('spawned', { before, after: now() });
  return child;
};
syncBuiltinESMExports();
process.on('SIGHUP', () => say('sighup', { at: now() }));

const { createGraceful } = await import('@graceful-restart/core');
marks.imported = now();
const graceful = createGraceful({ logger: false, probationMs: 200 });
marks.created = now();
const answer = (_req, res) => res.end('ok\n');
await graceful.listen(http.createServer(answer), {
  name: 'web',
  host: '127.0.0.1',
  port: Number(process.env.PORT),
});
for (let i = 1; i < Number(process.env.LISTENERS ?? 1); i++) {
  await graceful.listen(http.createServer(answer), { name: `extra${i}`, port: 0 });
}
marks.listened = now();
await graceful.ready();
marks.ready = now();
say('listening', { marks });
