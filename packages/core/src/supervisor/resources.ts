import { removePidFile, writePidFile } from '../pid-file.js';
import { type HeldListener, holdListeners } from '../sockets/held.js';
import { type ControlHandlers, ControlServer } from './control.js';
import type { SupervisorLog } from './log-lines.js';
import type { ResolvedSupervisorOptions } from './options.js';

/** What the supervisor holds for its whole life: the listeners, the control socket, its PID file. */
export class SupervisorResources {
  listeners: HeldListener[] = [];
  private control: ControlServer | undefined;

  constructor(
    private readonly options: ResolvedSupervisorOptions,
    private readonly log: SupervisorLog,
  ) {}

  /** Binds (or takes from socket activation), opens the control socket, writes the PID file. */
  async open(control: ControlHandlers): Promise<void> {
    this.listeners = await holdListeners(this.options.listeners, this.log.logger);
    this.control = await ControlServer.open(this.options.controlPath, control);
    if (this.options.pidFile) await writePidFile(this.options.pidFile, process.pid);
    this.control.start();
  }

  async release(): Promise<void> {
    for (const h of this.listeners) h.close();
    this.listeners = [];
    await this.control?.close();
    if (this.options.pidFile) await removePidFile(this.options.pidFile, process.pid);
  }
}
