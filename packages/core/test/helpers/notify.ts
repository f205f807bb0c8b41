import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitUntil } from './process.js';

/**
 * A Unix datagram socket standing in for systemd's NOTIFY_SOCKET. Node cannot open one, so a
 * few lines of perl (perl-base is essential on Debian) bind it and print each datagram. Like
 * systemd, it drops file descriptors passed with a message, which releases systemd-notify's
 * BARRIER=1 wait; barrier messages are left out of `messages`.
 */
export class NotifyListener {
  readonly messages: Array<Record<string, string>> = [];
  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(path: string): Promise<NotifyListener> {
    const child = spawn(
      'perl',
      [
        '-MSocket',
        '-e',
        `socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!";
$| = 1; print "listening\\n";
while (defined(recv($s, my $buf, 65536, 0))) { $buf =~ s/\\n/\\t/g; print "$buf\\n"; }`,
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const listener = new NotifyListener(path, child);
    let listening = false;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'listening') listening = true;
      else if (line !== 'BARRIER=1')
        listener.messages.push(
          Object.fromEntries(line.split('\t').map((field) => field.split(/=(.*)/s).slice(0, 2))),
        );
    });
    if (!(await waitUntil(() => listening, 5000)))
      throw new Error('perl notify listener did not start');
    return listener;
  }

  /** Waits for a message with `key` set, after the first `from` messages. */
  async waitFor(key: string, from = 0, timeoutMs = 10_000): Promise<Record<string, string>> {
    const find = () => this.messages.slice(from).find((m) => key in m);
    if (!(await waitUntil(() => find() !== undefined, timeoutMs)))
      throw new Error(`no ${key} notification; got ${JSON.stringify(this.messages)}`);
    return find() as Record<string, string>;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.pid) process.kill(this.child.pid, 'SIGKILL');
  }
}
